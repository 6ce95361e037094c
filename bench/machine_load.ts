/**
 * How busy the machine was during a scenario, and how much of that was
 * the benchmark's own processes (this process and the children it reaped,
 * the agent, gobgpd). On a shared two-core machine, other work (someone
 * else's test suite) shows up as `otherCores` and disturbs the timings.
 *
 * @module
 */
import { parseStatCpuTicks } from "./procstat.ts";

/** One phase's load, in cores (1.0 = one CPU busy all the time). */
export interface LoadFigures {
  seconds: number;
  /** All CPUs: user + nice + system + irq + softirq + steal. */
  totalCores: number;
  /** This process (with reaped children), the agent and gobgpd. */
  oursCores: number;
  /** The rest: other processes on the machine. */
  otherCores: number;
  /** `/proc/loadavg`'s 1-minute figure at the end. */
  loadavg1: number;
}

/** Busy jiffies of all CPUs from the first line of `/proc/stat`. Pure. */
export function parseProcStatBusy(text: string): number {
  const fields = text.split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return user + nice + system + irq + softirq + steal;
}

/** utime + stime + cutime + cstime (fields 14–17) of a `/proc/<pid>/stat` line. Pure. */
export function parseStatCpuWithChildren(text: string): number {
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(/\s+/);
  return parseStatCpuTicks(text) + Number(fields[13] ?? 0) + Number(fields[14] ?? 0);
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

interface Mark {
  at: number;
  busy: number;
  ours: Map<number, number>;
}

/** Measures one phase; `pids` lists the benchmark's long-lived processes (agent, gobgpd). */
export class LoadMeter {
  #pids: () => number[];
  #ticks: number;

  constructor(pids: () => number[], ticksPerSecond = 100) {
    this.#pids = pids;
    this.#ticks = ticksPerSecond;
  }

  /** A starting mark. */
  mark(): Mark {
    const ours = new Map<number, number>();
    for (const pid of [Deno.pid, ...this.#pids()]) {
      const stat = read(`/proc/${pid}/stat`);
      if (stat === undefined) continue;
      ours.set(pid, pid === Deno.pid ? parseStatCpuWithChildren(stat) : parseStatCpuTicks(stat));
    }
    return { at: performance.now(), busy: parseProcStatBusy(read("/proc/stat") ?? "cpu 0"), ours };
  }

  /**
   * The figures since `start`. Processes started after the mark count from
   * zero; processes that ended in between are not counted (a bias towards
   * "other", never towards "ours").
   */
  since(start: Mark): LoadFigures {
    const end = this.mark();
    const seconds = (end.at - start.at) / 1000;
    let ours = 0;
    for (const [pid, ticks] of end.ours) ours += ticks - (start.ours.get(pid) ?? 0);
    const total = end.busy - start.busy;
    const cores = (ticks: number) =>
      seconds > 0 ? Math.round((ticks / this.#ticks / seconds) * 100) / 100 : 0;
    const loadavg1 = Number((read("/proc/loadavg") ?? "0").split(" ")[0]);
    return {
      seconds: Math.round(seconds * 10) / 10,
      totalCores: cores(total),
      oursCores: cores(ours),
      otherCores: cores(Math.max(0, total - ours)),
      loadavg1,
    };
  }
}
