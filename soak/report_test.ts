import assert from "node:assert/strict";
import {
  attributeLoss,
  formatSummary,
  lostPings,
  NO_PING_FAULT,
  parseFdbEvent,
  type RoundRecord,
  summarize,
} from "./report.ts";

function round(n: number, extra: Partial<RoundRecord> = {}): RoundRecord {
  return {
    round: n,
    kinds: ["agent-kill"],
    faults: ["SIGKILL the agent on spoke3, restart after 0 ms"],
    t0: n * 1000,
    t1: n * 1000 + 1000,
    convergeMs: 100 * n,
    flaps: [],
    foreign: [],
    pingCauses: [],
    pingLost: 0,
    rssKiB: { spoke1: 80 * 1024 },
    crashes: [],
    ...extra,
  };
}

Deno.test("parseFdbEvent reads flood adds and deletions and ignores other lines", () => {
  assert.deepEqual(
    parseFdbEvent("Deleted 00:00:00:00:00:00 dev vxlan10010 dst 192.0.2.12 self permanent"),
    { op: "del", dev: "vxlan10010", dst: "192.0.2.12" },
  );
  assert.deepEqual(
    parseFdbEvent("00:00:00:00:00:00 dev vxlan10011 dst 192.0.2.14 self permanent"),
    { op: "add", dev: "vxlan10011", dst: "192.0.2.14" },
  );
  assert.equal(parseFdbEvent("02:00:00:00:00:ff dev vxlan10010 dst 192.0.2.254 self"), undefined);
  assert.equal(parseFdbEvent(""), undefined);
});

Deno.test("lostPings returns unanswered requests with their send time, not the one in flight", () => {
  const text = [
    "PING 198.51.100.2 (198.51.100.2) 56(84) bytes of data.",
    "[1000.000] 64 bytes from 198.51.100.2: icmp_seq=1 ttl=64 time=0.1 ms",
    "[1000.100] no answer yet for icmp_seq=2",
    "[1000.150] no answer yet for icmp_seq=3",
    "[1000.150] 64 bytes from 198.51.100.2: icmp_seq=3 ttl=64 time=900 ms",
    "[1000.200] 64 bytes from 198.51.100.2: icmp_seq=4 ttl=64 time=0.1 ms",
    "[1000.300] no answer yet for icmp_seq=5",
  ].join("\n");
  assert.deepEqual(lostPings(text, 50), [{ seq: 2, t: 1000050 }]);
});

Deno.test("attributeLoss counts each loss in the round whose window holds it", () => {
  const rounds = [round(1), round(2)];
  const outside = attributeLoss(rounds, [{ t: 1500 }, { t: 2999 }, { t: 2000 }, { t: 5000 }]);
  assert.equal(rounds[0]!.pingLost, 1);
  assert.equal(rounds[1]!.pingLost, 2);
  assert.equal(outside, 1);
});

Deno.test("summarize passes a clean run and gives p50 and max per kind", () => {
  const s = summarize(9, [round(1), round(2), round(3, { kinds: ["device-toggle"] })], 0);
  assert.equal(s.ok, true, s.failures.join());
  assert.equal(s.converged, 3);
  assert.equal(s.convergeMaxMs, 300);
  assert.deepEqual(s.byKind["agent-kill"], { rounds: 2, p50Ms: 100, maxMs: 200 });
  assert.match(
    formatSummary(s),
    /soak: PASS\nseed 9 \(replay: deno task soak --seed 9 --rounds 3\)/,
  );
});

Deno.test("summarize fails on each kind of defect and says which", () => {
  const cases: [Partial<RoundRecord>, RegExp][] = [
    [{ convergeMs: -1, problem: "spoke1/vxlan10010 floods to []" }, /did not converge/],
    [{ flaps: ["spoke1/vxlan10010/192.0.2.12"] }, /flap/],
    [{ foreign: ["spoke1/vxlan10010/224.0.0.5"] }, /non-VTEP/],
    [{ crashes: ["agent on spoke3"] }, /unexpected exit/],
    [{ pingLost: 3 }, /lost without a fault on the ping path/],
    [{ rssKiB: { spoke1: 200 * 1024 } }, /grew 80 → 200 MiB/],
  ];
  for (const [bad, why] of cases) {
    const s = summarize(1, [round(1), round(2, bad)], 0);
    assert.equal(s.ok, false, JSON.stringify(bad));
    assert.match(s.failures.join("\n"), why);
    assert.match(formatSummary(s), /soak: FAIL/);
  }
});

Deno.test("summarize allows ping loss in rounds with a cause and counts it by cause", () => {
  const s = summarize(1, [
    round(1, { pingLost: 40, pingCauses: ["gobgpd restart on the hub"] }),
    round(2),
  ], 0);
  assert.equal(s.ok, true, s.failures.join());
  assert.deepEqual(s.pingLoss, { [NO_PING_FAULT]: 0, "gobgpd restart on the hub": 40 });
  assert.equal(summarize(1, [round(1)], 2).ok, false, "loss between rounds is not allowed");
});
