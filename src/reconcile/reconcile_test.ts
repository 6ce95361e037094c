import assert from "node:assert/strict";
import fc from "fast-check";
import { diff } from "./diff.ts";
import { Reconciler } from "./reconciler.ts";
import { floodEntries } from "../app/flood_entries.ts";
import type { FdbPort } from "../app/ports.ts";

Deno.test("diff() adds what is missing and removes entries absent from desired", () => {
  assert.deepEqual(diff(new Set(["a", "b"]), new Set(["b", "c"])), { add: ["a"], del: ["c"] });
});

Deno.test("diff() applied to programmed yields desired and never touches common entries (property)", () => {
  const set = fc.uniqueArray(fc.integer({ min: 1, max: 30 }).map((i) => `192.0.2.${i}`));
  fc.assert(
    fc.property(set, set, (d, p) => {
      const desired = new Set(d);
      const programmed = new Set(p);
      const { add, del } = diff(desired, programmed);
      const result = new Set(programmed);
      for (const x of del) result.delete(x);
      for (const x of add) result.add(x);
      assert.deepEqual([...result].sort(), [...desired].sort());
      for (const x of [...add, ...del]) assert.ok(!(desired.has(x) && programmed.has(x)));
      assert.equal(
        add.length + del.length,
        [...desired].filter((x) => !programmed.has(x)).length +
          [...programmed].filter((x) => !desired.has(x)).length,
      );
    }),
    { seed: 11, numRuns: 500 },
  );
});

/** An in-memory kernel: flood lists per ifindex, with injectable failures. */
class FakeFdb implements FdbPort {
  lists = new Map<number, Set<string>>();
  log: string[] = [];
  failAppend = new Set<string>();
  listFlood(ifindex: number) {
    return [...(this.lists.get(ifindex) ?? [])];
  }
  appendFlood(ifindex: number, dst: string) {
    if (this.failAppend.has(dst)) throw new Error(`EPERM for ${dst}`);
    this.log.push(`append ${ifindex} ${dst}`);
    let set = this.lists.get(ifindex);
    if (!set) this.lists.set(ifindex, set = new Set());
    set.add(dst);
  }
  delFlood(ifindex: number, dst: string) {
    this.log.push(`del ${ifindex} ${dst}`);
    this.lists.get(ifindex)?.delete(dst);
  }
}

function setup(desired: Map<number, Set<string>>, fdb = new FakeFdb()) {
  const timers: (() => void)[] = [];
  const errors: string[] = [];
  const rec = new Reconciler({
    port: floodEntries(fdb),
    desired: (vni) => desired.get(vni) ?? new Set(),
    onError: (_t, op, dst) => errors.push(`${op} ${dst}`),
    schedule: (fn) => {
      timers.push(fn);
      return () => {};
    },
  });
  return { rec, fdb, timers, errors };
}

Deno.test("Reconciler adopts existing entries and removes nothing before activate()", () => {
  const fdb = new FakeFdb();
  fdb.lists.set(7, new Set(["192.0.2.12", "192.0.2.99"]));
  const { rec } = setup(new Map([[10010, new Set(["192.0.2.12"])]]), fdb);
  rec.attach({ vni: 10010, ifindex: 7, device: "vxlan10010" });
  assert.equal(rec.flush(), 0);
  assert.deepEqual(fdb.log, []);
  rec.activate();
  rec.flush();
  assert.deepEqual(fdb.log, ["del 7 192.0.2.99"], "the valid entry is not re-added");
});

Deno.test("Reconciler coalesces many marks into one flush", () => {
  const desired = new Map([[1, new Set<string>()]]);
  const { rec, fdb, timers } = setup(desired);
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  for (let i = 1; i <= 50; i++) {
    desired.get(1)!.add(`192.0.2.${i}`);
    rec.markDirty(1);
  }
  for (let i = 1; i <= 50; i++) {
    desired.get(1)!.delete(`192.0.2.${i}`);
    rec.markDirty(1);
  }
  desired.get(1)!.add("192.0.2.7");
  rec.markDirty(1);
  assert.equal(timers.length, 1, "one scheduled flush");
  timers[0]!();
  assert.deepEqual(fdb.log, ["append 3 192.0.2.7"], "only the net change is written");
});

