import assert from "node:assert/strict";
import fc from "fast-check";
import { type Community, makeCommunity, makeLargeCommunity } from "../net/community.ts";
import type { IpAddress } from "../net/ip.ts";
import { DesiredState } from "./desired.ts";
import { parseIp } from "../net/ip.ts";
import { RouteTable } from "./route_table.ts";
import { VniRegistry } from "./vnis.ts";
import type { Device } from "./vnis.ts";

const C = (v: number) => makeCommunity(65000, v);

Deno.test("RouteTable.set() indexes VTEPs by community and reports what changed", () => {
  const table = new RouteTable(() => true);
  assert.deepEqual(table.set("192.0.2.12", [C(10010), C(10011)]), [C(10010), C(10011)]);
  assert.deepEqual([...table.vteps(C(10010))], ["192.0.2.12"]);
  // Last word wins: the VTEP left 10011.
  assert.deepEqual(table.set("192.0.2.12", [C(10010)]), [C(10011)]);
  assert.equal(table.vteps(C(10011)).size, 0);
  assert.deepEqual(table.set("192.0.2.12", [C(10010)]), []);
  assert.deepEqual(table.delete("192.0.2.12"), [C(10010)]);
  assert.equal(table.size, 0);
});

Deno.test("RouteTable stores only communities that keep() accepts", () => {
  const table = new RouteTable((c) => c === C(10010));
  table.set("192.0.2.12", [C(10010), C(99)]);
  table.set("192.0.2.13", [C(99)]);
  assert.deepEqual(table.communitiesOf("192.0.2.12"), [C(10010)]);
  assert.equal(table.size, 1);
});

Deno.test("RouteTable index equals a recomputation from scratch (property)", () => {
  const vtep = fc.integer({ min: 1, max: 8 }).map((i) => `192.0.2.${i}`);
  const op = fc.tuple(vtep, fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const table = new RouteTable((c) => c !== 5);
      const model = new Map<string, number[]>();
      for (const [v, cs] of ops) {
        table.set(v, cs);
        const kept = cs.filter((c) => c !== 5);
        if (kept.length) model.set(v, kept);
        else model.delete(v);
      }
      for (let c = 0; c <= 5; c++) {
        const expected = [...model].filter(([, cs]) => cs.includes(c)).map(([v]) => v).sort();
        assert.deepEqual([...table.vteps(c)].sort(), expected);
      }
    }),
    { seed: 3, numRuns: 300 },
  );
});

function vxlan(ifindex: number, name: string, vni: number): Device {
  return { ifindex, name, kind: "vxlan", vni };
}

Deno.test("VniRegistry (discovery) brings a vxlan device online with community ASN:VNI", () => {
  const reg = new VniRegistry({ kind: "discover", asn: 65000, format: "auto" });
  const out = reg.observeLink(vxlan(7, "vxlan10010", 10010));
  assert.deepEqual(out.online.map((v) => [v.id, v.device, v.ifindex]), [[10010, "vxlan10010", 7]]);
  assert.equal(reg.byCommunity(C(10010))?.id, 10010);
  assert.ok(reg.keeps(C(12345)), "other ASN:x communities may become VNIs later");
  assert.ok(!reg.keeps(makeCommunity(65001, 10010)));
  const gone = reg.removeLink(7);
  assert.deepEqual(gone.offline.map((v) => v.id), [10010]);
  assert.deepEqual(reg.online(), []);
});

Deno.test("VniRegistry (discovery) gives a VNI above 65535 the large community ASN:0:VNI", () => {
  const reg = new VniRegistry({ kind: "discover", asn: 65000, format: "auto" });
  const out = reg.observeLink(vxlan(9, "vxbig", 70000));
  assert.deepEqual(out.warnings, []);
  assert.deepEqual(out.online.map((v) => [v.id, v.community]), [[70000, "65000:0:70000"]]);
  assert.equal(reg.byCommunity(makeLargeCommunity(65000, 0, 70000))?.id, 70000);
  assert.ok(reg.keeps(makeLargeCommunity(65000, 0, 16777215)), "a later VNI above 65535");
  assert.ok(!reg.keeps(makeLargeCommunity(65000, 0, 10010)), "auto: 10010 is 65000:10010");
  assert.ok(!reg.keeps(makeLargeCommunity(65000, 1, 70000)));
  reg.observeLink(vxlan(10, "vxlan10010", 10010));
  assert.equal(reg.byId(10010)?.community, makeCommunity(65000, 10010));

  const large = new VniRegistry({ kind: "discover", asn: 65000, format: "large" });
  large.observeLink(vxlan(10, "vxlan10010", 10010));
  assert.equal(large.byId(10010)?.community, "65000:0:10010");
  assert.ok(large.keeps(makeLargeCommunity(65000, 0, 10011)));
  assert.ok(!large.keeps(makeCommunity(65000, 10011)), "large: standard ones are not VNIs");
});

Deno.test("DesiredState maps a route's large communities to their VNIs", () => {
  const dirty: number[] = [];
  const state = new DesiredState({
    mode: { kind: "discover", asn: 65000, format: "auto" },
    localAddress: "192.0.2.11" as IpAddress,
    onDirty: (vni) => dirty.push(vni),
  });
  state.vnis.observeLink(vxlan(9, "vxlan70000", 70000));
  state.vnis.observeLink(vxlan(10, "vxlan10010", 10010));
  const route = (vtep: string, communities: Community[]) => ({
    ok: true as const,
    route: { vtep: vtep as IpAddress, communities, withdraw: false },
  });
  state.replace([]);
  state.apply([
    route("192.0.2.12", [makeLargeCommunity(65000, 0, 70000), makeCommunity(65000, 10010)]),
    route("192.0.2.13", [makeLargeCommunity(65000, 0, 10010)]), // another scheme: no match
  ]);
  assert.deepEqual([...state.desired(70000)], ["192.0.2.12"]);
  assert.deepEqual([...state.desired(10010)], ["192.0.2.12"]);
  assert.deepEqual(dirty.sort(), [10010, 70000]);
});

