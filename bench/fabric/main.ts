/**
 * evpn-agent fabric benchmark (issue 15): one or two route-reflector hubs
 * and N spokes, each with gobgpd and the real agent, all in VNI 10010, plus
 * one extra spoke that joins and leaves. Times come from event monitors in
 * every node: the kernel's flood-entry notifications (`bridge -timestamp
 * monitor fdb`) and gobgpd's own WatchEvent stream (the floor).
 *
 *     deno task fabric [N] [--quick] [--rr 2] [--json FILE] [--svg FILE]
 *
 * Exit status: 0 when every final kernel state was exact (timings never
 * fail the run), 1 when a node's flood list was wrong at the end (or an
 * agent died, or a redundant-RR failover flapped an entry), 2 when the
 * benchmark could not run.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeMachine } from "../report.ts";
import { type LoadFigures, LoadMeter } from "../machine_load.ts";
import { sampleProc } from "../procstat.ts";
import { REPO_DIR } from "../../scripts/lab/topology.ts";
import { delay } from "../../scripts/lab/wait.ts";
import {
  fdbChanges,
  firstChange,
  firstExact,
  type Flaps,
  flaps,
  type NodeTiming,
  ribChanges,
  round,
  type Spread,
  spread,
  type StepSummary,
  summarise,
  timing,
} from "./analysis.ts";
import { renderChart } from "./chart.ts";
import { COMMUNITY, DEVICE, FabricLab, type FabricNode } from "./lab.ts";
import { readRibMonitor } from "./rib_monitor.ts";
import { wallNow } from "./rib_recorder.ts";

const HELP = `evpn-agent fabric benchmark

Usage: deno task fabric [N] [options]     (N spokes, default 20, 2..200)

  --quick          N = 10, the CI run: fails only on a wrong final state
  --rr 2           two route reflectors (one cluster id); kill one at the end
                   and check that nothing flaps on any node
  --idle S         idle window for the CPU figure, seconds (default 20)
  --idle-settle S  quiet time between the first idle window (5 s after the
                   steps) and the steady one (default 20, --quick 0: no
                   steady window); V8 reduces the heap once ~30 s after start
  --json FILE      results (default bench/results/fabric-<N>[-rr2].json;
                   --quick: bench/results/fabric-quick-latest.json)
  --svg FILE       the convergence chart (default beside the JSON, .svg)
  --cpu-prof DIR   run every agent with --cpu-prof (profiles written at stop)
  --parallel K     agents starting at once (default 4)
  --agent-flag F   one more flag for every agent's deno run (repeatable), e.g.
                   --agent-flag=--v8-flags=--trace-gc
  --keep-logs      keep the work directory (configs, logs, monitor output)

Needs root. Exit status: 0 = every final state exact (timings never fail),
1 = a wrong final state, an agent died or a failover flapped an entry,
2 = the benchmark could not run.
`;

/** One step's per-node timings and their spreads. */
export interface StepResult {
  nodes: NodeTiming[];
  summary: StepSummary;
  /** CPU ticks of all agents during the step. */
  agentTicks: number;
  load: LoadFigures;
}

export interface FabricResults {
  version: 1;
  startedAt: string;
  durationS: number;
  machine: Awaited<ReturnType<typeof describeMachine>>;
  spokes: number;
  hubs: number;
  /** Creating vxlan10010 on every spoke, ms: with no agent running, and beside the agents. */
  deviceCreation: { withoutAgentsMs: number | null; besideAgentsMs: number | null };
  initial?: StepResult;
  join?: StepResult;
  withdraw?: StepResult;
  rssMiB?: Spread;
  /** The first idle window, 5 s after the last step. */
  idleFirst?: IdleWindow;
  /** The steady idle window, after a further quiet time. */
  idle?: IdleWindow;
  failover?: { killed: string; flaps: Flaps; exact: boolean; seconds: number };
  wrongState: string[];
  error?: string;
}

/** CPU ticks of every agent over one idle window. */
export interface IdleWindow {
  seconds: number;
  /** Seconds between the last step and the window's start. */
  afterSeconds: number;
  ticksTotal: number;
  ticksMaxPerAgent: number;
  agents: number;
}