Deno.test("Reconciler retries a failed write and keeps the others", () => {
  const desired = new Map([[1, new Set(["192.0.2.1", "192.0.2.2"])]]);
  const { rec, fdb, errors, timers } = setup(desired);
  fdb.failAppend.add("192.0.2.1");
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.flush();
  assert.deepEqual(errors, ["append 192.0.2.1"]);
  assert.deepEqual(fdb.listFlood(3), ["192.0.2.2"]);
  assert.ok(!rec.idle && timers.length >= 1, "a retry is scheduled");
  fdb.failAppend.clear();
  timers.at(-1)!();
  assert.deepEqual(fdb.listFlood(3).sort(), ["192.0.2.1", "192.0.2.2"]);
  assert.ok(rec.idle);
});

Deno.test("Reconciler repairs drift seen through neighbour notifications", () => {
  const desired = new Map([[1, new Set(["192.0.2.1"])]]);
  const { rec, fdb } = setup(desired);
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.flush();
  fdb.lists.get(3)!.delete("192.0.2.1"); // `bridge fdb del` by hand
  rec.observe(3, "192.0.2.1", false);
  fdb.lists.get(3)!.add("192.0.2.66"); // a stray entry by hand
  rec.observe(3, "192.0.2.66", true);
  rec.observe(99, "192.0.2.5", true); // another device: ignored
  rec.flush();
  assert.deepEqual(fdb.listFlood(3), ["192.0.2.1"]);
  assert.deepEqual(fdb.lists.get(99), undefined);
});

Deno.test("Reconciler.detach() leaves the device's entries alone", () => {
  const desired = new Map([[1, new Set(["192.0.2.1"])]]);
  const { rec, fdb } = setup(desired);
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.flush();
  rec.detach(1);
  desired.get(1)!.clear();
  rec.markDirty(1);
  rec.flush();
  assert.deepEqual(fdb.listFlood(3), ["192.0.2.1"]);
});

Deno.test("Reconciler.holdDeletes() adds at once but removes only after the hold", () => {
  const desired = new Map([[1, new Set(["192.0.2.1"])]]);
  const fdb = new FakeFdb();
  fdb.lists.set(3, new Set(["192.0.2.9"]));
  const { rec, timers } = setup(desired, fdb);
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.holdDeletes(60_000);
  rec.flush();
  assert.deepEqual(fdb.listFlood(3).sort(), ["192.0.2.1", "192.0.2.9"]);
  assert.ok(!rec.idle, "the removal waits for the hold");
  desired.get(1)!.delete("192.0.2.1"); // an explicit withdrawal during the hold
  rec.markDirty(1);
  rec.flush();
  assert.deepEqual(fdb.listFlood(3), ["192.0.2.9"], "withdrawals still apply");
  rec.holdDeletes(0);
  timers.at(-1)!();
  assert.deepEqual(fdb.listFlood(3), [], "the stale entry goes when the hold ends");
});

