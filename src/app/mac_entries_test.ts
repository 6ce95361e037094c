import assert from "node:assert/strict";
import type { IpAddress } from "../net/ip.ts";
import type { NeighEntry, UnicastEntry } from "../netlink/types.ts";
import { Reconciler } from "../reconcile/reconciler.ts";
import { MacEntries } from "./mac_entries.ts";
import type { NeighbourPort, UnicastFdbPort } from "./ports.ts";

const T = { vni: 10010, ifindex: 7, device: "vxlan10010" };

/** A kernel with one device: FDB by MAC, neighbours by IP, each with its mark. */
class FakeKernel implements UnicastFdbPort, NeighbourPort {
  fdb = new Map<string, UnicastEntry>();
  neigh = new Map<string, NeighEntry>();
  writes: string[] = [];
  listUnicast(): UnicastEntry[] {
    return [...this.fdb.values()];
  }
  replaceUnicast(_i: number, mac: string, dst: string): void {
    this.writes.push(`fdb replace ${mac} ${dst}`);
    this.fdb.set(mac, { mac, dst: dst as IpAddress, ours: true });
  }
  delUnicast(_i: number, mac: string, dst: string): void {
    this.writes.push(`fdb del ${mac} ${dst}`);
    if (this.fdb.get(mac)?.dst === dst) this.fdb.delete(mac);
  }
  list(): NeighEntry[] {
    return [...this.neigh.values()];
  }
  replace(_i: number, ip: string, mac: string): void {
    this.writes.push(`neigh replace ${ip} ${mac}`);
    this.neigh.set(ip, { ip: ip as IpAddress, mac, ours: true });
  }
  delete(_i: number, ip: string): void {
    this.writes.push(`neigh del ${ip}`);
    this.neigh.delete(ip);
  }
}

function setup(desired: { unicast: Set<string>; neigh: Set<string> }) {
  const kernel = new FakeKernel();
  const entries = new MacEntries();
  const schedule = () => () => {};
  const unicast = new Reconciler({
    port: entries.unicastPort(kernel),
    desired: () => entries.unicastFor(T.ifindex, desired.unicast),
    schedule,
  });
  const neigh = new Reconciler({
    port: entries.neighbourPort(kernel),
    desired: () => entries.neighboursFor(T.ifindex, desired.neigh),
    schedule,
  });
  return { kernel, entries, unicast, neigh };
}

Deno.test("MacEntries: a MAC move is one replace; the old key's delete changes nothing", () => {
  const desired = { unicast: new Set(["02:aa:00:00:00:01 192.0.2.12"]), neigh: new Set<string>() };
  const { kernel, unicast } = setup(desired);
  unicast.attach(T);
  unicast.activate();
  unicast.flush();
  desired.unicast = new Set(["02:aa:00:00:00:01 192.0.2.13"]);
  unicast.markDirty(T.vni);
  unicast.flush();
  assert.deepEqual(kernel.writes, [
    "fdb replace 02:aa:00:00:00:01 192.0.2.12",
    "fdb replace 02:aa:00:00:00:01 192.0.2.13",
    "fdb del 02:aa:00:00:00:01 192.0.2.12",
  ]);
  assert.deepEqual([...kernel.fdb.values()], [
    { mac: "02:aa:00:00:00:01", dst: "192.0.2.13", ours: true },
  ]);
});

Deno.test("MacEntries: a neighbour whose MAC changes is replaced in place, never deleted", () => {
  const desired = {
    unicast: new Set<string>(),
    neigh: new Set(["198.51.100.2 02:aa:00:00:00:01"]),
  };
  const { kernel, neigh } = setup(desired);
  neigh.attach(T);
  neigh.activate();
  neigh.flush();
  desired.neigh = new Set(["198.51.100.2 02:aa:00:00:00:02"]);
  neigh.markDirty(T.vni);
  neigh.flush();
  assert.deepEqual(kernel.writes, [
    "neigh replace 198.51.100.2 02:aa:00:00:00:01",
    "neigh replace 198.51.100.2 02:aa:00:00:00:02",
  ]);
  assert.equal(kernel.neigh.get("198.51.100.2")?.mac, "02:aa:00:00:00:02");
});