async function idleWindow(
  lab: FabricLab,
  seconds: number,
  afterSeconds: number,
  log: (m: string) => void,
): Promise<IdleWindow> {
  log(`idle for ${seconds} s`);
  const before = new Map(lab.agentPids().map((pid) => [pid, sampleProc(pid)?.cpuTicks ?? 0]));
  await delay(seconds * 1000);
  let total = 0;
  let max = 0;
  for (const [pid, ticks] of before) {
    const d = (sampleProc(pid)?.cpuTicks ?? ticks) - ticks;
    total += d;
    max = Math.max(max, d);
  }
  log(`idle: ${total} ticks over ${before.size} agents (max ${max})`);
  return { seconds, afterSeconds, ticksTotal: total, ticksMaxPerAgent: max, agents: before.size };
}

function progress(t0: number): (message: string) => void {
  return (message) => {
    const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
    console.error(`[fabric ${s}s] ${message}`);
  };
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function agentTicks(lab: FabricLab): number {
  let ticks = 0;
  for (const pid of lab.agentPids()) ticks += sampleProc(pid)?.cpuTicks ?? 0;
  return ticks;
}

/** Waits until every node's monitor shows its expected flood list; polls the monitor files. */
async function untilKernel(
  lab: FabricLab,
  expected: Map<FabricNode, Set<string>>,
  timeoutMs: number,
): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const wrong: string[] = [];
    for (const [node, want] of expected) {
      const monitor = lab.monitors.get(node.name)!;
      monitor.poll();
      const have = monitor.floodList(DEVICE);
      if (!sameSet(have, want)) wrong.push(`${node.name} has ${have.size} of ${want.size}`);
    }
    if (wrong.length === 0 || performance.now() > deadline) return wrong;
    await delay(100);
  }
}

/** Runs one step: `act()` at t0, waits for the expected kernel state, measures per node. */
async function step(
  lab: FabricLab,
  name: string,
  act: () => void,
  expected: Map<FabricNode, Set<string>>,
  measure: (node: FabricNode, t0: number) => NodeTiming,
  log: (m: string) => void,
): Promise<{ result: StepResult; wrong: string[] }> {
  const meter = new LoadMeter(() => lab.pids());
  const mark = meter.mark();
  const ticks0 = agentTicks(lab);
  const t0 = wallNow();
  act();
  const wrong = await untilKernel(lab, expected, 60_000);
  if (wrong.length > 0) log(`${name}: not converged: ${wrong.slice(0, 5).join("; ")}`);
  // Let the RIB recorders and monitors catch up with the last events.
  await delay(500);
  for (const m of lab.monitors.values()) m.poll();
  const nodes = [...expected.keys()].map((node) => measure(node, t0));
  const result: StepResult = {
    nodes,
    summary: summarise(nodes),
    agentTicks: agentTicks(lab) - ticks0,
    load: meter.since(mark),
  };
  const s = result.summary;
  log(
    `${name}: kernel max ${s.kernel.max} ms, gobgpd max ${s.gobgpd.max} ms, ` +
      `agent share max ${s.agent.max} ms (median ${s.agent.median})`,
  );
  return { result, wrong };
}

function fmt(v: number | null, unit = " ms"): string {
  return v === null ? "never" : `${v}${unit}`;
}

function stepRow(label: string, r: StepResult | undefined, target: string): string {
  if (r === undefined) return `| ${label} | not measured | ${target} |`;
  const s = r.summary;
  const missing = s.kernel.missing > 0 ? `; **${s.kernel.missing} nodes never**` : "";
  return `| ${label} | ${fmt(s.kernel.max)} max, ${fmt(s.kernel.median)} median; gobgpd ${
    fmt(s.gobgpd.max)
  } / ${fmt(s.gobgpd.median)}; agent's share ${fmt(s.agent.max)} max, ${
    fmt(s.agent.median)
  } median${missing} | ${target} |`;
}