Deno.test('Reconciler.holdDeletes(ms, "all") keeps withdrawn entries too until the hold ends', () => {
  const desired = new Map([[1, new Set(["192.0.2.1", "192.0.2.2"])]]);
  const fdb = new FakeFdb();
  const { rec, timers } = setup(desired, fdb);
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.flush();
  rec.holdDeletes(60_000, "all"); // a BGP session went down
  desired.get(1)!.delete("192.0.2.1");
  desired.get(1)!.delete("192.0.2.2");
  rec.markDirty(1);
  rec.flush();
  assert.deepEqual(fdb.listFlood(3).sort(), ["192.0.2.1", "192.0.2.2"], "withdrawals are held");
  assert.equal(rec.heldCount, 2);
  desired.get(1)!.add("192.0.2.2"); // announced again
  rec.markDirty(1);
  rec.flush();
  assert.equal(rec.heldCount, 1);
  // A stray entry added by hand was never desired: drift is repaired at once.
  fdb.lists.get(3)!.add("192.0.2.99");
  rec.observe(3, "192.0.2.99", true);
  rec.flush();
  assert.ok(!fdb.listFlood(3).includes("192.0.2.99"), "the stray entry goes during the hold");
  assert.equal(rec.heldCount, 1);
  rec.holdDeletes(0);
  timers.at(-1)!();
  assert.deepEqual(fdb.listFlood(3), ["192.0.2.2"], "the one still withdrawn goes");
  assert.equal(rec.heldCount, 0);
});

Deno.test("Reconciler yields to the event loop every writesPerTask writes", () => {
  const desired = new Map([[1, new Set(Array.from({ length: 10 }, (_, i) => `192.0.2.${i + 1}`))]]);
  const fdb = new FakeFdb();
  const timers: (() => void)[] = [];
  const rec = new Reconciler({
    port: floodEntries(fdb),
    desired: (vni) => desired.get(vni) ?? new Set(),
    writesPerTask: 4,
    schedule: (fn) => {
      timers.push(fn);
      return () => {};
    },
  });
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  assert.equal(rec.flush(), 4);
  assert.ok(!rec.idle, "the rest waits for the next task");
  timers.at(-1)!();
  timers.at(-1)!();
  assert.equal(fdb.listFlood(3).length, 10);
  assert.ok(rec.idle);
});

Deno.test("Reconciler manages a second entry kind through its own port, on one injected clock", () => {
  // Unicast MAC entries, say, keyed "MAC dst": the same adoption, hold and retry logic.
  const kernel = new Map<number, Set<string>>([[3, new Set(["aa:bb:cc:00:00:01 192.0.2.9"])]]);
  const desired = new Map([[1, new Set(["aa:bb:cc:00:00:02 192.0.2.1"])]]);
  const writes: string[] = [];
  let clock = 1_000;
  const timers: (() => void)[] = [];
  const rec = new Reconciler({
    port: {
      list: (t) => [...(kernel.get(t.ifindex) ?? [])],
      add: (t, key) => {
        writes.push(`add ${t.device} ${key}`);
        kernel.get(t.ifindex)!.add(key);
      },
      delete: (t, key) => {
        writes.push(`del ${t.device} ${key}`);
        kernel.get(t.ifindex)!.delete(key);
      },
    },
    desired: (vni) => desired.get(vni) ?? new Set(),
    now: () => clock,
    schedule: (fn) => {
      timers.push(fn);
      return () => {};
    },
  });
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.holdDeletes(5_000);
  rec.flush();
  assert.deepEqual(writes, ["add vx1 aa:bb:cc:00:00:02 192.0.2.1"], "the adopted entry is held");
  assert.equal(rec.holdRemainingMs, 5_000);
  clock += 5_001; // the hold ends by the same clock
  rec.flush();
  assert.deepEqual(writes.at(-1), "del vx1 aa:bb:cc:00:00:01 192.0.2.9");
  assert.ok(rec.idle);
});

Deno.test("Reconciler.release() removes the VNI's entries, then stops managing it", () => {
  const desired = new Map([[1, new Set(["192.0.2.1", "192.0.2.2"])]]);
  const { rec, fdb } = setup(desired);
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.flush();
  rec.release(1); // desired still lists both: release wins
  rec.flush();
  assert.deepEqual(fdb.listFlood(3), []);
  assert.equal(rec.programmed(1), undefined, "detached once empty");
  fdb.lists.get(3)!.add("192.0.2.7"); // not ours any more
  rec.observe(3, "192.0.2.7", true);
  rec.flush();
  assert.deepEqual(fdb.listFlood(3), ["192.0.2.7"]);
});