Deno.test("MacEntries: user entries are never listed as ours, replaced or deleted", () => {
  const desired = {
    unicast: new Set(["02:aa:00:00:00:09 192.0.2.12", "02:aa:00:00:00:01 192.0.2.12"]),
    neigh: new Set(["198.51.100.9 02:aa:00:00:00:01"]),
  };
  const { kernel, unicast, neigh } = setup(desired);
  kernel.fdb.set("02:aa:00:00:00:09", {
    mac: "02:aa:00:00:00:09",
    dst: "192.0.2.99" as IpAddress,
    ours: false,
  });
  kernel.neigh.set("198.51.100.9", {
    ip: "198.51.100.9" as IpAddress,
    mac: "02:bb:00:00:00:09",
    ours: false,
  });
  for (const r of [unicast, neigh]) {
    r.attach(T);
    r.activate();
    r.flush();
  }
  assert.deepEqual(kernel.writes, ["fdb replace 02:aa:00:00:00:01 192.0.2.12"]);
  assert.deepEqual(unicast.programmed(T.vni), ["02:aa:00:00:00:01 192.0.2.12"]);
  assert.deepEqual(neigh.programmed(T.vni), []);
});

Deno.test("MacEntries: notifications repair a hand-deleted entry and notice a user take-over", () => {
  const desired = {
    unicast: new Set(["02:aa:00:00:00:01 192.0.2.12"]),
    neigh: new Set(["198.51.100.2 02:aa:00:00:00:01"]),
  };
  const { kernel, entries, unicast, neigh } = setup(desired);
  for (const r of [unicast, neigh]) {
    r.attach(T);
    r.activate();
    r.flush();
  }
  kernel.writes = [];
  const observeU = (i: number, k: string, p: boolean) => unicast.observe(i, k, p);
  const observeN = (i: number, k: string, p: boolean) => neigh.observe(i, k, p);
  // Deleted by hand: the notification says so, the next flush puts it back.
  kernel.fdb.delete("02:aa:00:00:00:01");
  entries.onFdb({
    type: "del",
    ifindex: 7,
    mac: "02:aa:00:00:00:01",
    dst: "192.0.2.12" as IpAddress,
    ours: true,
  }, observeU);
  unicast.flush();
  assert.deepEqual(kernel.writes, ["fdb replace 02:aa:00:00:00:01 192.0.2.12"]);
  // The kernel flushed the neighbour (a MAC change of the device): put back.
  kernel.neigh.clear();
  entries.onNeigh({
    type: "del",
    ifindex: 7,
    ip: "198.51.100.2" as IpAddress,
    mac: "02:aa:00:00:00:01",
    permanent: true,
    ours: true,
  }, observeN);
  neigh.flush();
  assert.deepEqual(kernel.writes.at(-1), "neigh replace 198.51.100.2 02:aa:00:00:00:01");
  // A user replaces our FDB entry without the mark: it is theirs, we leave it.
  kernel.writes = [];
  kernel.fdb.set("02:aa:00:00:00:01", {
    mac: "02:aa:00:00:00:01",
    dst: "192.0.2.50" as IpAddress,
    ours: false,
  });
  const changed = entries.onFdb({
    type: "new",
    ifindex: 7,
    mac: "02:aa:00:00:00:01",
    dst: "192.0.2.50" as IpAddress,
    ours: false,
  }, observeU);
  assert.equal(changed, true);
  unicast.markDirty(T.vni);
  unicast.flush();
  assert.deepEqual(kernel.writes, []);
  assert.equal(kernel.fdb.get("02:aa:00:00:00:01")?.dst, "192.0.2.50");
  // The user's entry goes: ours comes back.
  kernel.fdb.delete("02:aa:00:00:00:01");
  assert.equal(
    entries.onFdb({
      type: "del",
      ifindex: 7,
      mac: "02:aa:00:00:00:01",
      dst: "192.0.2.50" as IpAddress,
      ours: false,
    }, observeU),
    true,
  );
  unicast.markDirty(T.vni);
  unicast.flush();
  assert.deepEqual(kernel.writes, ["fdb replace 02:aa:00:00:00:01 192.0.2.12"]);
});
