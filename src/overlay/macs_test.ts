import assert from "node:assert/strict";
import fc from "fast-check";
import type { IpAddress } from "../net/ip.ts";
import { type RouteTarget, routeTargetKey } from "../net/route_target.ts";
import type { Skip } from "./admit.ts";
import { type MacIpRoute, singleHomedEsi } from "./evpn_route.ts";
import { DeviceAddresses } from "./local_macs.ts";
import { better, type MacPath, MacTable } from "./mac_table.ts";
import { hostIpProblem, RemoteMacs, unicastMacProblem } from "./remote_macs.ts";

const RT = (vni: number): RouteTarget => ({ kind: "as2", asn: 65000, value: vni });
const LOCAL = "192.0.2.11" as IpAddress;

function route(
  mac: string,
  nextHop: string,
  opts: { ip?: string; seq?: number; rt?: number; withdraw?: boolean; rd?: string } = {},
): MacIpRoute {
  const rd = opts.rd ?? nextHop;
  return {
    type: 2,
    key: `2:${rd}:1:0:${mac}:${opts.ip ?? ""}`,
    rd: { kind: "ipv4", admin: rd as IpAddress, assigned: 1 },
    ethernetTag: 0,
    esi: singleHomedEsi(),
    mac,
    ip: opts.ip as IpAddress | undefined,
    labels: [opts.rt ?? 10010],
    routeTargets: [RT(opts.rt ?? 10010)],
    encapsulations: [8],
    nextHop,
    neighbor: nextHop,
    withdraw: opts.withdraw ?? false,
    mobility: opts.seq === undefined ? undefined : { sequence: opts.seq, sticky: false },
  };
}

function remote(vnis: number[] = [10010]) {
  const dirty: number[] = [];
  const skips: Skip[] = [];
  const keys = new Map(vnis.map((v) => [routeTargetKey(RT(v)), v]));
  const macs = new RemoteMacs({
    targets: {
      keepsRouteTarget: (rt) => keys.has(routeTargetKey(rt)),
      vniOf: (key) => keys.get(key),
      importsOf: (vni) => vnis.includes(vni) ? [routeTargetKey(RT(vni))] : undefined,
    },
    localAddress: LOCAL,
    onDirty: (vni) => dirty.push(vni),
    skipped: (skip) => skips.push(skip),
  });
  return { macs, dirty, skips };
}

const sorted = (set: ReadonlySet<string>) => [...set].sort();

Deno.test("RemoteMacs: a MAC-only and a MAC+IP route make one unicast entry and one neighbour", () => {
  const { macs, dirty } = remote();
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12"), true);
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { ip: "198.51.100.2" }), true);
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { ip: "fe80::aa:1" }), true);
  const view = macs.view(10010);
  assert.deepEqual(sorted(view.unicast), ["02:aa:00:00:00:01 192.0.2.12"]);
  assert.deepEqual(sorted(view.neighbours), [
    "198.51.100.2 02:aa:00:00:00:01",
    "fe80::aa:1 02:aa:00:00:00:01",
  ]);
  assert.deepEqual(dirty, [10010, 10010, 10010]);
  // Withdrawing the MAC+IP route leaves the MAC (the MAC-only route still brings it).
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { ip: "198.51.100.2", withdraw: true }), true);
  assert.deepEqual(sorted(macs.view(10010).neighbours), ["fe80::aa:1 02:aa:00:00:00:01"]);
  assert.deepEqual(sorted(macs.view(10010).unicast), ["02:aa:00:00:00:01 192.0.2.12"]);
});

Deno.test("RemoteMacs: the highest MAC mobility sequence wins a move, then the lowest VTEP", () => {
  const { macs } = remote();
  macs.take(route("02:aa:00:00:00:01", "192.0.2.13", { seq: 0 }), true);
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { seq: 0 }), true);
  // A tie: the lower VTEP address (numerically) wins.
  assert.deepEqual(sorted(macs.view(10010).unicast), ["02:aa:00:00:00:01 192.0.2.12"]);
  // The MAC moves to .13 with a higher sequence number.
  macs.take(route("02:aa:00:00:00:01", "192.0.2.13", { seq: 1 }), true);
  assert.deepEqual(sorted(macs.view(10010).unicast), ["02:aa:00:00:00:01 192.0.2.13"]);
  // The old VTEP's stale route goes: nothing changes.
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { withdraw: true }), true);
  assert.deepEqual(sorted(macs.view(10010).unicast), ["02:aa:00:00:00:01 192.0.2.13"]);
  // 192.0.2.9 < 192.0.2.12 numerically although not as text.
  macs.take(route("02:aa:00:00:00:02", "192.0.2.12"), true);
  macs.take(route("02:aa:00:00:00:02", "192.0.2.9"), true);
  assert.ok(macs.view(10010).unicast.has("02:aa:00:00:00:02 192.0.2.9"));
});

