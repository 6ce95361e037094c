import assert from "node:assert/strict";
import {
  fdbChanges,
  firstChange,
  firstExact,
  flaps,
  ribChanges,
  spread,
  timing,
} from "./analysis.ts";
import { axis, renderChart } from "./chart.ts";
import { FdbMonitorFile, parseFdbMonitor, parseStamp, replay } from "./fdb_monitor.ts";
import { parseRibMonitor } from "./rib_monitor.ts";
import { type FabricResults, renderTable } from "./main.ts";

const MONITOR = `Timestamp: Tue Dec  1 12:35:10 2026 914184 usec
00:00:00:00:00:00 dev vxlan10010 dst 192.0.2.12 self permanent
Timestamp: Tue Dec  1 12:35:10 2026 918009 usec
00:00:00:00:00:00 dev vxlan10010 dst 192.0.2.13 self permanent
Timestamp: Tue Dec  1 12:35:10 2026 920000 usec
aa:bb:cc:dd:ee:ff dev vxlan10010 dst 192.0.2.13 self permanent
Timestamp: Tue Dec  1 12:35:11 2026 5 usec
Deleted 00:00:00:00:00:00 dev vxlan10010 dst 192.0.2.12 self permanent
`;

Deno.test("parseStamp() reads bridge's -timestamp line as UTC with microseconds", () => {
  assert.equal(
    parseStamp("Timestamp: Tue Dec  1 12:35:10 2026 914184 usec"),
    Date.UTC(2026, 11, 1, 12, 35, 10) + 914.184,
  );
  assert.equal(parseStamp("00:00:00:00:00:00 dev vxlan10010"), undefined);
});

Deno.test("parseFdbMonitor() keeps flood entries with their time, skips unicast MACs", () => {
  const events = parseFdbMonitor(MONITOR);
  assert.deepEqual(events.map((e) => [e.type, e.dst]), [
    ["add", "192.0.2.12"],
    ["add", "192.0.2.13"],
    ["del", "192.0.2.12"],
  ]);
  assert.equal(events[2]!.at, Date.UTC(2026, 11, 1, 12, 35, 11) + 0.005);
  assert.deepEqual([...replay(events, "vxlan10010", Infinity)], ["192.0.2.13"]);
  assert.deepEqual([...replay(events, "vxlan10010", events[1]!.at)].sort(), [
    "192.0.2.12",
    "192.0.2.13",
  ]);
});

