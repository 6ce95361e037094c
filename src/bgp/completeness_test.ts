import assert from "node:assert/strict";
import { type CompletenessOptions, TableCompleteness } from "./completeness.ts";
import type { TimerId } from "../schedule.ts";

function setup(maxHoldMs = 20_000, extra: Partial<CompletenessOptions> = {}) {
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const done: string[] = [];
  const tc = new TableCompleteness({
    ...extra,
    maxHoldMs,
    quietMs: 1000,
    onComplete: (reason) => done.push(reason),
    schedule: (fn, ms) => {
      timers.set(next, { fn, ms });
      return next++ as unknown as TimerId;
    },
    cancel: (id) => void timers.delete(id as unknown as number),
  });
  const fire = (ms: number) => {
    for (const [id, t] of [...timers]) {
      if (t.ms === ms) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { tc, timers, done, fire };
}

Deno.test("TableCompleteness: complete at once when every session was up", () => {
  const { tc, done } = setup();
  tc.peer("192.0.2.10", true);
  tc.snapshot();
  assert.equal(tc.complete, true);
  assert.match(done[0]!, /all 1 BGP sessions were established/);
});

Deno.test("TableCompleteness: after a gobgpd restart, waits for sessions and a quiet second", () => {
  const { tc, done, fire, timers } = setup();
  tc.peer("192.0.2.10", false);
  tc.snapshot();
  assert.equal(tc.complete, false);
  tc.activity();
  tc.peer("192.0.2.10", true);
  assert.equal(tc.complete, false, "updates follow the session coming up");
  tc.activity(); // restarts the quiet period
  assert.equal([...timers.values()].filter((t) => t.ms === 1000).length, 1);
  fire(1000);
  assert.equal(tc.complete, true);
  assert.match(done[0]!, /updates quiet for 1000 ms/);
  assert.equal(timers.size, 0, "the hold timer is gone");
});

Deno.test("TableCompleteness: with no peers, or one never up, the hold is the bound", () => {
  const { tc, done, fire } = setup();
  tc.snapshot(); // a dynamic-neighbour hub right after restart knows no peer yet
  assert.equal(tc.complete, false);
  fire(20_000);
  assert.equal(tc.complete, true);
  assert.match(done[0]!, /20 s passed since the table was taken, with 0 of 0/);
});

Deno.test("TableCompleteness: a session dropping again cancels the quiet period", () => {
  const { tc, fire } = setup();
  tc.peer("a", false);
  tc.peer("b", true);
  tc.snapshot();
  tc.peer("a", true);
  tc.peer("b", false);
  fire(1000);
  assert.equal(tc.complete, false);
});

Deno.test("TableCompleteness: reset() starts over for a new stream, maxHold 0 is immediate", () => {
  const { tc, done } = setup(0);
  tc.peer("a", false);
  tc.snapshot();
  assert.deepEqual(done, ["restartHoldTime is 0"]);
  tc.reset();
  assert.equal(tc.complete, false);
});

Deno.test("TableCompleteness: a session loss reopens a complete table until routes return", () => {
  let held = 0;
  const reopened: string[] = [];
  const { tc, done, fire } = setup(20_000, {
    onReopen: (address, change) => reopened.push(`${address} ${change}`),
    held: () => held,
  });
  tc.peer("hub", true);
  tc.snapshot();
  assert.equal(tc.complete, true);
  tc.peer("hub", false); // the hub's gobgpd restarts
  assert.equal(tc.complete, false);
  assert.deepEqual(reopened, ["hub down"]);
  tc.peer("hub", true);
  assert.deepEqual(reopened, ["hub down", "hub up"]);
  held = 2; // its End-of-RIB withdrew two routes that the hub has not relearned yet
  tc.activity();
  fire(1000);
  assert.equal(tc.complete, false, "quiet, but entries are still held");
  held = 0; // the routes came back
  tc.activity();
  fire(1000);
  assert.equal(tc.complete, true);
  assert.match(done[1]!, /all 1 BGP sessions established and updates quiet/);
});

Deno.test("TableCompleteness: a reopened table is complete at most maxHold after the last return", () => {
  const { tc, done, fire, timers } = setup();
  tc.peer("hub", true);
  tc.snapshot();
  tc.peer("hub", false);
  assert.equal([...timers.values()].filter((t) => t.ms === 20_000).length, 1);
  tc.peer("hub", true); // the bound starts again, once
  assert.equal([...timers.values()].filter((t) => t.ms === 20_000).length, 1);
  fire(20_000);
  assert.equal(tc.complete, true);
  assert.match(done[1]!, /20 s passed since the BGP session with hub came back/);
  // Before a first complete table, a session loss is no reopen.
  const other = setup();
  other.tc.peer("a", true);
  other.tc.peer("b", false);
  other.tc.snapshot();
  other.tc.peer("a", false);
  assert.equal(other.tc.complete, false);
  assert.equal(other.done.length, 0);
});

Deno.test("TableCompleteness: after reset(), peers established before are expected back", () => {
  const { tc, done, fire } = setup();
  for (const spoke of ["192.0.2.11", "192.0.2.12", "192.0.2.13"]) tc.peer(spoke, true);
  tc.peer("192.0.2.14", false); // down when the stream was lost: not expected
  tc.snapshot();
  tc.reset(); // the hub's gobgpd restarted; its dynamic neighbours are unknown to it
  tc.snapshot();
  assert.deepEqual(tc.peers, { known: 3, established: 0 });
  tc.peer("192.0.2.11", true);
  fire(1000);
  assert.equal(tc.complete, false, "one of three back is not enough");
  tc.peer("192.0.2.12", true);
  tc.peer("192.0.2.13", true);
  fire(1000);
  assert.equal(tc.complete, true);
  assert.deepEqual(done.length, 1);
  assert.match(done[0]!, /all 3 BGP sessions established/);
});
