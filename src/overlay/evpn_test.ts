/** EVPN in the overlay: the Type 3 table, route targets in the registry, the union of sources. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { makeCommunity } from "../net/community.ts";
import { type IpAddress, parseIp } from "../net/ip.ts";
import type { RouteTarget } from "../net/route_target.ts";
import { DesiredState, type MacIpSink } from "./desired.ts";
import type { ImetRoute, MacIpRoute } from "./evpn_route.ts";
import { ImetTable } from "./imet_table.ts";
import type { DecodedPath, SkipReason } from "./route.ts";
import { VniRegistry } from "./vnis.ts";

const ip = (t: string) => parseIp(t)!;
const C = (v: number) => makeCommunity(65000, v);
const RT = (v: number, asn = 65000): RouteTarget => ({ kind: "as2", asn, value: v });
const LOCAL = ip("192.0.2.11");

function imet(vtep: string, rts: RouteTarget[], extra: Partial<ImetRoute> = {}): DecodedPath {
  const route: ImetRoute = {
    type: 3,
    key: `3:${vtep}:1:0:${vtep}`,
    rd: { kind: "ipv4", admin: ip(vtep), assigned: 1 },
    ethernetTag: 0,
    originator: vtep,
    routeTargets: rts,
    encapsulations: [8],
    nextHop: vtep,
    neighbor: "192.0.2.1",
    withdraw: false,
    pmsi: { flags: 0, type: 6, label: 10010, id: ip(vtep) },
    ...extra,
  };
  return { ok: true, evpn: route };
}

function community(vtep: string, communities: number[], withdraw = false): DecodedPath {
  return { ok: true, route: { vtep: ip(vtep), communities, withdraw } };
}

function setup(routes = { community: true, evpn: true }, macIp?: MacIpSink) {
  const dirty: number[] = [];
  const skipped: [SkipReason, string][] = [];
  const desired = new DesiredState({
    mode: {
      kind: "static",
      vnis: [
        {
          id: 10010,
          community: C(10010),
          device: "vxlan10010",
          underlayInterface: undefined,
          routeTargets: [RT(10010), RT(10010, 65001)],
        },
        {
          id: 10011,
          community: C(10011),
          device: "vxlan10011",
          underlayInterface: undefined,
          routeTargets: [RT(10011)],
        },
      ],
    },
    localAddress: LOCAL,
    onDirty: (vni) => dirty.push(vni),
    routes,
    ...(macIp ? { macIp } : {}),
    observer: { skipped: (reason, detail) => skipped.push([reason, detail]) },
  });
  desired.vnis.observeLink({ ifindex: 5, name: "vxlan10010", kind: "vxlan", vni: 10010 });
  desired.vnis.observeLink({ ifindex: 6, name: "vxlan10011", kind: "vxlan", vni: 10011 });
  return { desired, dirty, skipped };
}

Deno.test("ImetTable counts routes per VTEP: the VTEP stays until its last route goes", () => {
  const t = new ImetTable();
  assert.deepEqual(t.set("a", "192.0.2.12", ["rt1"]), ["rt1"]);
  assert.deepEqual(t.set("b", "192.0.2.12", ["rt1", "rt2"]), ["rt2"]);
  assert.deepEqual(t.delete("a"), []);
  assert.deepEqual([...t.vteps("rt1")], ["192.0.2.12"]);
  // The same key moved to another VTEP.
  assert.deepEqual(t.set("b", "192.0.2.13", ["rt1"]).sort(), ["rt1", "rt2"]);
  assert.deepEqual([...t.vteps("rt1")], ["192.0.2.13"]);
  assert.deepEqual(t.delete("b"), ["rt1"]);
  assert.equal(t.size, 0);
});

Deno.test("ImetTable index equals a recomputation from scratch (property)", () => {
  const op = fc.tuple(
    fc.integer({ min: 0, max: 5 }),
    fc.integer({ min: 1, max: 4 }),
    fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 50 }), (ops) => {
      const t = new ImetTable();
      const model = new Map<string, { vtep: string; rts: string[] }>();
      for (const [k, v, rts] of ops) {
        const key = `k${k}`;
        const vtep = `192.0.2.${v}`;
        const names = rts.map((r) => `rt${r}`);
        t.set(key, vtep, names);
        if (names.length) model.set(key, { vtep, rts: names });
        else model.delete(key);
      }
      for (let r = 0; r <= 3; r++) {
        const expected = [
          ...new Set(
            [...model.values()].filter((m) => m.rts.includes(`rt${r}`)).map((m) => m.vtep),
          ),
        ].sort();
        assert.deepEqual([...t.vteps(`rt${r}`)].sort(), expected);
      }
      assert.equal(t.size, model.size);
    }),
    { seed: 4, numRuns: 300 },
  );
});

Deno.test("VniRegistry maps route targets to VNIs; discovery keeps <asn>:<n> only", () => {
  const reg = new VniRegistry({ kind: "discover", asn: 65000, format: "auto" }, "192.0.2.11");
  reg.observeLink({ ifindex: 3, name: "vxlan10010", kind: "vxlan", vni: 10010 });
  const vni = reg.byId(10010)!;
  assert.deepEqual(vni.routeTargets, [RT(10010)]);
  assert.deepEqual(vni.rd, { kind: "ipv4", admin: "192.0.2.11", assigned: 10010 });
  assert.equal(reg.byRouteTarget("65000:10010")?.id, 10010);
  assert.ok(reg.keepsRouteTarget(RT(20000)));
  assert.ok(!reg.keepsRouteTarget(RT(20000, 65001)));
  assert.ok(!reg.keepsRouteTarget({ kind: "as4", asn: 65000, value: 1 }));
});

Deno.test("a Type 3 route's originating IP joins the flood list of the VNI of its route target", () => {
  const { desired, dirty } = setup();
  desired.replace([imet("192.0.2.12", [RT(10010)]), imet("192.0.2.13", [RT(10011)])]);
  assert.deepEqual([...desired.desired(10010)], ["192.0.2.12"]);
  assert.deepEqual([...desired.desired(10011)], ["192.0.2.13"]);
  // Any of a VNI's route targets imports (an FRR peer in another AS).
  desired.apply([{ ...imet("192.0.2.14", [RT(10010, 65001)]) }]);
  assert.deepEqual([...desired.desired(10010)].sort(), ["192.0.2.12", "192.0.2.14"]);
  assert.deepEqual(dirty, [10010]);
  // Withdrawal by the NLRI alone.
  desired.apply([imet("192.0.2.14", [], { withdraw: true, pmsi: undefined })]);
  assert.deepEqual([...desired.desired(10010)], ["192.0.2.12"]);
});

Deno.test("Type 3 skips: no ingress replication, hostile originator, unknown RT, own address", () => {
  const { desired, skipped } = setup();
  desired.replace([
    imet("192.0.2.12", [RT(10010)], { pmsi: undefined }),
    imet("192.0.2.13", [RT(10010)], { pmsi: { flags: 0, type: 3, label: 1, id: undefined } }),
    imet("127.0.0.1", [RT(10010)]),
    imet("224.0.0.5", [RT(10010)]),
    imet("192.0.2.15", [RT(4242)]),
    imet("192.0.2.11", [RT(10010)]),
  ]);
  assert.deepEqual(skipped.map(([r]) => r), [
    "no_ingress_replication",
    "no_ingress_replication",
    "not_a_vtep",
    "not_a_vtep",
    "unknown_vni",
    "own_address",
  ]);
  assert.equal(desired.desired(10010).size, 0);
});

Deno.test("a Type 3 route of the other address family is skipped, kept apart and named", () => {
  const { desired, skipped } = setup();
  desired.replace([imet("2001:db8::12", [RT(10010)]), imet("192.0.2.12", [RT(10010)])]);
  assert.deepEqual([...desired.desired(10010)], ["192.0.2.12"]);
  assert.deepEqual([...desired.mismatched(10010)], ["2001:db8::12"]);
  assert.deepEqual(skipped.map(([r]) => r), ["family_mismatch"]);
  assert.match(skipped[0]![1], /2001:db8::12 is an IPv6 VTEP, but this node's VTEP 192\.0\.2\.11/);
  // Its withdrawal takes it out of the view too.
  desired.apply([imet("2001:db8::12", [], { withdraw: true, pmsi: undefined })]);
  assert.equal(desired.mismatched(10010).size, 0);
});

Deno.test("a Type 3 re-sent without PMSI removes what the same route brought", () => {
  const { desired } = setup();
  desired.replace([imet("192.0.2.12", [RT(10010)])]);
  desired.apply([imet("192.0.2.12", [RT(10010)], { pmsi: undefined })]);
  assert.equal(desired.desired(10010).size, 0);
});

Deno.test("mixed mode: the flood list is the union; one source's withdrawal does not remove a VTEP", () => {
  const { desired, dirty } = setup();
  desired.replace([community("192.0.2.12", [C(10010)]), imet("192.0.2.12", [RT(10010)])]);
  assert.deepEqual(
    [...desired.sources(10010)],
    [["192.0.2.12", ["community", "evpn-type3"]]],
  );
  desired.apply([community("192.0.2.12", [], true)]);
  assert.deepEqual([...desired.desired(10010)], ["192.0.2.12"], "still brought by Type 3");
  desired.apply([imet("192.0.2.12", [], { withdraw: true })]);
  assert.equal(desired.desired(10010).size, 0);
  assert.deepEqual(dirty, [10010, 10010]);
});

Deno.test("each mode reads only its own route kind", () => {
  const evpnOnly = setup({ community: false, evpn: true });
  evpnOnly.desired.replace([community("192.0.2.12", [C(10010)]), imet("192.0.2.13", [RT(10010)])]);
  assert.deepEqual([...evpnOnly.desired.desired(10010)], ["192.0.2.13"]);
  assert.deepEqual(evpnOnly.skipped.map(([r]) => r), ["family"]);
  const communityOnly = setup({ community: true, evpn: false });
  communityOnly.desired.replace([
    community("192.0.2.12", [C(10010)]),
    imet("192.0.2.13", [RT(10010)]),
  ]);
  assert.deepEqual([...communityOnly.desired.desired(10010)], ["192.0.2.12"]);
  assert.deepEqual(communityOnly.skipped.map(([r]) => r), ["family"]);
});

Deno.test("Type 2 routes go to the MacIpSink when there is one; otherwise counted and skipped", () => {
  const macIp: MacIpRoute = {
    type: 2,
    key: "2:192.0.2.12:1:0:52:54:00:00:00:01:",
    rd: { kind: "ipv4", admin: ip("192.0.2.12") as IpAddress, assigned: 1 },
    ethernetTag: 0,
    esi: { type: 0, value: new Uint8Array(9) },
    mac: "52:54:00:00:00:01",
    ip: undefined,
    labels: [10010],
    routeTargets: [RT(10010)],
    encapsulations: [8],
    nextHop: "192.0.2.12",
    neighbor: "192.0.2.12",
    withdraw: false,
    mobility: undefined,
  };
  const none = setup();
  none.desired.replace([{ ok: true, evpn: macIp }]);
  assert.deepEqual(none.skipped.map(([r]) => r), ["route_type"]);
  const taken: [string, boolean][] = [];
  let cleared = 0;
  const sink = setup({ community: true, evpn: true }, {
    clear: () => cleared++,
    take: (route, later) => taken.push([route.mac, later]),
  });
  sink.desired.replace([{ ok: true, evpn: macIp }]);
  sink.desired.apply([{ ok: true, evpn: { ...macIp, withdraw: true } }]);
  assert.equal(cleared, 1);
  assert.deepEqual(taken, [["52:54:00:00:00:01", false], ["52:54:00:00:00:01", true]]);
  assert.deepEqual(sink.skipped, []);
});

Deno.test("default RDs take node.routerId as administrator (an IPv6 VTEP cannot be one)", () => {
  const reg = new VniRegistry(
    { kind: "discover", asn: 65000, format: "auto" },
    "2001:db8::11",
    "192.0.2.11",
  );
  reg.observeLink({ ifindex: 7, name: "vxlan10010", kind: "vxlan", vni: 10010 });
  assert.deepEqual(reg.byId(10010)?.rd, { kind: "ipv4", admin: "192.0.2.11", assigned: 10010 });
  const v4 = new VniRegistry({ kind: "discover", asn: 65000, format: "auto" }, "192.0.2.12");
  v4.observeLink({ ifindex: 7, name: "vxlan10010", kind: "vxlan", vni: 10010 });
  assert.equal(v4.byId(10010)?.rd?.kind === "ipv4" && v4.byId(10010)?.rd?.admin, "192.0.2.12");
});