Deno.test("FdbMonitorFile.poll() reads complete lines only, across partial writes", () => {
  const path = Deno.makeTempFileSync();
  try {
    const file = new FdbMonitorFile(path);
    const lines = MONITOR.split("\n");
    // The stamp and half of the message line: nothing complete yet.
    Deno.writeTextFileSync(path, `${lines[0]}\n00:00:00:00:00:00 dev vx`);
    assert.equal(file.poll().length, 0);
    Deno.writeTextFileSync(path, `lan10010 dst 192.0.2.12 self permanent\n${lines[2]}\n`, {
      append: true,
    });
    assert.deepEqual(file.poll().map((e) => e.dst), ["192.0.2.12"]);
    Deno.writeTextFileSync(path, lines.slice(3).join("\n"), { append: true });
    assert.deepEqual(file.poll().map((e) => e.dst), ["192.0.2.13", "192.0.2.12"]);
    assert.deepEqual([...file.floodList("vxlan10010")], ["192.0.2.13"]);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("parseRibMonitor() turns gobgp monitor lines into membership changes", () => {
  const community = 65000 * 65536 + 10010;
  const path = (prefix: string, extra: Record<string, unknown> = {}, c = [community]) =>
    JSON.stringify({
      nlri: { prefix },
      attrs: [{ type: 1, value: 2 }, { type: 8, communities: c }],
      ...extra,
    });
  const text = [
    `1796128939.452341 [${path("192.0.2.12/32")}]`,
    `1796128939.460000 [${path("192.0.2.12/32", { withdrawal: true })},${path("192.0.2.12/32")}]`,
    `1796128939.470816 [${path("192.0.2.13/32", {}, [1])},${path("198.51.100.0/24")}]`,
    "not json",
    `1796128939.480000 [${path("192.0.2.12/32", { withdrawal: true })}]`,
  ].join("\n");
  const events = parseRibMonitor(text, community);
  // The withdraw + add in one event is no change; 192.0.2.13 never had the community.
  assert.deepEqual(events, [
    { at: 1796128939452.341, vtep: "192.0.2.12", member: true },
    { at: 1796128939480, vtep: "192.0.2.12", member: false },
  ]);
});

Deno.test("firstExact() finds when the replayed set first equals the expected one", () => {
  const changes = [
    { at: 1, key: "a", present: true },
    { at: 5, key: "b", present: true },
    { at: 6, key: "c", present: true },
    { at: 7, key: "c", present: false },
  ];
  assert.equal(firstExact(changes, new Set(["a", "b"]), 0), 5);
  assert.equal(firstExact(changes, new Set(["a", "b"]), 6.5), 7);
  assert.equal(firstExact(changes, new Set(["a"]), 2), 2);
  assert.equal(firstExact(changes, new Set(["x"]), 0), undefined);
  assert.equal(firstChange(changes, "c", false, 0), 7);
  assert.equal(firstChange(changes, "c", true, 6.5), undefined);
});

Deno.test("fdbChanges() and ribChanges() keep the device's entries and the others' routes", () => {
  const fdb = fdbChanges([
    { at: 1, type: "add", dev: "vxlan10010", dst: "192.0.2.12" },
    { at: 2, type: "add", dev: "vxlan10011", dst: "192.0.2.12" },
  ], "vxlan10010");
  assert.equal(fdb.length, 1);
  const rib = ribChanges([
    { at: 1, vtep: "192.0.2.11", member: true },
    { at: 2, vtep: "192.0.2.12", member: true },
  ], "192.0.2.11");
  assert.deepEqual(rib, [{ at: 2, key: "192.0.2.12", present: true }]);
});

Deno.test("flaps() counts deletions and re-additions of entries that should stay", () => {
  const changes = [
    { at: 1, key: "a", present: false }, // before the kill: not counted
    { at: 10, key: "a", present: false },
    { at: 11, key: "a", present: true },
    { at: 12, key: "z", present: false }, // not an entry that should stay
  ];
  assert.deepEqual(flaps(changes, new Set(["a", "b"]), 5, "s1"), {
    deleted: 1,
    readded: 1,
    examples: ["s1: deleted a"],
  });
});

Deno.test("timing() and spread() give the agent's share and max/median, counting misses", () => {
  assert.deepEqual(timing("s1", 1000, 1030, 1012), {
    node: "s1",
    kernelMs: 30,
    gobgpdMs: 12,
    agentMs: 18,
  });
  assert.equal(timing("s1", 1000, undefined, 1012).agentMs, null);
  assert.deepEqual(spread([3, null, 1, 2]), { max: 3, median: 2, missing: 1 });
  assert.deepEqual(spread([null]), { max: null, median: null, missing: 1 });
});

Deno.test("renderChart() draws one floor bar per node and the agent's share above it", () => {
  const svg = renderChart("t <1>", "c", [{
    title: "initial",
    nodes: [timing("s1", 0, 30, 10), timing("s2", 0, 10, 12), timing("s3", 0, undefined, 5)],
  }]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /t &lt;1&gt;/);
  assert.equal(svg.match(/fill="#9aa5b1"/g)?.length, 4); // legend + 3 nodes
  assert.equal(svg.match(/fill="#d9534f"/g)?.length, 2); // legend + s1 only
  assert.match(svg, /s3: kernel never ms/);
  assert.deepEqual(axis(93), { top: 100, step: 25 });
  assert.deepEqual(axis(0), { top: 1, step: 0.5 });
});

Deno.test("renderTable() shows every figure against its target", () => {
  const nodes = [timing("s1", 0, 30, 10)];
  const step = {
    nodes,
    summary: {
      kernel: spread([30]),
      gobgpd: spread([10]),
      agent: spread([20]),
    },
    agentTicks: 5,
    load: { seconds: 1, totalCores: 1, oursCores: 1, otherCores: 0, loadavg1: 1 },
  };
  const results: FabricResults = {
    version: 1,
    startedAt: "",
    durationS: 1,
    machine: {} as FabricResults["machine"],
    spokes: 2,
    hubs: 2,
    deviceCreation: { withoutAgentsMs: 1, besideAgentsMs: 2 },
    initial: step,
    join: step,
    withdraw: step,
    rssMiB: spread([50]),
    idle: { seconds: 20, afterSeconds: 45, ticksTotal: 2, ticksMaxPerAgent: 1, agents: 3 },
    failover: {
      killed: "hub1's gobgpd",
      flaps: { deleted: 0, readded: 0, examples: [] },
      exact: true,
      seconds: 6,
    },
    wrongState: [],
  };
  const table = renderTable(results);
  assert.match(table, /initial convergence .* agent's share 20 ms max/);
  assert.match(table, /2 ms beside the agents, 1 ms with no agent/);
  assert.match(table, /2 ticks \(max 1 per agent\) \| ≤ 3 ticks/);
  assert.match(table, /hub1's gobgpd killed .* 0 flood entries deleted/);
  assert.match(table, /final kernel state \| exact/);
  assert.match(renderTable({ ...results, wrongState: ["x"] }), /\*\*WRONG\*\*/);
});
