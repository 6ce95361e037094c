/**
 * The benchmark's results: the JSON document, the targets of issues 7 and
 * 15 checked against it, and the one table printed at the end (Markdown, so
 * that it can go into the README as is). Pure, apart from
 * {@linkcode describeMachine}.
 *
 * @module
 */
import type { LoadFigures } from "./machine_load.ts";
import type { Plan } from "./plan.ts";
import type { ChurnResult } from "./scenarios/churn.ts";
import type { ColdStartResult } from "./scenarios/cold_start.ts";
import type { FootprintResult } from "./scenarios/footprint.ts";
import { type HttpLoadResult, RSS_PEAK_BOUND } from "./scenarios/http_load.ts";
import type { IdleResult } from "./scenarios/idle.ts";
import type { JoinResult } from "./scenarios/join.ts";
import type { LatencyResult, LatencySide } from "./scenarios/latency.ts";
import { fmtInt, fmtKiB, fmtMs, fmtRatio, type Summary } from "./stats.ts";

export interface Machine {
  nproc: number;
  cpu: string;
  memoryMiB: number;
  kernel: string;
  deno: string;
  v8: string;
  gobgpd: string;
  iproute2: string;
  libnl: string;
  /** `git describe --always --dirty` of the repository. */
  commit: string;
}

/** Memory after a scenario. */
export interface Footprint {
  after: string;
  entries: number;
  rssKiB: number | null;
  hwmKiB: number | null;
  /** RSS after a quiet settling time (cold starts only). */
  rssSettledKiB: number | null;
}

export interface TargetCheck {
  name: string;
  /** The measured value, in `unit`. */
  value: number | null;
  target: number;
  unit: string;
  /** True when met; null when not measured. */
  met: boolean | null;
}

export interface BenchResults {
  version: 1;
  mode: Plan["mode"];
  startedAt: string;
  durationS: number;
  machine: Machine;
  plan: Plan;
  /** The idle agent with no entries beside a bare Deno (scenario `footprint`). */
  idleFootprint?: FootprintResult;
  join?: JoinResult;
  /** The join scenario in `mode: evpn`: device → our Type 3 in the peer's gobgpd. */
  evpnJoin?: JoinResult;
  /** A cold start from K×M Type 3 routes (`mode: evpn`), first size of the plan. */
  evpnColdStart?: ColdStartResult;
  coldStart: ColdStartResult[];
  latency?: LatencyResult;
  churn?: ChurnResult;
  idle?: IdleResult;
  /** The endpoint under load; its `failures` fail the run (exit 1). */
  http?: HttpLoadResult;
  footprint: Footprint[];
  /** SIGTERM → exit of each agent run (run.ts promises 2 s; the benchmark kills after 5 s). */
  agentStops: { after: string; elapsedMs: number; killed: boolean; code: number | null }[];
  /** Machine load per scenario: the benchmark's own processes and everything else. */
  load: Record<string, LoadFigures>;
  targets: TargetCheck[];
  /** Wrong kernel states: the only reason for a non-zero exit besides not running at all. */
  wrongState: string[];
  /** The benchmark could not complete (infrastructure, not the agent's state). */
  error?: string;
}

/** Idle RSS target of one agent with no entries (issue 15), MiB. */
export const IDLE_RSS_MIB = 60;