Deno.test("VniRegistry ignores non-vxlan links in discovery mode", () => {
  const reg = new VniRegistry({ kind: "discover", asn: 65000, format: "auto" });
  const out = reg.observeLink({ ifindex: 2, name: "eth0", kind: "veth" });
  assert.deepEqual(out, { online: [], offline: [], warnings: [] });
});

Deno.test("VniRegistry (static) reports a device of the wrong kind or VNI and leaves it offline", () => {
  const reg = new VniRegistry({
    kind: "static",
    vnis: [{
      id: 10010,
      community: C(10010),
      device: "vxlan10010",
      underlayInterface: undefined,
    }],
  });
  const wrongKind = reg.observeLink({ ifindex: 3, name: "vxlan10010", kind: "veth" });
  assert.match(wrongKind.warnings[0]!, /not vxlan/);
  const wrongVni = reg.observeLink(vxlan(4, "vxlan10010", 10011));
  assert.match(wrongVni.warnings[0]!, /carries VNI 10011 but the config says 10010/);
  assert.equal(reg.online().length, 0);
  const ok = reg.observeLink(vxlan(5, "vxlan10010", 10010));
  assert.deepEqual(ok.online.map((v) => v.ifindex), [5]);
  assert.ok(!reg.keeps(C(10011)), "static mode keeps only configured communities");
});

Deno.test("VniRegistry takes a VNI offline when its device is renamed away", () => {
  const reg = new VniRegistry({
    kind: "static",
    vnis: [{
      id: 10010,
      community: C(10010),
      device: "vxlan10010",
      underlayInterface: undefined,
    }],
  });
  reg.observeLink(vxlan(5, "vxlan10010", 10010));
  const out = reg.observeLink(vxlan(5, "other", 10010));
  assert.deepEqual(out.offline.map((v) => v.id), [10010]);
});

Deno.test("VniRegistry warns when a device's local address is not the node's VTEP address", () => {
  const reg = new VniRegistry({ kind: "discover", asn: 65000, format: "auto" }, "192.0.2.12");
  const ok = reg.observeLink({ ...vxlan(7, "vxlan10010", 10010), local: parseIp("192.0.2.12")! });
  assert.deepEqual(ok.warnings, []);
  const odd = reg.observeLink({ ...vxlan(8, "vxlan10011", 10011), local: parseIp("192.0.2.112")! });
  assert.equal(odd.online.length, 1, "still served");
  assert.match(
    odd.warnings[0]!,
    /local address 192\.0\.2\.112, but this node advertises 192\.0\.2\.12/,
  );
});

const spec = (id: number, community = C(id), device = `vxlan${id}`) => ({
  id,
  community,
  device,
  underlayInterface: undefined,
});

Deno.test("VniRegistry.reconfigure() keeps staying VNIs, drops removed ones, adds new ones", () => {
  const reg = new VniRegistry({ kind: "static", vnis: [spec(10010), spec(10020)] });
  reg.observeLink(vxlan(5, "vxlan10010", 10010));
  reg.observeLink(vxlan(6, "vxlan10020", 10020));
  const staying = reg.byId(10010);
  const out = reg.reconfigure([spec(10010), spec(10030)]);
  assert.deepEqual(out.removed.map((v) => [v.id, v.ifindex]), [[10020, 6]]);
  assert.deepEqual(out.added.map((v) => v.id), [10030]);
  assert.deepEqual(out.recommunitied, []);
  assert.equal(reg.byId(10010), staying, "the same entry, still online");
  assert.equal(staying?.ifindex, 5);
  assert.equal(reg.byId(10020), undefined);
  assert.ok(!reg.keeps(C(10020)) && reg.keeps(C(10030)));
  assert.equal(out.removed[0]!.configured, false, "a removed VNI is not re-created");
  // The removed VNI's device is none of our business any more.
  assert.deepEqual(reg.observeLink(vxlan(6, "vxlan10020", 10020)).online, []);
});

Deno.test("VniRegistry.reconfigure() changes a community in place and re-creates on a new device", () => {
  const reg = new VniRegistry({ kind: "static", vnis: [spec(10010), spec(10020)] });
  reg.observeLink(vxlan(5, "vxlan10010", 10010));
  reg.observeLink(vxlan(6, "vxlan10020", 10020));
  const out = reg.reconfigure([spec(10010, C(7)), spec(10020, C(10020), "vx-b")]);
  assert.deepEqual(out.recommunitied.map((v) => [v.id, v.ifindex]), [[10010, 5]]);
  assert.equal(reg.byCommunity(C(7))?.id, 10010);
  assert.equal(reg.byCommunity(C(10010)), undefined);
  assert.deepEqual(out.removed.map((v) => v.device), ["vxlan10020"]);
  assert.deepEqual(out.added.map((v) => [v.device, v.ifindex]), [["vx-b", undefined]]);
});

Deno.test("VniRegistry.reconfigure() refuses discovery mode", () => {
  const reg = new VniRegistry({ kind: "discover", asn: 65000, format: "auto" });
  assert.throws(() => reg.reconfigure([spec(1)]), TypeError);
});
