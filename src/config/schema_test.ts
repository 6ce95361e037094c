import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import {
  type ConfigEnv,
  formatPath,
  parseDuration,
  parsePath,
  resolveConfig,
  resolveConfigOffline,
  UserConfigSchema,
} from "./schema.ts";
import type { ResolvedConfig } from "./types.ts";
import { makeCommunity } from "../net/community.ts";
import { type HostPort, parseHostPort } from "../net/host_port.ts";
import { type IpAddress, parseIp } from "../net/ip.ts";

/** Typed values for expected configurations. */
const ip = (text: string): IpAddress => parseIp(text)!;
const endpoint = (text: string): HostPort => (parseHostPort(text, "") as { value: HostPort }).value;

const fakeEnv: ConfigEnv = {
  interfaceAddresses: (name) =>
    ({
      eth0: ["192.0.2.10", "192.0.2.11"],
      eth1: [],
      dummy0: ["fe80::1", "198.51.100.7"],
      v6: ["192.0.2.20", "fe80::2%v6", "::1", "fec0::1", "2001:DB8::20", "2001:db8::21"],
      v6ll: ["fe80::3", "192.0.2.30"],
    } as Record<string, string[]>)[name],
};

function refused(raw: unknown, env: ConfigEnv = fakeEnv): ConfigError {
  try {
    resolveConfig(raw, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected the configuration to be refused");
}

function assertIssue(error: ConfigError, path: string, fragment: string): void {
  assert.ok(
    error.issues.some((issue) => issue.path === path && issue.message.includes(fragment)),
    `no issue at ${JSON.stringify(path)} containing ${
      JSON.stringify(fragment)
    }; got:\n${error.message}`,
  );
}

Deno.test("resolveConfig() fills every default", () => {
  const config = resolveConfig({ communityAsn: 65000 }, fakeEnv);
  const expected: ResolvedConfig = {
    mode: { community: true, evpn: false },
    logLevel: "info",
    logFormat: "text",
    advertiseSelf: true,
    communityAsn: 65000,
    communityFormat: "auto",
    gobgp: {
      address: endpoint("127.0.0.1:50051"),
      timeoutMs: 5000,
      reconnectMaxMs: 10000,
      restartHoldMs: 20000,
      withdrawDelayMs: 500,
      tls: undefined,
    },
    http: { listen: endpoint("127.0.0.1:9469") },
    resyncIntervalMs: 300000,
    node: {
      localInterface: "eth0",
      localAddress: ip("192.0.2.10"),
      addressFamily: "ipv4",
      routerId: "",
      vxlanPort: 4789,
      skipLinkCleanup: false,
      autoRecreateVxlan: false,
    },
    vnis: [],
    warnings: [],
  };
  assert.deepEqual(config, expected);
});

Deno.test("resolveConfig() reads null values as unset", () => {
  const config = resolveConfig({
    communityAsn: 1,
    logLevel: null,
    gobgp: null,
    node: { localAddress: null, vxlanPort: null },
    vnis: [{ id: 5, community: null, device: null }],
  }, fakeEnv);
  assert.equal(config.logLevel, "info");
  assert.equal(config.node.vxlanPort, 4789);
  assert.deepEqual(config.vnis, [
    {
      id: 5,
      community: makeCommunity(1, 5),
      device: "vxlan5",
      underlayInterface: undefined,
      routeTargets: [{ kind: "as2", asn: 1, value: 5 }],
      rd: undefined,
    },
  ]);
});

Deno.test("resolveConfig() keeps every value that is set", () => {
  const config = resolveConfig({
    logLevel: "debug",
    advertiseSelf: false,
    gobgp: { address: "[::1]:6000", timeout: "1m30s" },
    node: {
      localInterface: "eth1",
      localAddress: "192.0.2.9",
      vxlanPort: 8472,
      skipLinkCleanup: true,
      autoRecreateVxlan: true,
    },
    vnis: [{ id: 70000, community: " 65000:0070 ", device: "vx-a", underlayInterface: "bond0" }],
  }, fakeEnv);
  assert.deepEqual(config, {
    mode: { community: true, evpn: false },
    logLevel: "debug",
    logFormat: "text",
    advertiseSelf: false,
    communityAsn: undefined,
    communityFormat: "auto",
    gobgp: {
      address: "[::1]:6000",
      timeoutMs: 90_000,
      reconnectMaxMs: 10000,
      restartHoldMs: 20000,
      withdrawDelayMs: 500,
      tls: undefined,
    },
    http: { listen: "127.0.0.1:9469" },
    resyncIntervalMs: 300000,
    node: {
      localInterface: "eth1",
      localAddress: "192.0.2.9",
      addressFamily: "ipv4",
      routerId: "",
      vxlanPort: 8472,
      skipLinkCleanup: true,
      autoRecreateVxlan: true,
    },
    vnis: [{
      id: 70000,
      community: makeCommunity(65000, 70),
      device: "vx-a",
      underlayInterface: "bond0",
      routeTargets: [],
      rd: undefined,
    }],
    warnings: [],
  });
});

Deno.test("resolveConfig() derives community ASN:VNI and device vxlan<id> for static VNIs", () => {
  const config = resolveConfig(
    { communityAsn: 65000, vnis: [{ id: 10010 }, { id: 10011 }] },
    fakeEnv,
  );
  assert.deepEqual(config.vnis.map((v) => [v.id, v.community, v.device]), [
    [10010, makeCommunity(65000, 10010), "vxlan10010"],
    [10011, makeCommunity(65000, 10011), "vxlan10011"],
  ]);
});

Deno.test('resolveConfig() accepts "warn" as warning', () => {
  assert.equal(resolveConfig({ communityAsn: 1, logLevel: "warn" }, fakeEnv).logLevel, "warning");
  assertIssue(
    refused({ communityAsn: 1, logLevel: "verbose" }),
    "logLevel",
    '"verbose" is not one of',
  );
});

Deno.test("resolveConfig() refuses an empty document: vnis or communityAsn is needed", () => {
  for (const raw of [null, undefined, {}, { vnis: [] }, { vnis: null }]) {
    const error = refused(raw);
    assert.equal(error.issues.length, 1, error.message);
    assertIssue(error, "vnis", "no static VNIs and no communityAsn: one of them is needed");
  }
});

Deno.test("resolveConfig() refuses a document that is not a mapping", () => {
  const error = refused("hello");
  assertIssue(error, "", 'expected a mapping of settings, got string "hello"');
  assert.equal(error.message, '(root): expected a mapping of settings, got string "hello"');
  assertIssue(refused([1, 2]), "", "got a list");
});

Deno.test("resolveConfig() refuses unknown keys and suggests the closest known one", () => {
  const error = refused({
    communityAsn: 1,
    comunityAsn: 2,
    node: { vxlanport: 4789 },
    gobgp: { adress: "x:1" },
    vnis: [{ id: 1, Device: "v1" }],
    vxlanPort: 1,
    zzz: true,
  });
  assertIssue(error, "comunityAsn", 'unknown key; did you mean "communityAsn"?');
  assertIssue(error, "node.vxlanport", 'unknown key; did you mean "vxlanPort"?');
  assertIssue(error, "gobgp.adress", 'did you mean "address"?');
  assertIssue(error, "vnis[0].Device", 'did you mean "device"?');
  assertIssue(error, "vxlanPort", 'did you mean "node.vxlanPort"?');
  assertIssue(
    error,
    "zzz",
    "unknown key; expected one of: logLevel, logFormat, resyncInterval, http, advertiseSelf",
  );
  assert.match(error.message, /^node\.vxlanport: unknown key; did you mean "vxlanPort"\?$/m);
});

Deno.test("resolveConfig() explains wrong types", () => {
  const error = refused({
    communityAsn: "abc",
    advertiseSelf: "yes",
    gobgp: { timeout: 5 },
    node: 5,
    vnis: [{ id: 1.5 }, 7, {}],
  });
  assertIssue(error, "communityAsn", 'expected an integer, got string "abc"');
  assertIssue(error, "advertiseSelf", 'expected a boolean (true or false), got string "yes"');
  assertIssue(error, "gobgp.timeout", "got number 5");
  assertIssue(error, "node", "expected a mapping, got number 5");
  assertIssue(error, "vnis[0].id", "expected an integer, got number 1.5");
  assertIssue(error, "vnis[1]", "got number 7");
  assertIssue(error, "vnis[2].id", "required: expected an integer");
  assertIssue(refused({ vnis: { id: 1 } }), "vnis", "expected a list of VNIs, got a mapping");
});

Deno.test("resolveConfig() refuses VNIs outside 1..16777215", () => {
  const error = refused({
    communityAsn: 1,
    vnis: [{ id: 0 }, { id: 16777216 }, { id: 16777215, community: "1:1" }],
  });
  assertIssue(error, "vnis[0].id", "VNI 0 is outside 1..16777215");
  assertIssue(error, "vnis[1].id", "VNI 16777216 is outside 1..16777215");
  assert.ok(!error.issues.some((i) => i.path.startsWith("vnis[2]")), error.message);
});

Deno.test("resolveConfig() refuses communities that are neither ASN:VALUE nor A:B:C", () => {
  const error = refused({
    vnis: [
      { id: 1, community: "65000:1" },
      { id: 2, community: "65000:70000" },
      { id: 3, community: "65000" },
      { id: 4, community: "a:b" },
      { id: 5, community: 65000 },
      { id: 6, community: "4294967296:0:6" },
      { id: 7, community: "1:2:3:4" },
    ],
  });
  assert.match(
    error.message,
    /^vnis\[1\]\.community: "65000:70000" is neither ASN:VALUE \(both parts 0\.\.65535\) nor a large community A:B:C \(each part 0\.\.4294967295\)$/m,
  );
  assertIssue(error, "vnis[2].community", '"65000" is neither ASN:VALUE');
  assertIssue(error, "vnis[3].community", '"a:b" is neither ASN:VALUE');
  assertIssue(error, "vnis[4].community", "got number 65000");
  assertIssue(error, "vnis[5].community", '"4294967296:0:6" is neither');
  assertIssue(error, "vnis[6].community", '"1:2:3:4" is neither');
  assert.equal(error.issues.length, 6, error.message);
  assertIssue(
    refused({ communityAsn: 4294967296 }),
    "communityAsn",
    "ASN 4294967296 is outside 0..4294967295",
  );
});

Deno.test("resolveConfig() accepts large communities A:B:C for VNIs", () => {
  const config = resolveConfig({
    vnis: [
      { id: 16777215, community: "4200000000:0:16777215" },
      { id: 10010, community: "65000:1:010010" },
      { id: 10011, community: "65000:10011" },
    ],
  }, fakeEnv);
  assert.deepEqual(config.vnis.map((v) => v.community), [
    "4200000000:0:16777215",
    "65000:1:10010",
    makeCommunity(65000, 10011),
  ]);
  // A large and a standard community with the same numbers are different communities.
  const both = resolveConfig({
    vnis: [{ id: 1, community: "65000:1" }, { id: 2, community: "65000:0:1" }],
  }, fakeEnv);
  assert.equal(both.vnis.length, 2);
  assertIssue(
    refused({ vnis: [{ id: 1, community: "1:0:1" }, { id: 2, community: "01:0:01" }] }),
    "vnis[1].community",
    'community "1:0:1" is already used by vnis[0]',
  );
});
Deno.test("resolveConfig() reports a repeated id once, not its derived community and device", () => {
  const error = refused({ communityAsn: 1, vnis: [{ id: 7 }, { id: 7 }] });
  assert.deepEqual(error.issues, [
    { path: "vnis[1].id", message: "VNI 7 is already configured by vnis[0]" },
  ]);
});

Deno.test("resolveConfig() refuses duplicate VNI ids, communities and devices", () => {
  const error = refused({
    communityAsn: 65000,
    vnis: [
      { id: 10, community: "65000:20" },
      { id: 10, community: "65000:30", device: "other" },
      { id: 20 },
      { id: 40, device: "vxlan10" },
      { id: 50, community: "65000:030" },
    ],
  });
  assertIssue(error, "vnis[1].id", "VNI 10 is already configured by vnis[0]");
  assertIssue(error, "vnis[2].community", 'community "65000:20" (derived from communityAsn)');
  assertIssue(error, "vnis[2].community", "is already used by vnis[0]");
  assertIssue(error, "vnis[3].device", 'device "vxlan10" is already used by vnis[0]');
  assertIssue(error, "vnis[4].community", 'community "65000:30" is already used by vnis[1]');
  assert.equal(error.issues.length, 4, error.message);
});

Deno.test("resolveConfig() derives ASN:0:VNI above 65535, and for every VNI with communityFormat large", () => {
  const auto = resolveConfig(
    { communityAsn: 65000, vnis: [{ id: 70000 }, { id: 65535 }] },
    fakeEnv,
  );
  assert.equal(auto.communityFormat, "auto");
  assert.deepEqual(auto.vnis.map((v) => v.community), [
    "65000:0:70000",
    makeCommunity(65000, 65535),
  ]);
  const large = resolveConfig({
    communityAsn: 4200000000,
    communityFormat: "large",
    vnis: [{ id: 70000 }, { id: 10010 }, { id: 10011, community: "65000:10011" }],
  }, fakeEnv);
  assert.deepEqual(large.vnis.map((v) => v.community), [
    "4200000000:0:70000",
    "4200000000:0:10010",
    makeCommunity(65000, 10011),
  ]);
  assertIssue(
    refused({ communityAsn: 65000, communityFormat: "big" }),
    "communityFormat",
    '"big" is not one of auto, large',
  );
  const error = refused({ communityAsn: 4200000000, vnis: [{ id: 1 }] });
  assertIssue(error, "communityAsn", "ASN 4200000000 is above 65535");
  assertIssue(error, "communityAsn", "set communityFormat: large");
  assert.equal(error.issues.length, 1, error.message);
});

Deno.test("resolveConfig() refuses a VNI with neither community nor communityAsn", () => {
  const error = refused({ vnis: [{ id: 10 }, { id: 11, community: "1:11" }] });
  assert.equal(error.issues.length, 1, error.message);
  assertIssue(error, "vnis[0].community", "VNI 10 has no community and communityAsn is not set");
});

Deno.test("resolveConfig() refuses bad durations", () => {
  const timeoutOf = (timeout: string) =>
    resolveConfig({ communityAsn: 1, gobgp: { timeout } }, fakeEnv).gobgp.timeoutMs;
  assert.equal(timeoutOf("500ms"), 500);
  assert.equal(timeoutOf("1.5h"), 5_400_000);
  const cases: [string, string][] = [
    ["5x", '"5x" is not a duration such as "5s", "500ms" or "1m30s"'],
    ["5", '"5" is not a duration'],
    ["", '"" is not a duration'],
    ["0s", '"0s" must be greater than 0'],
    ["-1s", '"-1s" must be greater than 0'],
    ["25h", '"25h" is longer than 24h'],
  ];
  for (const [timeout, fragment] of cases) {
    assertIssue(refused({ communityAsn: 1, gobgp: { timeout } }), "gobgp.timeout", fragment);
  }
});

Deno.test("resolveConfig() refuses ports outside 1..65535", () => {
  const error = refused({ communityAsn: 1, node: { vxlanPort: 0 }, gobgp: { address: "h:65536" } });
  assertIssue(error, "node.vxlanPort", "port 0 is outside 1..65535");
  assertIssue(error, "gobgp.address", 'port 65536 in "h:65536" is outside 1..65535');
  assertIssue(refused({ communityAsn: 1, node: { vxlanPort: 65536 } }), "node.vxlanPort", "65536");
  const addressIssue = (address: string) =>
    refused({ communityAsn: 1, gobgp: { address } }).issues[0]?.message ?? "";
  assert.match(addressIssue("localhost"), /is not host:port/);
  assert.match(addressIssue("::1:50051"), /IPv6 host in brackets/);
  assert.match(addressIssue(":50051"), /has no host/);
  assert.match(addressIssue("h:http"), /port "http" in "h:http" is not a number/);
});

Deno.test("resolveConfig() refuses invalid interface names", () => {
  const error = refused({
    communityAsn: 1,
    node: { localInterface: "eth 0" },
    vnis: [
      { id: 1, device: "averyveryverylongname" },
      { id: 2, device: "vx:2" },
      { id: 3, underlayInterface: "" },
    ],
  });
  assertIssue(error, "node.localInterface", "contains whitespace");
  assertIssue(error, "vnis[0].device", "is not a valid Linux interface name: is 21 bytes long");
  assertIssue(error, "vnis[1].device", 'contains ":"');
  assertIssue(error, "vnis[2].underlayInterface", "is empty");
});

Deno.test("resolveConfig() refuses a localAddress that is no IP address or cannot be a VTEP", () => {
  for (const localAddress of ["192.0.2.256", "192.0.2.01", "eth0", "2001:db8::g", "fe80::1%eth0"]) {
    const error = refused({ communityAsn: 1, node: { localAddress } });
    assertIssue(error, "node.localAddress", "is not an IPv4 or IPv6 address");
    assert.equal(error.issues.length, 1, error.message);
  }
  for (
    const [localAddress, why] of [
      ["fe80::1", "link-local"],
      ["::1", "loopback"],
      ["::ffff:192.0.2.1", "IPv4-mapped"],
      ["ff02::1", "multicast"],
      ["127.0.0.1", "loopback"],
      ["0.0.0.0", "unspecified"],
    ]
  ) {
    assertIssue(
      refused({ communityAsn: 1, node: { localAddress } }),
      "node.localAddress",
      `cannot be a VTEP: ${why}`,
    );
  }
});

Deno.test("resolveConfig() takes the address family from node.addressFamily or localAddress", () => {
  const node = (n: Record<string, unknown>) =>
    resolveConfig({ communityAsn: 1, node: n }, fakeEnv).node;
  const pick = (n: Record<string, unknown>) => {
    const { localAddress, addressFamily } = node(n);
    return [localAddress, addressFamily];
  };
  assert.deepEqual(pick({ localAddress: "2001:DB8::11" }), ["2001:db8::11", "ipv6"]);
  assert.deepEqual(pick({ localAddress: "2001:db8::11", addressFamily: "ipv6" }), [
    "2001:db8::11",
    "ipv6",
  ]);
  assert.deepEqual(pick({ localAddress: "192.0.2.1" }), ["192.0.2.1", "ipv4"]);
  // From the interface: the first global IPv6 address (link-local, loopback,
  // site-local skipped; zone ids dropped), in canonical text.
  assert.deepEqual(pick({ localInterface: "v6", addressFamily: "ipv6" }), ["2001:db8::20", "ipv6"]);
  assert.deepEqual(pick({ localInterface: "v6" }), ["192.0.2.20", "ipv4"]);
  assertIssue(
    refused({ communityAsn: 1, node: { localInterface: "v6ll", addressFamily: "ipv6" } }),
    "node.localInterface",
    'interface "v6ll" has no global IPv6 address for the VTEP',
  );
  assertIssue(
    refused({ communityAsn: 1, node: { localInterface: "nope", addressFamily: "ipv6" } }),
    "node.localInterface",
    "does not exist, so it has no IPv6 address",
  );
});

Deno.test("resolveConfig() refuses a localAddress of the other family than node.addressFamily", () => {
  const error = refused({
    communityAsn: 1,
    node: { localAddress: "2001:db8::11", addressFamily: "ipv4" },
  });
  assertIssue(
    error,
    "node.localAddress",
    '"2001:db8::11" is an IPv6 address, but node.addressFamily is ipv4',
  );
  assert.equal(error.issues.length, 1, error.message);
  assertIssue(
    refused({ communityAsn: 1, node: { localAddress: "192.0.2.1", addressFamily: "ipv6" } }),
    "node.localAddress",
    "is an IPv4 address, but node.addressFamily is ipv6: set an IPv6 address, or node.addressFamily: ipv4",
  );
  assertIssue(
    refused({ communityAsn: 1, node: { addressFamily: "inet6" } }),
    "node.addressFamily",
    '"inet6" is not one of ipv4, ipv6',
  );
});

Deno.test("resolveConfig() takes the VTEP address from node.localInterface when localAddress is empty", () => {
  const asked: string[] = [];
  const env: ConfigEnv = {
    interfaceAddresses: (name) => (asked.push(name), fakeEnv.interfaceAddresses(name)),
  };
  const addressOf = (node: Record<string, unknown>) =>
    resolveConfig({ communityAsn: 1, node }, env).node.localAddress;
  assert.equal(addressOf({}), "192.0.2.10");
  assert.equal(addressOf({ localAddress: "" }), "192.0.2.10");
  assert.equal(addressOf({ localInterface: "dummy0" }), "198.51.100.7");
  assert.deepEqual(asked, ["eth0", "eth0", "dummy0"]);
  assert.equal(addressOf({ localAddress: "192.0.2.1", localInterface: "nope" }), "192.0.2.1");
  assert.equal(asked.length, 3, "an explicit localAddress needs no lookup");
});

Deno.test("resolveConfig() refuses a localInterface that is missing or has no IPv4 address", () => {
  assertIssue(
    refused({ communityAsn: 1, node: { localInterface: "eth9" } }),
    "node.localInterface",
    'interface "eth9" does not exist',
  );
  assertIssue(
    refused({ communityAsn: 1, node: { localInterface: "eth1" } }),
    "node.localInterface",
    'interface "eth1" has no IPv4 address',
  );
  assertIssue(
    refused({ communityAsn: 1 }, { interfaceAddresses: () => undefined }),
    "node.localInterface",
    'interface "eth0" (the default) does not exist',
  );
  const throwing: ConfigEnv = {
    interfaceAddresses: () => {
      throw new Error("no --allow-sys");
    },
  };
  assertIssue(refused({ communityAsn: 1 }, throwing), "node.localInterface", "no --allow-sys");
});

Deno.test("resolveConfig() collects every issue, including cross-key ones next to bad values", () => {
  const error = refused({
    logLevel: "loud",
    gobgp: { timeout: "soon" },
    node: { vxlanPort: 99999, localInterface: "eth9" },
    vnis: [{ id: 1, community: "1:1" }, { id: 1, community: "1:1" }, { id: 0 }],
  });
  assert.deepEqual(
    error.issues.map((i) => i.path).sort(),
    [
      "gobgp.timeout",
      "logLevel",
      "node.localInterface",
      "node.vxlanPort",
      "vnis[1].community",
      "vnis[1].id",
      "vnis[2].id",
    ].sort(),
  );
  assert.equal(error.message.split("\n").length, error.issues.length);
  assert.equal(error.name, "ConfigError");
});

Deno.test("UserConfigSchema accepts the documented keys and refuses others", () => {
  assert.ok(UserConfigSchema.safeParse({ communityAsn: 1, vnis: [{ id: 1 }] }).success);
  assert.ok(!UserConfigSchema.safeParse({ extra: 1 }).success);
});

Deno.test("parseDuration() reads Go durations in milliseconds", () => {
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("1h2m3s4ms"), 3_723_004);
  assert.equal(parseDuration("1500us"), 1.5);
  assert.equal(parseDuration("2µs"), 0.002);
  assert.equal(parseDuration(".5s"), 500);
  assert.equal(parseDuration("-2s"), -2000);
  assert.equal(parseDuration("0"), 0);
  for (const bad of ["", "5", "s", "5 s", "1d", "1.2.3s", "-", "5s "]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

Deno.test("resolveConfig() reads logFormat, http.listen, resyncInterval and reconnectMaxDelay", () => {
  const config = resolveConfig({
    communityAsn: 1,
    logFormat: "json",
    http: { listen: "" },
    resyncInterval: "0",
    gobgp: { reconnectMaxDelay: "2s" },
  }, fakeEnv);
  assert.equal(config.logFormat, "json");
  assert.equal(config.http.listen, "", "an empty listen address disables the endpoint");
  assert.equal(config.resyncIntervalMs, 0);
  assert.equal(config.gobgp.reconnectMaxMs, 2000);
});

Deno.test("resolveConfig() refuses bad logFormat, http.listen and resyncInterval", () => {
  try {
    resolveConfig({
      communityAsn: 1,
      logFormat: "xml",
      http: { listen: "9469", prot: 1 },
      resyncInterval: "10ms",
    }, fakeEnv);
    assert.fail("expected a ConfigError");
  } catch (e) {
    const text = (e as Error).message;
    assert.match(text, /^logFormat: "xml" is not one of text, json$/m);
    assert.match(text, /^http\.listen: "9469" is not host:port/m);
    assert.match(text, /^http\.prot: unknown key/m);
    assert.match(text, /^resyncInterval: "10ms" is shorter than 1s/m);
  }
});

Deno.test("resolveConfigOffline() reads no interface and leaves the VTEP address to the host", () => {
  const config = resolveConfigOffline({ communityAsn: 1, node: { localInterface: "eth9" } });
  assert.equal(config.node.localAddress, "");
  assert.equal(config.node.localInterface, "eth9");
  const written = resolveConfigOffline({ communityAsn: 1, node: { localAddress: "192.0.2.1" } });
  assert.equal(written.node.localAddress, "192.0.2.1");
  // Everything that does not depend on this host is still checked.
  assertIssue(
    (() => {
      try {
        resolveConfigOffline({ communityAsn: 1, node: { localInterface: "eth 0" } });
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error;
      }
      assert.fail("expected a ConfigError");
    })(),
    "node.localInterface",
    "contains whitespace",
  );
});

Deno.test("parsePath() reads back what formatPath() writes", () => {
  const paths: PropertyKey[][] = [
    [],
    ["vnis"],
    ["vnis", 1, "community"],
    ["node", "a b"],
    ["node", 'q"uote'],
    ["gobgp", "address"],
    [0],
    ["x-y", 12, "z"],
  ];
  for (const path of paths) assert.deepEqual(parsePath(formatPath(path)), path);
  assert.equal(parsePath("(file)"), undefined);
  assert.equal(parsePath("agent.yaml:3:1"), undefined);
  assert.equal(parsePath("vnis[x]"), undefined);
});

Deno.test("resolveConfig() reads gobgp.withdrawDelay and refuses bad ones", () => {
  const delay = (withdrawDelay: string) =>
    resolveConfig({ communityAsn: 1, gobgp: { withdrawDelay } }, fakeEnv).gobgp.withdrawDelayMs;
  assert.equal(delay("0"), 0);
  assert.equal(delay("2s"), 2000);
  assertIssue(
    refused({ communityAsn: 1, gobgp: { withdrawDelay: "11s" } }),
    "gobgp.withdrawDelay",
    "longer than 10s",
  );
  assertIssue(
    refused({ communityAsn: 1, gobgp: { withdrawDelay: "-1s" } }),
    "gobgp.withdrawDelay",
    "is negative",
  );
});

Deno.test("resolveConfig() needs node.routerId for EVPN with an IPv6 VTEP, and uses it in RDs", () => {
  const v6 = { localAddress: "2001:db8::11" };
  assertIssue(
    refused({ communityAsn: 65000, mode: "evpn", node: v6 }),
    "node.routerId",
    "required in mode evpn with an IPv6 VTEP",
  );
  assertIssue(
    refused({ communityAsn: 65000, mode: "evpn", node: { ...v6, routerId: "2001:db8::1" } }),
    "node.routerId",
    "is not an IPv4 address",
  );
  const ok = resolveConfig(
    { communityAsn: 65000, mode: "evpn", node: { ...v6, routerId: "192.0.2.11" } },
    fakeEnv,
  );
  assert.equal(ok.node.routerId, "192.0.2.11");
  // Community mode needs no router id.
  assert.equal(resolveConfig({ communityAsn: 1, node: v6 }, fakeEnv).node.routerId, "");
});