Deno.test("RemoteMacs skips hostile next hops, own routes, non-unicast MACs and IPs, unknown RTs", () => {
  const { macs, skips, dirty } = remote();
  macs.take(route("02:aa:00:00:00:01", "127.0.0.1"), true);
  macs.take(route("02:aa:00:00:00:01", "224.0.0.1"), true);
  macs.take(route("02:aa:00:00:00:01", ""), true);
  macs.take(route("02:aa:00:00:00:01", LOCAL), true);
  macs.take(route("00:00:00:00:00:00", "192.0.2.12"), true);
  macs.take(route("01:00:5e:00:00:01", "192.0.2.12"), true);
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { ip: "224.0.0.5" }), true);
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { ip: "::1" }), true);
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { rt: 99 }), true);
  assert.deepEqual(skips.map((s) => s.reason), [
    "not_a_vtep",
    "not_a_vtep",
    "not_a_vtep",
    "own_address",
    "not_unicast",
    "not_unicast",
    "not_unicast",
    "not_unicast",
    "unknown_vni",
  ]);
  assert.equal(macs.table.size, 0);
  assert.deepEqual(dirty, []);
  assert.equal(macs.view(10010).unicast.size, 0);
});

Deno.test("RemoteMacs: a re-sent route that turned bad is dropped; clear() forgets everything", () => {
  const { macs } = remote();
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12"), true);
  macs.take({ ...route("02:aa:00:00:00:01", "192.0.2.12"), nextHop: "127.0.0.1" }, true);
  assert.equal(macs.view(10010).unicast.size, 0);
  macs.take(route("02:aa:00:00:00:03", "192.0.2.12"), false);
  assert.equal(macs.view(10010).unicast.size, 1);
  macs.clear();
  assert.equal(macs.view(10010).unicast.size, 0);
});

Deno.test("RemoteMacs keeps VNIs apart by route target", () => {
  const { macs, dirty } = remote([10010, 10011]);
  macs.take(route("02:aa:00:00:00:01", "192.0.2.12", { rt: 10011 }), true);
  assert.equal(macs.view(10010).unicast.size, 0);
  assert.deepEqual(sorted(macs.view(10011).unicast), ["02:aa:00:00:00:01 192.0.2.12"]);
  assert.deepEqual(dirty, [10011]);
  assert.equal(macs.view(4242).unicast.size, 0);
});

Deno.test("MacTable.view() picks per MAC and per IP the path no other beats (property)", () => {
  const path = fc.record({
    vtep: fc.integer({ min: 1, max: 20 }).map((i) => `192.0.2.${i}`),
    mac: fc.integer({ min: 1, max: 4 }).map((i) => `02:aa:00:00:00:0${i}`),
    ip: fc.option(fc.integer({ min: 1, max: 4 }).map((i) => `198.51.100.${i}`), {
      nil: undefined,
    }),
    sequence: fc.integer({ min: 0, max: 3 }),
  });
  fc.assert(
    fc.property(fc.array(path, { maxLength: 30 }), (paths) => {
      const table = new MacTable();
      paths.forEach((p, i) => table.set(`k${i}`, p, ["rt"]));
      const view = table.view(["rt"]);
      const winners = (group: MacPath[]) => group.filter((p) => !group.some((q) => better(q, p)));
      const macs = new Set(paths.map((p) => p.mac));
      assert.equal(view.unicast.size, macs.size);
      for (const mac of macs) {
        const w = winners(paths.filter((p) => p.mac === mac));
        assert.ok(w.some((p) => view.unicast.has(`${mac} ${p.vtep}`)));
      }
      const ips = new Set(paths.flatMap((p) => p.ip === undefined ? [] : [p.ip]));
      assert.equal(view.neighbours.size, ips.size);
      for (const ip of ips) {
        const w = winners(paths.filter((p) => p.ip === ip));
        assert.ok(w.some((p) => view.neighbours.has(`${ip} ${p.mac}`)));
      }
    }),
  );
});

Deno.test("unicastMacProblem() and hostIpProblem() accept hosts, link-local IPv6 included", () => {
  assert.equal(unicastMacProblem("02:aa:00:00:00:01"), undefined);
  assert.match(unicastMacProblem("ff:ff:ff:ff:ff:ff") ?? "", /broadcast/);
  assert.equal(hostIpProblem("198.51.100.2"), undefined);
  assert.equal(hostIpProblem("fe80::1"), undefined);
  assert.equal(hostIpProblem("2001:db8::1"), undefined);
  assert.match(hostIpProblem("ff02::1") ?? "", /multicast/);
  assert.match(hostIpProblem("::") ?? "", /unspecified/);
  assert.match(hostIpProblem("0.1.2.3") ?? "", /0\.0\.0\.0\/8/);
});

Deno.test("DeviceAddresses: own routes are MAC-only then one per address; changes are reported", () => {
  const dev = new DeviceAddresses();
  assert.deepEqual(dev.ownRoutes(7), []);
  assert.equal(dev.setMac(7, "02:aa:00:00:00:07"), true);
  assert.equal(dev.setMac(7, "02:aa:00:00:00:07"), false);
  assert.equal(dev.setMac(7, undefined), false);
  assert.equal(dev.setAddress(7, "198.51.100.1" as IpAddress, true), true);
  assert.equal(dev.setAddress(7, "198.51.100.1" as IpAddress, true), false);
  assert.deepEqual(
    dev.replaceAddresses(new Map([[7, ["198.51.100.1", "fe80::7"] as IpAddress[]]])),
    [
      7,
    ],
  );
  assert.deepEqual(dev.ownRoutes(7), [
    { mac: "02:aa:00:00:00:07", ip: undefined },
    { mac: "02:aa:00:00:00:07", ip: "198.51.100.1" },
    { mac: "02:aa:00:00:00:07", ip: "fe80::7" },
  ]);
  assert.equal(dev.setAddress(7, "fe80::7" as IpAddress, false), true);
  dev.forget(7);
  assert.deepEqual(dev.ownRoutes(7), []);
});
