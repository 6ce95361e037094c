/**
 * Scenario 5, footprint while idle: nothing changes for a while; the
 * agent's CPU time and wake-ups (context switches, all threads) over the
 * window, plus its memory. An idle agent should wake for nothing but gRPC
 * keepalives.
 *
 * @module
 */
import { delay } from "../../scripts/lab/wait.ts";
import { procDelta, type ProcSample } from "../procstat.ts";
import { round } from "../stats.ts";
import type { SteadyContext } from "./cold_start.ts";

export interface IdleResult {
  seconds: number;
  /** utime + stime over the window (10 ms ticks), ms. */
  cpuMsTicks: number;
  /** Run time of the threads over the window (schedstat, ns resolution), ms. */
  cpuMs: number;
  /** `cpuMs` scaled to one minute. */
  cpuMsPerMinute: number;
  /** `cpuMsTicks` scaled to one minute. */
  cpuMsTicksPerMinute: number;
  /** Voluntary + non-voluntary context switches, all threads, over the window. */
  wakeups: number;
  wakeupsPerMinute: number;
  /** The main (JavaScript) thread's voluntary switches over the window. */
  mainThreadWakeups: number;
  threads: number;
  /** Threads that started / exited within the window (e.g. Deno's blocking pool winding down). */
  startedThreads: number;
  exitedThreads: number;
  rssKiB: number;
  hwmKiB: number;
  /** Kernel flood changes and agent log lines during the window (both should be 0). */
  kernelChanges: number;
  logBytes: number;
  /** The window in 10-second slices. */
  series: IdleSlice[];
  /** The settling time before the window (not part of the figures above). */
  settle: {
    seconds: number;
    cpuMsTicks: number;
    wakeups: number;
    rssKiBBefore: number;
    rssKiBAfter: number;
  };
}

export async function idle(
  ctx: SteadyContext,
  seconds: number,
  settleSeconds: number,
): Promise<IdleResult | undefined> {
  const { agent, lab } = ctx;
  lab.log(`idle: ${settleSeconds} s to settle, then ${seconds} s measured`);
  await lab.mirror.quiet(1_000, 10_000);
  // The aftermath of the previous burst (V8 shrinking its heap, Deno's
  // blocking threads winding down) is measured apart from the window.
  const s0 = agent.sample();
  await delay(settleSeconds * 1000);
  const changes0 = lab.mirror.counters.changes;
  const log0 = agent.logMark();
  const a = agent.sample();
  if (a === undefined || s0 === undefined) return undefined;
  const settle = procDelta(s0, a);
  // One sample every 10 s as well, to show whether the cost fades (GC, thread pools winding down).
  const series: IdleSlice[] = [];
  let last = a;
  const end = a.at + seconds * 1000;
  for (let i = 0; i < 1_000 && performance.now() < end; i++) {
    await delay(Math.min(SLICE_MS, Math.max(0, end - performance.now())));
    const s = agent.sample();
    if (s === undefined) return undefined;
    const d = procDelta(last, s);
    series.push({
      atS: round((s.at - a.at) / 1000, 1),
      cpuMs: round(d.cpuMs, 3),
      cpuMsTicks: d.cpuMsTicks,
      wakeups: d.wakeups,
      mainThreadWakeups: d.mainThreadWakeups,
    });
    last = s;
  }
  const result = summarizeIdle(
    a,
    last,
    seconds,
    lab.mirror.counters.changes - changes0,
    agent.logMark() - log0,
  );
  result.series = series;
  result.settle = {
    seconds: settleSeconds,
    cpuMsTicks: settle.cpuMsTicks,
    wakeups: settle.wakeups,
    rssKiBBefore: s0.rssKiB,
    rssKiBAfter: a.rssKiB,
  };
  return result;
}

const SLICE_MS = 10_000;

/** One 10-second slice of the idle window. */
export interface IdleSlice {
  /** End of the slice, seconds into the window. */
  atS: number;
  cpuMs: number;
  cpuMsTicks: number;
  wakeups: number;
  mainThreadWakeups: number;
}

/** The idle figures between two samples. Pure. */
export function summarizeIdle(
  a: ProcSample,
  b: ProcSample,
  seconds: number,
  kernelChanges: number,
  logBytes: number,
  ticksPerSecond = 100,
): IdleResult {
  const minutes = (b.at - a.at) / 60_000;
  const d = procDelta(a, b, ticksPerSecond);
  return {
    seconds,
    cpuMsTicks: d.cpuMsTicks,
    cpuMs: round(d.cpuMs, 3),
    cpuMsPerMinute: round(d.cpuMs / minutes, 3),
    cpuMsTicksPerMinute: round(d.cpuMsTicks / minutes, 1),
    wakeups: d.wakeups,
    wakeupsPerMinute: round(d.wakeups / minutes, 1),
    mainThreadWakeups: d.mainThreadWakeups,
    threads: b.threads,
    startedThreads: d.startedThreads,
    exitedThreads: d.exitedThreads,
    rssKiB: b.rssKiB,
    hwmKiB: b.hwmKiB,
    kernelChanges,
    logBytes,
    series: [],
    settle: { seconds: 0, cpuMsTicks: 0, wakeups: 0, rssKiBBefore: 0, rssKiBAfter: 0 },
  };
}
