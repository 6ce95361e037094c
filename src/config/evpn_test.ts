/** The EVPN keys of the configuration: `mode`, `vnis[].routeTarget`, `vnis[].rd`. */
import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { type ConfigEnv, resolveConfig, resolveConfigOffline } from "./schema.ts";
import { toUserConfig } from "./render.ts";
import { planReload } from "./reload.ts";

const env: ConfigEnv = {
  interfaceAddresses: (name) => name === "eth0" ? ["192.0.2.10"] : undefined,
};

function refused(raw: unknown): ConfigError {
  try {
    resolveConfig(raw, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected the configuration to be refused");
}

function issue(error: ConfigError, path: string, fragment: string): void {
  assert.ok(
    error.issues.some((i) => i.path === path && i.message.includes(fragment)),
    `no issue at ${path} containing ${JSON.stringify(fragment)}; got:\n${error.message}`,
  );
}

Deno.test("mode: community by default, evpn, or both as a list", () => {
  const base = { communityAsn: 65000 };
  assert.deepEqual(resolveConfig(base, env).mode, { community: true, evpn: false });
  assert.deepEqual(resolveConfig({ ...base, mode: "evpn" }, env).mode, {
    community: false,
    evpn: true,
  });
  assert.deepEqual(resolveConfig({ ...base, mode: ["community", "evpn"] }, env).mode, {
    community: true,
    evpn: true,
  });
  assert.deepEqual(resolveConfig({ ...base, mode: ["evpn", "evpn"] }, env).mode, {
    community: false,
    evpn: true,
  });
});

Deno.test("mode: refuses unknown names, empty lists and other types with the key path", () => {
  issue(refused({ communityAsn: 1, mode: "bgp" }), "mode", `"bgp" is not one of community, evpn`);
  issue(refused({ communityAsn: 1, mode: ["evpn", "l3"] }), "mode[1]", `"l3" is not one of`);
  issue(refused({ communityAsn: 1, mode: [] }), "mode", "an empty list");
  issue(refused({ communityAsn: 1, mode: 3 }), "mode", "got number 3");
});

Deno.test("routeTarget: default <communityAsn>:<VNI> for VNIs up to 16777215", () => {
  const config = resolveConfig({
    mode: "evpn",
    communityAsn: 65000,
    vnis: [{ id: 10010 }, { id: 16_777_215, community: "65000:1" }],
  }, env);
  assert.deepEqual(config.vnis.map((v) => v.routeTargets), [
    [{ kind: "as2", asn: 65000, value: 10010 }],
    [{ kind: "as2", asn: 65000, value: 16_777_215 }],
  ]);
  assert.deepEqual(config.vnis.map((v) => v.rd), [undefined, undefined]);
  assert.deepEqual(config.warnings, []);
});

Deno.test("routeTarget: a string or a list of 2-octet, 4-octet and IPv4 forms; rd of all three types", () => {
  const config = resolveConfig({
    mode: ["community", "evpn"],
    communityAsn: 65000,
    vnis: [
      { id: 10, routeTarget: "65001:10", rd: "192.0.2.10:7" },
      { id: 11, routeTarget: ["4200000000:11", "192.0.2.1:11", "65002:11"], rd: "65000:11" },
      { id: 12, rd: "4200000000:12" },
    ],
  }, env);
  assert.deepEqual(config.vnis.map((v) => v.routeTargets), [
    [{ kind: "as2", asn: 65001, value: 10 }],
    [
      { kind: "as4", asn: 4_200_000_000, value: 11 },
      { kind: "ipv4", address: "192.0.2.1", value: 11 },
      { kind: "as2", asn: 65002, value: 11 },
    ],
    [{ kind: "as2", asn: 65000, value: 12 }],
  ]);
  assert.deepEqual(config.vnis.map((v) => v.rd), [
    { kind: "ipv4", admin: "192.0.2.10", assigned: 7 },
    { kind: "as2", admin: 65000, assigned: 11 },
    { kind: "as4", admin: 4_200_000_000, assigned: 12 },
  ]);
  // The rendered file reads back to the same configuration.
  assert.deepEqual(resolveConfig(toUserConfig(config), env), config);
});

Deno.test("routeTarget and rd: bad syntax is refused with the key path and the reason", () => {
  const error = refused({
    mode: "evpn",
    communityAsn: 65000,
    vnis: [
      { id: 1, routeTarget: "65000" },
      { id: 2, routeTarget: ["65000:2", "4200000000:70000"] },
      { id: 3, routeTarget: "192.0.2.1:65536" },
      { id: 4, routeTarget: [] },
      { id: 5, routeTarget: 7 },
      { id: 6, rd: "192.0.2.1" },
      { id: 7, rd: "300.0.0.1:1" },
      { id: 8, rd: "4200000000:65536" },
    ],
  });
  issue(error, "vnis[0].routeTarget", `"65000" is not a route target`);
  issue(error, "vnis[1].routeTarget[1]", `"4200000000:70000" is not a route target`);
  issue(error, "vnis[2].routeTarget", `"192.0.2.1:65536" is not a route target`);
  issue(error, "vnis[3].routeTarget", "an empty list");
  issue(error, "vnis[4].routeTarget", "got number 7");
  issue(error, "vnis[5].rd", `"192.0.2.1" is not a route distinguisher`);
  issue(error, "vnis[6].rd", `"300.0.0.1:1" is not a route distinguisher`);
  issue(error, "vnis[7].rd", `"4200000000:65536" is not a route distinguisher`);
});

Deno.test("rd: collisions are refused, explicit ones and defaults alike", () => {
  const error = refused({
    mode: "evpn",
    communityAsn: 65000,
    vnis: [
      { id: 10010 },
      { id: 75546, community: "65000:2" }, // 10010 + 65536: the same default number
      { id: 3, rd: "192.0.2.10:10010" }, // this node's address: meets the default of 10010
      { id: 4, rd: "65000:9" },
      { id: 5, rd: "65000:9" },
    ],
  });
  issue(
    error,
    "vnis[1].rd",
    `"<localAddress>:10010" (the default for this id) is already used by vnis[0]`,
  );
  issue(error, "vnis[2].rd", `"192.0.2.10:10010" is already used by vnis[0]`);
  issue(error, "vnis[4].rd", `"65000:9" is already used by vnis[3]`);
  assert.equal(error.issues.length, 3, error.message);
});

Deno.test("routeTarget: one route target serves one VNI; none derivable without communityAsn", () => {
  const error = refused({
    mode: "evpn",
    vnis: [
      { id: 1, community: "1:1", routeTarget: "65000:1" },
      { id: 2, community: "1:2", routeTarget: ["65000:2", "65000:1"] },
      { id: 3, community: "1:3" },
    ],
  });
  issue(error, "vnis[1].routeTarget", `route target "65000:1" is already used by vnis[0]`);
  issue(error, "vnis[2].routeTarget", "VNI 3 has no routeTarget and communityAsn is not set");
});

Deno.test("routeTarget and rd in community-only mode: accepted with a warning", () => {
  const config = resolveConfig({
    communityAsn: 65000,
    vnis: [{ id: 1, routeTarget: "65000:1", rd: "65000:1" }, { id: 2 }],
  }, env);
  assert.deepEqual(config.warnings.map((w) => w.path), ["vnis[0].routeTarget", "vnis[0].rd"]);
  assert.match(config.warnings[0]!.message, /mode is community only/);
  // Collisions matter only where the keys are used: not refused here.
  resolveConfig({
    vnis: [{ id: 1, community: "1:1", rd: "1:1" }, { id: 2, community: "1:2", rd: "1:1" }],
  }, env);
});

Deno.test("offline: explicit RDs are checked, this host's address is not assumed", () => {
  const config = resolveConfigOffline({
    mode: "evpn",
    communityAsn: 65000,
    vnis: [{ id: 10010 }, { id: 2, rd: "192.0.2.10:10010" }],
  });
  assert.equal(config.vnis.length, 2);
});

Deno.test("planReload(): mode needs a restart; a VNI's routeTarget and rd change live", () => {
  const a = resolveConfig({ mode: "evpn", communityAsn: 65000, vnis: [{ id: 1 }] }, env);
  const b = resolveConfig({
    mode: ["community", "evpn"],
    communityAsn: 65000,
    vnis: [{ id: 1, routeTarget: "65001:1", rd: "65000:1" }],
  }, env);
  const plan = planReload(a, b);
  assert.deepEqual(plan.refuse.map((c) => c.key), ["mode"]);
  assert.deepEqual(plan.apply.map((c) => [c.key, c.from, c.to]), [
    ["vnis[1].routeTarget", "65000:1", "65001:1"],
    ["vnis[1].rd", "(none)", "65000:1"],
  ]);
});