/** The Markdown table of a run. Pure. */
export function renderTable(r: FabricResults): string {
  const agents = r.spokes + 1;
  const rows = [
    `| figure (N = ${r.spokes} spokes + 1 extra, ${r.hubs} RR) | measured | target |`,
    "|---|---|---|",
    stepRow(
      `initial convergence (every node lists exactly the ${r.spokes - 1} others)`,
      r.initial,
      "agent's share ≤ 30 ms at every node",
    ),
    `| creating the ${r.spokes} devices | ${
      fmt(r.deviceCreation.besideAgentsMs)
    } beside the agents, ${
      fmt(r.deviceCreation.withoutAgentsMs)
    } with no agent | as fast as with no agent |`,
    `| agents' CPU during initial convergence | ${
      r.initial?.agentTicks ?? "-"
    } ticks (all ${agents}) | — |`,
    stepRow("join seen by every node", r.join, "agent's share ≤ 20 ms max"),
    stepRow("withdraw seen by every node", r.withdraw, "agent's share ≤ 20 ms max"),
    `| agent RSS per node | ${
      r.rssMiB ? `${r.rssMiB.median} MiB median, ${r.rssMiB.max} max` : "-"
    } | ≤ 60 MiB |`,
    ...[r.idleFirst, r.idle].flatMap((w) =>
      w === undefined ? [] : [
        `| agent idle CPU, summed over ${agents} agents, ${w.seconds} s from ${w.afterSeconds} s after the steps | ${w.ticksTotal} ticks (max ${w.ticksMaxPerAgent} per agent) | ≤ ${agents} ticks (≤ 1 per agent) |`,
      ]
    ),
  ];
  if (r.failover) {
    const f = r.failover;
    rows.push(
      `| ${f.killed} killed (SIGKILL) | ${f.flaps.deleted} flood entries deleted, ${f.flaps.readded} re-added on any node in ${f.seconds} s; final state ${
        f.exact ? "exact" : "WRONG"
      } | nothing flaps, exact |`,
    );
  }
  rows.push(
    `| final kernel state | ${r.wrongState.length === 0 ? "exact" : "**WRONG**"} | exact |`,
  );
  return rows.join("\n");
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        quick: { type: "boolean" },
        rr: { type: "string" },
        idle: { type: "string" },
        "idle-settle": { type: "string" },
        json: { type: "string" },
        svg: { type: "string" },
        "cpu-prof": { type: "string" },
        parallel: { type: "string" },
        "agent-flag": { type: "string", multiple: true },
        "keep-logs": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    console.error(`fabric: ${error instanceof Error ? error.message : error}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const spokes = values.quick ? 10 : Number(positionals[0] ?? 20);
  const hubs = Number(values.rr ?? 1);
  const idleS = Number(values.idle ?? 20);
  const settleS = Number(values["idle-settle"] ?? (values.quick ? 0 : 20));
  const parallel = Number(values.parallel ?? 4);
  const problems = [
    !Number.isInteger(spokes) || spokes < 2 || spokes > 200
      ? `N "${positionals[0]}" is not 2..200`
      : "",
    hubs !== 1 && hubs !== 2 ? `--rr "${values.rr}" is not 1 or 2` : "",
    !(idleS >= 1 && idleS <= 600) ? `--idle "${values.idle}" is not 1..600` : "",
    !(settleS >= 0 && settleS <= 600)
      ? `--idle-settle "${values["idle-settle"]}" is not 0..600`
      : "",
    !Number.isInteger(parallel) || parallel < 1 ? `--parallel "${values.parallel}" is not ≥ 1` : "",
    positionals.length > 1 ? `one N only, got ${positionals.join(" ")}` : "",
  ].filter((p) => p !== "");
  if (problems.length > 0) {
    console.error(`fabric: ${problems.join("; ")}\n\n${HELP}`);
    return 2;
  }
  if (Deno.uid() !== 0) {
    console.error("fabric: needs root (network namespaces, gobgpd, FDB writes)");
    return 2;
  }
  const name = values.quick ? "fabric-quick-latest" : `fabric-${spokes}${hubs === 2 ? "-rr2" : ""}`;
  const output = values.json ?? new URL(`../results/${name}.json`, import.meta.url).pathname;
  const svgOut = values.svg ?? output.replace(/\.json$/, "") + ".svg";
  const t0 = performance.now();
  const log = progress(t0);
  const started = new Date();
  const results: FabricResults = {
    version: 1,
    startedAt: started.toISOString(),
    durationS: 0,
    machine: await describeMachine(REPO_DIR),
    spokes,
    hubs,
    deviceCreation: { withoutAgentsMs: null, besideAgentsMs: null },
    wrongState: [],
  };
  let lab: FabricLab | undefined;
  try {
    log(`${spokes} spokes + 1 extra, ${hubs} route reflector${hubs > 1 ? "s" : ""}`);
    lab = await FabricLab.create({
      spokes,
      hubs,
      log,
      cpuProfDir: values["cpu-prof"],
      agentFlags: values["agent-flag"] ?? [],
    });
    const fabric = lab;
    await fabric.startGobgpd();
    await fabric.startMonitors();

    // The same device creation with no agent running: the kernel's own cost.
    let start = performance.now();
    for (const node of fabric.spokes) fabric.createDevice(node);
    results.deviceCreation.withoutAgentsMs = round(performance.now() - start);
    for (const node of fabric.spokes) fabric.deleteDevice(node);
    await delay(500);

    await fabric.startAgents(parallel);
    log("agents ready; letting them settle");
    await delay(3_000);

    // Initial convergence: every spoke lists exactly the N−1 others.
    const all = new Set(fabric.spokes.map((n) => n.address));
    const others = (node: FabricNode) => new Set([...all].filter((a) => a !== node.address));
    const initialExpected = new Map(fabric.spokes.map((n) => [n, others(n)]));
    const exactAt = (node: FabricNode, t: number, want: Set<string>) => ({
      kernel: firstExact(
        fdbChanges(fabric.monitors.get(node.name)!.events, DEVICE),
        want,
        t,
      ),
      gobgpd: firstExact(
        ribChanges(readRibMonitor(fabric.ribMonitors.get(node.name)!, COMMUNITY), node.address),
        want,
        t,
      ),
    });
    const initial = await step(
      fabric,
      "initial convergence",
      () => {
        start = performance.now();
        for (const node of fabric.spokes) fabric.createDevice(node);
        results.deviceCreation.besideAgentsMs = round(performance.now() - start);
      },
      initialExpected,
      (node, t) => {
        const at = exactAt(node, t, initialExpected.get(node)!);
        return timing(node.name, t, at.kernel, at.gobgpd);
      },
      log,
    );
    results.initial = initial.result;
    results.wrongState.push(...initial.wrong.map((w) => `initial convergence: ${w}`));
    log(
      `creating ${spokes} devices: ${results.deviceCreation.besideAgentsMs} ms beside the agents, ` +
        `${results.deviceCreation.withoutAgentsMs} ms with no agent`,
    );
    await delay(2_000);

    // Join: the extra spoke creates its device; every node adds it.
    const extra = fabric.extra;
    const withExtra = new Map(
      fabric.spokes.map((n) => [n, new Set([...others(n), extra.address])]),
    );
    withExtra.set(extra, new Set(all));
    const edge = (present: boolean) => (node: FabricNode, t: number) =>
      timing(
        node.name,
        t,
        firstChange(
          fdbChanges(fabric.monitors.get(node.name)!.events, DEVICE),
          extra.address,
          present,
          t,
        ),
        firstChange(
          ribChanges(readRibMonitor(fabric.ribMonitors.get(node.name)!, COMMUNITY), node.address),
          extra.address,
          present,
          t,
        ),
      );
    const join = await step(
      fabric,
      "join",
      () => fabric.createDevice(extra),
      withExtra,
      edge(true),
      log,
    );
    // The extra node's own list is part of the expected state, not of the join timings.
    join.result.nodes = join.result.nodes.filter((n) => n.node !== extra.name);
    join.result.summary = summarise(join.result.nodes);
    results.join = join.result;
    results.wrongState.push(...join.wrong.map((w) => `join: ${w}`));
    await delay(2_000);

    const withdraw = await step(
      fabric,
      "withdraw",
      () => fabric.deleteDevice(extra),
      initialExpected,
      edge(false),
      log,
    );
    results.withdraw = withdraw.result;
    results.wrongState.push(...withdraw.wrong.map((w) => `withdraw: ${w}`));

    // Footprint and idle CPU: the first window after the steps (V8 reduces
    // the heap once in it), then, after a further quiet time, the steady one.
    await delay(5_000);
    const rss = fabric.agentPids().map((pid) => (sampleProc(pid)?.rssKiB ?? 0) / 1024);
    results.rssMiB = spread(rss.map((x) => round(x)));
    results.idleFirst = await idleWindow(fabric, idleS, 5, log);
    if (settleS > 0) {
      log(`quiet for ${settleS} s`);
      await delay(settleS * 1000);
      results.idle = await idleWindow(fabric, idleS, 5 + idleS + settleS, log);
    }

    if (hubs === 2) {
      const hub = fabric.hubs[0]!;
      log(`killing the gobgpd of ${hub.name}`);
      const tKill = wallNow();
      await fabric.killGobgpd(hub);
      // Until every spoke's gobgpd saw the session go, then a while more.
      const deadline = performance.now() + 30_000;
      while (
        performance.now() < deadline &&
        fabric.agentNodes.some((n) => fabric.ribs.get(n.name)!.peers.get(hub.address) !== false)
      ) await delay(100);
      await delay(5_000);
      const wrong = await untilKernel(fabric, initialExpected, 10_000);
      const total: Flaps = { deleted: 0, readded: 0, examples: [] };
      for (const node of fabric.spokes) {
        const f = flaps(
          fdbChanges(fabric.monitors.get(node.name)!.events, DEVICE),
          initialExpected.get(node)!,
          tKill,
          node.name,
        );
        total.deleted += f.deleted;
        total.readded += f.readded;
        total.examples.push(...f.examples.slice(0, 3 - total.examples.length));
      }
      results.failover = {
        killed: `${hub.name}'s gobgpd`,
        flaps: total,
        exact: wrong.length === 0,
        seconds: round((wallNow() - tKill) / 1000),
      };
      if (total.deleted > 0) {
        results.wrongState.push(`failover flapped entries: ${total.examples.join("; ")}`);
      }
      results.wrongState.push(...wrong.map((w) => `after the failover: ${w}`));
      log(`failover: ${total.deleted} deleted, ${total.readded} re-added`);
    }

    // The final state from fresh dumps, independent of the monitors.
    for (const node of fabric.agentNodes) {
      const want = node === extra ? [] : [...initialExpected.get(node)!].sort();
      const have = await fabric.floodList(node);
      if (have.join() !== want.join()) {
        results.wrongState.push(
          `${node.name}: ${DEVICE} lists ${have.length} (expected ${want.length})`,
        );
      }
      if (!fabric.agent(node)?.running()) results.wrongState.push(`${node.name}: agent died`);
    }
  } catch (error) {
    results.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`benchmark failed: ${results.error}`);
  } finally {
    log("removing the fabric");
    await lab?.destroy({ keepWorkDir: values["keep-logs"] ?? false }).catch((e) =>
      log(`removal: ${e}`)
    );
    if (values["keep-logs"] && lab) log(`logs kept in ${lab.workDir}`);
  }
  results.durationS = round((performance.now() - t0) / 1000);
  console.log(renderTable(results));
  console.log(
    `\n${results.machine.nproc} CPUs (${results.machine.cpu}), Linux ${results.machine.kernel}, ` +
      `Deno ${results.machine.deno}, gobgpd ${results.machine.gobgpd}; ${results.durationS} s`,
  );
  const busy = (["initial", "join", "withdraw"] as const)
    .filter((k) => (results[k]?.load.otherCores ?? 0) >= 0.1)
    .map((k) => `${k} (${results[k]!.load.otherCores} cores)`);
  if (busy.length > 0) console.log(`Other processes loaded the machine during: ${busy.join(", ")}`);
  for (const wrong of results.wrongState) console.log(`WRONG: ${wrong}`);
  await Deno.mkdir(new URL(".", `file://${output}`).pathname, { recursive: true });
  await Deno.writeTextFile(output, JSON.stringify(results, null, 2) + "\n");
  const panels = (["initial", "join", "withdraw"] as const).flatMap((k) =>
    results[k]
      ? [{ title: k === "initial" ? "initial convergence" : k, nodes: results[k]!.nodes }]
      : []
  );
  if (panels.length > 0) {
    await Deno.writeTextFile(
      svgOut,
      renderChart(
        `Fabric convergence per node: ${spokes} spokes, ${hubs} route reflector${
          hubs > 1 ? "s" : ""
        }`,
        `${results.machine.nproc}-core shared machine, ${
          started.toISOString().slice(0, 10)
        }; ms after the step began`,
        panels,
      ),
    );
  }
  console.log(`results: ${output}${panels.length > 0 ? `, chart: ${svgOut}` : ""}`);
  if (results.error !== undefined) return 2;
  return results.wrongState.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