/** The targets of issues 7 and 15 that this run measured. */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const out: TargetCheck[] = [];
  const add = (name: string, value: number | null | undefined, target: number, unit: string) =>
    out.push({
      name,
      value: value ?? null,
      target,
      unit,
      met: value === null || value === undefined || !Number.isFinite(value)
        ? null
        : value <= target,
    });
  const idleRss = r.idleFootprint?.agent.rssKiB;
  if (idleRss !== undefined) {
    add("idle RSS, no entries", idleRss === null ? null : idleRss / 1024, IDLE_RSS_MIB, "MiB");
  }
  for (const c of r.coldStart) {
    const limit = c.vnis === 20 && c.vteps === 1_000
      ? 1.5
      : c.vnis === 100 && c.vteps === 1_000
      ? 1.2
      : undefined;
    if (limit !== undefined) {
      add(`cold start ${c.vnis}×${fmtInt(c.vteps)}: agent / bridge -batch`, c.ratio, limit, "×");
    }
  }
  if (r.latency) {
    for (const [dir, side] of [["add", r.latency.add], ["withdraw", r.latency.withdraw]] as const) {
      add(`latency ${dir}: agent share p50`, side.agent.p50, 0.5, "ms");
      add(`latency ${dir}: agent share p99`, side.agent.p99, 1, "ms");
    }
  }
  if (r.join) {
    add("join as seen by a peer, p99", r.join.join.p99, 100, "ms");
    add("withdraw as seen by a peer, p99", r.join.leave.p99, 100, "ms");
  }
  if (r.evpnColdStart) {
    const c = r.evpnColdStart;
    add(`EVPN cold start ${c.vnis}×${fmtInt(c.vteps)}: agent / bridge -batch`, c.ratio, 1.5, "×");
  }
  if (r.evpnJoin) {
    add("EVPN Type 3 as seen by a peer, p99", r.evpnJoin.join.p99, 100, "ms");
    add("EVPN Type 3 withdrawal as seen by a peer, p99", r.evpnJoin.leave.p99, 100, "ms");
  }
  if (r.churn) {
    // The agent's last write (its log) when the dump is exact; the mirror's
    // figure also waits for this process's own loop (both in the table).
    add(
      "churn: kernel exact after the last event",
      r.churn.agentDoneMs ?? r.churn.timeToExactMs,
      1_000,
      "ms",
    );
    add("churn: writes / net change", r.churn.writes.total / r.churn.minWrites, 1.2, "×");
  }
  // Judged on the threads' schedstat (ns): utime+stime counts 10 ms ticks, as
  // coarse as the whole budget. Both are in the table and the JSON.
  if (r.idle) add("idle CPU", r.idle.cpuMsPerMinute, 10, "ms/min");
  if (r.http) {
    add(
      "endpoint under load: RSS peak / before",
      r.http.rssKiBPeak / r.http.rssKiBBefore,
      RSS_PEAK_BOUND,
      "×",
    );
  }
  const big = r.coldStart.filter((c) => c.entries >= 100_000 && c.agent.rssSettledKiB !== null);
  if (big.length > 0) {
    const rss = Math.max(...big.map((c) => c.agent.rssSettledKiB!)) / 1024;
    add("RSS at 100,000 entries (settled)", rss, 100, "MiB");
  }
  return out;
}

function verdict(t: TargetCheck | undefined): string {
  if (t === undefined) return "";
  if (t.met === null || t.value === null) return "not measured";
  if (t.met) return "meets";
  return `MISSES: ${fmtRatio(t.value / t.target)} the limit`;
}

function trio(s: Summary): string {
  return `${fmtMs(s.p50)} / ${fmtMs(s.p99)} / ${fmtMs(s.max)}`;
}

function targetText(t: TargetCheck | undefined): string {
  if (t === undefined) return "";
  return t.unit === "×" ? `≤ ${t.target}×` : `≤ ${t.target} ${t.unit}`;
}