Deno.test("Reconciler.release() removes entries even during a hold, and retries failures", () => {
  const desired = new Map([[1, new Set(["192.0.2.1"])]]);
  const fdb = new FakeFdb();
  const { rec, timers } = setup(desired, fdb);
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  rec.flush();
  rec.holdDeletes(60_000);
  const del = fdb.delFlood.bind(fdb);
  let fail = true;
  fdb.delFlood = (ifindex, dst) => {
    if (fail) throw new Error("EBUSY");
    del(ifindex, dst);
  };
  rec.release(1);
  rec.flush();
  assert.deepEqual(rec.programmed(1), ["192.0.2.1"], "still managed after a failed delete");
  fail = false;
  timers.at(-1)!();
  assert.deepEqual(fdb.listFlood(3), []);
  assert.equal(rec.programmed(1), undefined);
});

/** A reconciler on a fake clock whose timers run when `advance` passes them. */
function clocked(
  desired: Map<number, Set<string>>,
  coalesce?: ConstructorParameters<typeof Reconciler>[0]["coalesce"],
) {
  const fdb = new FakeFdb();
  let clock = 0;
  let timers: { at: number; fn: () => void; live: boolean }[] = [];
  let holds = 0;
  const rec = new Reconciler({
    port: floodEntries(fdb),
    desired: (vni) => desired.get(vni) ?? new Set(),
    now: () => clock,
    onHold: () => holds++,
    ...(coalesce === undefined ? {} : { coalesce }),
    schedule: (fn, ms) => {
      const timer = { at: clock + ms, fn, live: true };
      timers.push(timer);
      return () => timer.live = false;
    },
  });
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.activate();
  const advance = (ms: number) => {
    const until = clock + ms;
    for (;;) {
      const due = timers.filter((t) => t.live && t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      clock = Math.max(clock, due.at);
      due.live = false;
      due.fn();
    }
    timers = timers.filter((t) => t.live);
    clock = until;
  };
  advance(0);
  const change = (dst: string, present: boolean) => {
    if (present) desired.get(1)!.add(dst);
    else desired.get(1)!.delete(dst);
    rec.markDirty(1);
  };
  return { rec, fdb, advance, change, holds: () => holds };
}

Deno.test("Reconciler writes isolated changes at once, however many come at a steady pace", () => {
  const { fdb, advance, change, holds } = clocked(new Map([[1, new Set<string>()]]));
  for (let i = 1; i <= 200; i++) {
    change(`192.0.2.${i % 250}`, true);
    advance(0);
    assert.equal(fdb.log.length, i, `change ${i} is written in the same turn`);
    advance(10); // 100 changes a second: below the refill rate
  }
  assert.equal(holds(), 0);
});

Deno.test("Reconciler holds a burst until it goes quiet and writes only its net change", () => {
  const { fdb, advance, change, holds } = clocked(new Map([[1, new Set<string>()]]), {
    burst: 4,
    perSecond: 10,
    quietMs: 50,
    maxHoldMs: 10_000,
  });
  for (let i = 1; i <= 4; i++) change(`192.0.2.${i}`, true); // one turn: one flush
  advance(0);
  assert.equal(fdb.log.length, 4);
  // A burst: 40 batches 25 ms apart, each adding and withdrawing VTEPs.
  for (let b = 0; b < 40; b++) {
    change(`198.18.0.${b}`, true);
    change(`198.18.1.${b}`, true);
    if (b > 0) change(`198.18.0.${b - 1}`, false); // added in the burst, gone again
    advance(25);
  }
  assert.equal(fdb.log.length, 4, "the allowance is spent: the burst is held");
  assert.equal(holds(), 1);
  advance(50); // quiet
  const net = fdb.log.slice(4);
  assert.ok(!net.some((w) => w.startsWith("del")), `nothing to remove: ${net}`);
  assert.deepEqual(fdb.listFlood(3).filter((d) => d.startsWith("198.18.0.")), ["198.18.0.39"]);
  assert.equal(fdb.listFlood(3).filter((d) => d.startsWith("198.18.1.")).length, 40);
  assert.equal(fdb.log.length, 4 + 41, "the net change: 41 appends in one flush");
  // Quiet again: the allowance refills and the next change goes at once.
  advance(1_000);
  change("192.0.2.99", true);
  advance(0);
  assert.equal(fdb.log.at(-1), "append 3 192.0.2.99");
});

Deno.test("Reconciler writes a burst that never stops at least every maxHoldMs", () => {
  const { fdb, advance, change } = clocked(new Map([[1, new Set<string>()]]), {
    burst: 1,
    perSecond: 1,
    quietMs: 50,
    maxHoldMs: 200,
  });
  const written: number[] = [];
  let t = 0;
  for (let i = 0; i < 100; i++) {
    const before = fdb.log.length;
    change(`198.18.0.${i}`, true);
    advance(10);
    t += 10;
    if (fdb.log.length > before) written.push(t);
  }
  assert.ok(written.length >= 4 && written.length <= 7, `flushes at ${written}`);
  for (let i = 1; i < written.length; i++) assert.ok(written[i]! - written[i - 1]! <= 210);
});

Deno.test("Reconciler with coalesce: false writes every change at once", () => {
  const { fdb, advance, change, holds } = clocked(new Map([[1, new Set<string>()]]), false);
  for (let i = 1; i <= 300; i++) {
    change(`192.0.2.${i % 250}`, i <= 250);
    advance(1);
  }
  assert.equal(fdb.log.length, 300);
  assert.equal(holds(), 0);
});

Deno.test("Reconciler with its defaults writes a stream of 50-change batches only at its start and end", () => {
  const { fdb, advance, change, holds } = clocked(new Map([[1, new Set<string>()]]));
  for (let b = 0; b < 200; b++) { // 2,000 changes a second, 25 ms apart, for 5 s
    for (let i = 0; i < 50; i++) change(`198.18.${b % 4}.${i}`, b % 8 < 4);
    advance(25);
  }
  const during = fdb.log.length;
  assert.ok(during <= 100, `written during the burst: ${during}`);
  assert.equal(holds(), 1);
  advance(200);
  assert.deepEqual(fdb.listFlood(3), [], "the net change: every VTEP added was withdrawn again");
  assert.ok(fdb.log.length - during <= 100, `written at its end: ${fdb.log.length - during}`);
});

Deno.test("Reconciler.resync() reads every device in one listAll() when the port has it", () => {
  const kernel = new Map([[3, ["192.0.2.1", "192.0.2.9"]], [4, ["192.0.2.2"]]]);
  const calls: string[] = [];
  const rec = new Reconciler({
    port: {
      list: (t) => {
        calls.push(`list ${t.ifindex}`);
        return [...(kernel.get(t.ifindex) ?? [])];
      },
      listAll: (targets) => {
        calls.push(`listAll ${targets.map((t) => t.ifindex).join(",")}`);
        return new Map(kernel);
      },
      add: () => {},
      delete: () => {},
    },
    desired: () => new Set(),
    schedule: () => () => {},
  });
  rec.attach({ vni: 1, ifindex: 3, device: "vx1" });
  rec.attach({ vni: 2, ifindex: 4, device: "vx2" });
  rec.attach({ vni: 3, ifindex: 5, device: "vx3" }); // no entries: absent from the listing
  calls.length = 0;
  kernel.set(4, ["192.0.2.2", "192.0.2.7"]); // changed behind our back
  rec.resync();
  assert.deepEqual(calls, ["listAll 3,4,5"]);
  assert.deepEqual(rec.programmed(2), ["192.0.2.2", "192.0.2.7"]);
  assert.deepEqual(rec.programmed(3), []);
});
