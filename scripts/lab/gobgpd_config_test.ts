import assert from "node:assert/strict";
import { renderGobgpdConfig } from "./gobgpd_config.ts";

const HUB = {
  role: "hub",
  asn: 65000,
  routerId: "192.0.2.10",
  dynamicPrefix: "192.0.2.0/24",
} as const;
const SPOKE = { role: "spoke", asn: 65000, routerId: "192.0.2.11", hub: "192.0.2.10" } as const;

function hasGobgpd(): boolean {
  try {
    return new Deno.Command("gobgpd", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** `gobgpd --dry-run -l debug` prints the parsed config as Go syntax. */
async function dryRun(toml: string): Promise<{ success: boolean; text: string }> {
  const file = await Deno.makeTempFile({ suffix: ".toml" });
  try {
    await Deno.writeTextFile(file, toml);
    const out = await new Deno.Command("gobgpd", { args: ["-d", "-l", "debug", "-f", file] })
      .output();
    const dec = new TextDecoder();
    return { success: out.success, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("renderGobgpdConfig() renders a route-reflector hub with dynamic neighbours", () => {
  assert.equal(
    renderGobgpdConfig(HUB),
    `# Rendered by scripts/lab/gobgpd_config.ts
[global.config]
  as = 65000
  router-id = "192.0.2.10"

[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "spokes"
    peer-as = 65000
  [peer-groups.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "192.0.2.10"
  [[peer-groups.afi-safis]]
    [peer-groups.afi-safis.config]
      afi-safi-name = "ipv4-unicast"

[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "192.0.2.0/24"
    peer-group = "spokes"
`,
  );
});

Deno.test("renderGobgpdConfig() renders a spoke with one static neighbour, the hub", () => {
  assert.equal(
    renderGobgpdConfig(SPOKE),
    `# Rendered by scripts/lab/gobgpd_config.ts
[global.config]
  as = 65000
  router-id = "192.0.2.11"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.10"
    peer-as = 65000
  [neighbors.timers.config]
    connect-retry = 5
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
  );
});

Deno.test("renderGobgpdConfig() gives a spoke of redundant hubs one neighbour per hub", () => {
  const toml = renderGobgpdConfig({ ...SPOKE, hub: ["192.0.2.2", "192.0.2.3"] });
  assert.equal(toml.match(/\[\[neighbors\]\]/g)?.length, 2);
  assert.match(toml, /neighbor-address = "192\.0\.2\.2"[^]*neighbor-address = "192\.0\.2\.3"/);
  assert.throws(() => renderGobgpdConfig({ ...SPOKE, hub: [] }), RangeError);
  assert.throws(() => renderGobgpdConfig({ ...SPOKE, hub: ["192.0.2.2", "x"] }), TypeError);
});

Deno.test("renderGobgpdConfig() honours peerGroup, clusterId and families", () => {
  const toml = renderGobgpdConfig({
    ...HUB,
    peerGroup: "rr-clients",
    clusterId: "192.0.2.1",
    families: ["ipv4-unicast", "l2vpn-evpn"],
  });
  assert.match(toml, /peer-group-name = "rr-clients"/);
  assert.match(toml, /peer-group = "rr-clients"/);
  assert.match(toml, /route-reflector-cluster-id = "192\.0\.2\.1"/);
  assert.equal(toml.match(/afi-safi-name = /g)?.length, 2);
  assert.match(toml, /afi-safi-name = "l2vpn-evpn"/);
});

Deno.test("renderGobgpdConfig() refuses malformed input with the key and value", () => {
  assert.throws(() => renderGobgpdConfig({ ...SPOKE, hub: "192.0.2.300" }), {
    name: "TypeError",
    message: /hub "192\.0\.2\.300" is not an IP address/,
  });
  assert.throws(() => renderGobgpdConfig({ ...HUB, dynamicPrefix: "2001:db8::/129" }), {
    name: "TypeError",
    message: /dynamicPrefix "2001:db8::\/129" is not an IP prefix/,
  });
  assert.throws(() => renderGobgpdConfig({ ...HUB, dynamicPrefix: "192.0.2.0/33" }), {
    name: "TypeError",
    message: /dynamicPrefix "192\.0\.2\.0\/33"/,
  });
  assert.throws(() => renderGobgpdConfig({ ...HUB, routerId: "hub" }), TypeError);
  assert.throws(() => renderGobgpdConfig({ ...HUB, peerGroup: 'a"b' }), TypeError);
  assert.throws(() => renderGobgpdConfig({ ...HUB, asn: 0 }), RangeError);
  assert.throws(() => renderGobgpdConfig({ ...HUB, asn: 2 ** 32 }), RangeError);
  assert.throws(() => renderGobgpdConfig({ ...SPOKE, connectRetry: 0 }), RangeError);
  assert.throws(() => renderGobgpdConfig({ ...SPOKE, families: [] }), RangeError);
  assert.throws(
    () => renderGobgpdConfig({ ...SPOKE, gracefulRestart: { restartTime: 4096 } }),
    RangeError,
  );
});

Deno.test("renderGobgpdConfig() renders graceful restart on the session and each family", () => {
  const gr = { gracefulRestart: { restartTime: 90 } };
  const spoke = renderGobgpdConfig({ ...SPOKE, ...gr, families: ["ipv4-unicast", "l2vpn-evpn"] });
  assert.ok(
    spoke.includes(`  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 90
    notification-enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
`),
    spoke,
  );
  assert.equal(spoke.match(/mp-graceful-restart/g)?.length, 2);
  const hub = renderGobgpdConfig({ ...HUB, ...gr });
  assert.match(hub, /\[peer-groups\.graceful-restart\.config\]\n {4}enabled = true/);
  assert.match(hub, /\[peer-groups\.afi-safis\.mp-graceful-restart\.config\]/);
  assert.doesNotMatch(renderGobgpdConfig(HUB), /graceful/);
});

Deno.test({
  name: "renderGobgpdConfig() output is parsed by gobgpd with every key recognised",
  ignore: !hasGobgpd(),
  async fn() {
    // gobgpd silently ignores unknown keys, so a successful dry run is not
    // enough: check that the parsed config carries the values we set.
    const hub = await dryRun(renderGobgpdConfig(HUB));
    assert.ok(hub.success, hub.text);
    assert.match(
      hub.text,
      /RouteReflectorConfig\{RouteReflectorClusterId:"192\.0\.2\.10", RouteReflectorClient:true\}/,
    );
    assert.match(hub.text, /PeerGroupConfig\{PeerAs:0xfde8,.*PeerGroupName:"spokes"\}/);
    assert.match(
      hub.text,
      /DynamicNeighborConfig\{Prefix:"192\.0\.2\.0\/24", PeerGroup:"spokes"\}/,
    );

    const spoke = await dryRun(renderGobgpdConfig(SPOKE));
    assert.ok(spoke.success, spoke.text);
    assert.match(spoke.text, /NeighborAddress:"192\.0\.2\.10"/);
    assert.match(spoke.text, /TimersConfig\{ConnectRetry:5,/);
    assert.match(spoke.text, /As:\s+0xfde8,\s+RouterId:\s+"192\.0\.2\.11"/);

    // An IPv6 underlay: sessions over IPv6, ipv6-unicast on both ends.
    const families = ["ipv6-unicast"] as const;
    const hub6 = await dryRun(
      renderGobgpdConfig({ ...HUB, dynamicPrefix: "2001:db8::/64", families: [...families] }),
    );
    assert.ok(hub6.success, hub6.text);
    assert.match(hub6.text, /DynamicNeighborConfig\{Prefix:"2001:db8::\/64", PeerGroup:"spokes"\}/);
    assert.match(hub6.text, /AfiSafiName:"ipv6-unicast"/);
    const spoke6 = await dryRun(
      renderGobgpdConfig({ ...SPOKE, hub: "2001:db8::10", families: [...families] }),
    );
    assert.ok(spoke6.success, spoke6.text);
    assert.match(spoke6.text, /NeighborAddress:"2001:db8::10"/);
    assert.match(spoke6.text, /AfiSafiName:"ipv6-unicast"/);

    const gr = { gracefulRestart: { restartTime: 90 } };
    for (const options of [{ ...HUB, ...gr }, { ...SPOKE, ...gr }]) {
      const parsed = await dryRun(renderGobgpdConfig(options));
      assert.ok(parsed.success, parsed.text);
      assert.match(
        parsed.text,
        /GracefulRestartConfig\{Enabled:true, RestartTime:0x5a, .*NotificationEnabled:true/,
      );
      assert.match(parsed.text, /MpGracefulRestartConfig\{Enabled:true\}/);
    }
    const two = await dryRun(renderGobgpdConfig({ ...SPOKE, hub: ["192.0.2.2", "192.0.2.3"] }));
    assert.ok(two.success, two.text);
    assert.match(two.text, /NeighborAddress:"192\.0\.2\.2"[^]*NeighborAddress:"192\.0\.2\.3"/);
  },
});