/** The one table: Markdown, aligned. */
export function renderTable(r: BenchResults): string {
  const rows: string[][] = [];
  const target = (name: string) => r.targets.find((t) => t.name === name);
  const row = (
    scenario: string,
    measure: string,
    agent: string,
    baseline: string,
    ratio: string,
    t?: TargetCheck,
  ) => rows.push([scenario, measure, agent, baseline, ratio, targetText(t), verdict(t)]);

  if (r.idleFootprint) {
    const f = r.idleFootprint;
    const a = f.agent.rssKiB;
    const b = f.bareDeno.rssKiB;
    const flags = f.runtimeArgs.filter((x) => x.startsWith("--v8-flags")).join(" ");
    row(
      "footprint idle, no entries (1 VNI online)",
      `RSS (peak) after ${f.settleSeconds} s; baseline: bare Deno${flags ? `, ${flags}` : ""}`,
      `${fmtKiB(a ?? undefined)} (${fmtKiB(f.agent.hwmKiB ?? undefined)})`,
      fmtKiB(b ?? undefined),
      a !== null && b !== null ? fmtRatio(a / b) : "",
      target("idle RSS, no entries"),
    );
  }
  if (r.join) {
    const j = r.join;
    const n = `${j.join.n}+${j.leave.n} samples${j.timeouts ? `, ${j.timeouts} timeouts` : ""}`;
    row(
      "join (device → peer RIB)",
      `p50 / p99 / max (${n})`,
      trio(j.join),
      "",
      "",
      target("join as seen by a peer, p99"),
    );
    row(
      "leave (device gone → peer RIB)",
      "p50 / p99 / max",
      trio(j.leave),
      "",
      "",
      target("withdraw as seen by a peer, p99"),
    );
  }
  if (r.evpnJoin) {
    const j = r.evpnJoin;
    const n = `${j.join.n}+${j.leave.n} samples${j.timeouts ? `, ${j.timeouts} timeouts` : ""}`;
    row(
      "EVPN join (device → Type 3 in peer RIB)",
      `p50 / p99 / max (${n})`,
      trio(j.join),
      "",
      "",
      target("EVPN Type 3 as seen by a peer, p99"),
    );
    row(
      "EVPN leave (device gone → withdrawn)",
      "p50 / p99 / max",
      trio(j.leave),
      "",
      "",
      target("EVPN Type 3 withdrawal as seen by a peer, p99"),
    );
  }
  if (r.evpnColdStart) {
    const c = r.evpnColdStart;
    row(
      `EVPN cold start ${c.vnis}×${fmtInt(c.vteps)} (${fmtInt(c.entries)} Type 3 routes)`,
      "spawn → last entry vs bridge -batch",
      fmtMs(c.agent.ms ?? undefined),
      fmtMs(c.baseline.ms),
      c.ratio === null ? "" : fmtRatio(c.ratio),
      target(`EVPN cold start ${c.vnis}×${fmtInt(c.vteps)}: agent / bridge -batch`),
    );
  }
  for (const c of r.coldStart) {
    const name = `cold start ${c.vnis}×${fmtInt(c.vteps)} (${fmtInt(c.entries)} entries)`;
    const t = r.targets.find((x) => x.name.startsWith(`cold start ${c.vnis}×${fmtInt(c.vteps)}`));
    row(
      name,
      "spawn → last entry vs bridge -batch",
      fmtMs(c.agent.ms ?? undefined),
      fmtMs(c.baseline.ms),
      fmtRatio(c.ratio ?? undefined),
      t,
    );
    const split = [
      `first entry ${fmtMs(c.agent.firstEntryMs ?? undefined)}`,
      `table logged ${fmtMs(c.agent.tableLoggedMs ?? undefined)}`,
      `CPU ${fmtMs(c.agent.cpuMs ?? undefined)}`,
      `writes ${fmtInt(c.agent.writes.added + c.agent.writes.removed)}`,
    ].join(", ");
    row("", "agent breakdown", split, "", "");
  }
  if (r.latency) {
    const l = r.latency;
    const floor = r.coldStart[0]?.baseline.singleWrite;
    const sides: [string, LatencySide][] = [["add", l.add], ["withdraw", l.withdraw]];
    for (const [dir, s] of sides) {
      const n = `${s.endToEnd.n} samples${s.timeouts ? `, ${s.timeouts} timeouts` : ""}`;
      row(
        `latency ${dir}`,
        `write → kernel vs bare watcher, p50 / p99 / max (${n})`,
        trio(s.endToEnd),
        trio(s.gobgpd),
        fmtRatio(s.endToEnd.p50 / s.gobgpd.p50),
      );
      const one = dir === "add" ? floor?.append : floor?.del;
      row(
        "",
        "agent share p50 (baseline: one libnl write, same device size)",
        fmtMs(s.agent.p50),
        one ? fmtMs(one.p50) : "",
        one ? fmtRatio(s.agent.p50 / one.p50) : "",
        target(`latency ${dir}: agent share p50`),
      );
      row(
        "",
        "agent share p99 (max)",
        `${fmtMs(s.agent.p99)} (${fmtMs(s.agent.max)})`,
        "",
        "",
        target(`latency ${dir}: agent share p99`),
      );
    }
  }
  if (r.churn) {
    const c = r.churn;
    row(
      `churn ${fmtInt(c.events)} events / ${fmtMs(c.sendMs)}`,
      "last write → agent's last write, dump exact (seen here; bare watcher: → final RIB)",
      `${fmtMs(c.agentDoneMs ?? undefined)} (${fmtMs(c.timeToExactMs ?? undefined)})`,
      fmtMs(c.watcherLagMs ?? undefined),
      "",
      target("churn: kernel exact after the last event"),
    );
    row(
      "",
      `flood writes vs net change (event by event: ${fmtInt(c.eventWrites)})`,
      fmtInt(c.writes.total),
      fmtInt(c.minWrites),
      fmtRatio(c.writes.total / c.minWrites),
      target("churn: writes / net change"),
    );
  }
  if (r.idle) {
    const i = r.idle;
    row(
      `after the burst, ${i.settle.seconds} s`,
      "CPU (utime+stime), RSS before → after",
      `${i.settle.cpuMsTicks} ms, ${fmtKiB(i.settle.rssKiBBefore)} → ${
        fmtKiB(i.settle.rssKiBAfter)
      }`,
      "",
      "",
    );
    row(
      `idle ${i.seconds} s`,
      "CPU per minute: threads' schedstat (utime+stime, 10 ms ticks)",
      `${i.cpuMsPerMinute.toFixed(1)} ms/min (${i.cpuMsTicksPerMinute.toFixed(0)} ms/min)`,
      "",
      "",
      target("idle CPU"),
    );
    row(
      "",
      "wake-ups: context switches per minute, all threads (main thread)",
      `${i.wakeupsPerMinute.toFixed(0)}/min (${
        (i.mainThreadWakeups * 60 / i.seconds).toFixed(0)
      }/min)`,
      "",
      "",
    );
  }
  if (r.http) {
    const h = r.http;
    const base = h.rssKiBBefore;
    row(
      `endpoint: ${fmtInt(h.idle)} idle connections + ${fmtInt(h.scrapes)} concurrent /metrics`,
      "scrapes answered 200 (other, failed) in; /healthz after",
      `${fmtInt(h.scrapesOk)} (${fmtInt(h.scrapesOther)}, ${fmtInt(h.scrapesFailed)}) in ${
        fmtMs(h.scrapeMs)
      }; ${h.probe}`,
      "",
      "",
    );
    row(
      "",
      `RSS peak; after ${h.afterSeconds} s (baseline: RSS before the load)`,
      `${fmtKiB(h.rssKiBPeak)}; ${fmtKiB(h.rssKiBAfter)}`,
      fmtKiB(base),
      `${fmtRatio(h.rssKiBPeak / base)}; ${fmtRatio(h.rssKiBAfter / base)}`,
      target("endpoint under load: RSS peak / before"),
    );
    row(
      "",
      "idle connections the agent closed itself (header timeout)",
      `${fmtInt(h.idleClosedByAgent)} of ${fmtInt(h.idle)}`,
      "",
      "",
    );
    if (h.failures.length > 0) row("", "FAILED", h.failures.join("; "), "", "");
  }
  for (const f of r.footprint) {
    // Judged per row on this run's own settled figure (the target row of the JSON takes the worst).
    const t: TargetCheck | undefined = f.entries >= 100_000 && f.rssSettledKiB !== null
      ? {
        name: "RSS at 100,000 entries (settled)",
        value: f.rssSettledKiB / 1024,
        target: 100,
        unit: "MiB",
        met: f.rssSettledKiB / 1024 <= 100,
      }
      : undefined;
    const settled = f.rssSettledKiB === null ? "" : `, settled ${fmtKiB(f.rssSettledKiB)}`;
    row(
      `footprint after ${f.after}`,
      `RSS (peak${f.rssSettledKiB === null ? "" : "; after a quiet spell"}), ${
        fmtInt(f.entries)
      } entries`,
      `${fmtKiB(f.rssKiB ?? undefined)} (${fmtKiB(f.hwmKiB ?? undefined)}${settled})`,
      "",
      "",
      t,
    );
  }
  for (const s of r.agentStops) {
    row(
      `stop after ${s.after}`,
      "SIGTERM → exit (the agent promises 2 s)",
      s.killed ? `no exit in ${fmtMs(s.elapsedMs)}: SIGKILL` : fmtMs(s.elapsedMs),
      "",
      "",
    );
  }
  const header = ["Scenario", "Measure", "Agent", "Baseline", "Ratio", "Target", "Result"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

async function command(cmd: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdin: "null" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.trim();
  } catch {
    return "unknown";
  }
}

/** nproc, CPU, memory, kernel, Deno, gobgpd, iproute2, libnl, commit. */
export async function describeMachine(repoDir: string): Promise<Machine> {
  let cpu = "unknown";
  let memoryMiB = 0;
  try {
    cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? cpu;
    const kib = /MemTotal:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
    memoryMiB = kib ? Math.round(Number(kib) / 1024) : 0;
  } catch {
    // not Linux: leave unknown
  }
  return {
    nproc: Number(await command(["nproc"])) || navigator.hardwareConcurrency,
    cpu,
    memoryMiB,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    gobgpd: (await command(["gobgpd", "--version"])).replace(/^gobgpd version /, ""),
    iproute2: (await command(["ip", "-V"])).replace(/^ip utility, /, ""),
    libnl: await command(["dpkg-query", "-W", "-f=${Version}", "libnl-route-3-200"]),
    commit: await command(["git", "-C", repoDir, "describe", "--always", "--dirty"]),
  };
}
