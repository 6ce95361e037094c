/**
 * A process's footprint from `/proc`: memory (`VmRSS`, `VmHWM`), CPU time
 * and context switches, summed over all its threads.
 *
 * - CPU time: `utime + stime` of `/proc/<pid>/stat` (clock ticks, all
 *   threads, as `ps` reports it) and, with nanosecond resolution, the sum of
 *   the first field of `/proc/<pid>/task/<tid>/schedstat` over the threads
 *   alive at the time of the sample.
 * - Wake-ups: `voluntary_ctxt_switches` (the thread went to sleep and was
 *   woken) and `nonvoluntary_ctxt_switches` (preempted), summed over the
 *   threads; the main thread's own figures beside them.
 *
 * Parsing is pure and tested in `procstat_test.ts`.
 *
 * @module
 */

/** One thread's counters. */
export interface ThreadSample {
  /** Run time, ns (schedstat). */
  cpuNs: number;
  voluntary: number;
  nonvoluntary: number;
}

/** One sample of a process. */
export interface ProcSample {
  /** `performance.now()` when taken. */
  at: number;
  rssKiB: number;
  hwmKiB: number;
  /** utime + stime, in clock ticks (all threads, including exited ones). */
  cpuTicks: number;
  /** Sum of the live threads' run time, in nanoseconds. */
  cpuNs: number;
  /** Voluntary context switches, all live threads. */
  voluntary: number;
  /** Non-voluntary context switches, all live threads. */
  nonvoluntary: number;
  /** Voluntary context switches of the main thread. */
  mainVoluntary: number;
  threads: number;
  /** Per live thread, by tid. */
  perThread: Map<string, ThreadSample>;
}

/** What happened between two samples of one process. */
export interface ProcDelta {
  /** CPU time by the ticks of /proc/<pid>/stat (10 ms resolution; includes exited threads), ms. */
  cpuMsTicks: number;
  /**
   * CPU time of the threads alive at the end (ns resolution), ms. Threads that
   * exited within the window are missing here (see `exitedThreads`).
   */
  cpuMs: number;
  /** Voluntary + non-voluntary switches of the threads alive at the end. */
  wakeups: number;
  mainThreadWakeups: number;
  startedThreads: number;
  exitedThreads: number;
}

/** The difference `b − a`, thread by thread. Pure. */
export function procDelta(a: ProcSample, b: ProcSample, ticksPerSecond = 100): ProcDelta {
  let cpuNs = 0;
  let wakeups = 0;
  let started = 0;
  for (const [tid, t] of b.perThread) {
    const before = a.perThread.get(tid);
    if (before === undefined) started++;
    cpuNs += t.cpuNs - (before?.cpuNs ?? 0);
    wakeups += t.voluntary + t.nonvoluntary - (before?.voluntary ?? 0) -
      (before?.nonvoluntary ?? 0);
  }
  let exited = 0;
  for (const tid of a.perThread.keys()) if (!b.perThread.has(tid)) exited++;
  return {
    cpuMsTicks: ((b.cpuTicks - a.cpuTicks) * 1000) / ticksPerSecond,
    cpuMs: cpuNs / 1e6,
    wakeups,
    mainThreadWakeups: b.mainVoluntary - a.mainVoluntary,
    startedThreads: started,
    exitedThreads: exited,
  };
}

/** The `Key:  value` fields of `/proc/<pid>/status`, values as numbers where they are. */
export function parseStatus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_]+):\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** utime + stime (fields 14 and 15) of `/proc/<pid>/stat`, in clock ticks. */
export function parseStatCpuTicks(text: string): number {
  // comm (field 2) may contain spaces and parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(/\s+/);
  // fields[0] is field 3; field 14 is fields[11], field 15 is fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new SyntaxError(`Cannot parse /proc stat line "${text.slice(0, 80)}"`);
  }
  return utime + stime;
}

/** The run time in nanoseconds (first field) of `/proc/<pid>/task/<tid>/schedstat`. */
export function parseSchedstatNs(text: string): number {
  const ns = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(ns)) throw new SyntaxError(`Cannot parse schedstat "${text.trim()}"`);
  return ns;
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Samples `pid`; undefined when the process is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  const at = performance.now();
  const status = read(`/proc/${pid}/status`);
  const stat = read(`/proc/${pid}/stat`);
  if (status === undefined || stat === undefined) return undefined;
  const main = parseStatus(status);
  const sample: ProcSample = {
    at,
    rssKiB: main.get("VmRSS") ?? 0,
    hwmKiB: main.get("VmHWM") ?? 0,
    cpuTicks: parseStatCpuTicks(stat),
    cpuNs: 0,
    voluntary: 0,
    nonvoluntary: 0,
    mainVoluntary: main.get("voluntary_ctxt_switches") ?? 0,
    threads: 0,
    perThread: new Map(),
  };
  let tids: string[] = [];
  try {
    tids = [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => e.name);
  } catch {
    return sample;
  }
  for (const tid of tids) {
    const tStatus = read(`/proc/${pid}/task/${tid}/status`);
    const sched = read(`/proc/${pid}/task/${tid}/schedstat`);
    if (tStatus === undefined || sched === undefined) continue; // exited meanwhile
    const fields = parseStatus(tStatus);
    const thread: ThreadSample = {
      cpuNs: parseSchedstatNs(sched),
      voluntary: fields.get("voluntary_ctxt_switches") ?? 0,
      nonvoluntary: fields.get("nonvoluntary_ctxt_switches") ?? 0,
    };
    sample.perThread.set(tid, thread);
    sample.voluntary += thread.voluntary;
    sample.nonvoluntary += thread.nonvoluntary;
    sample.cpuNs += thread.cpuNs;
    sample.threads++;
  }
  return sample;
}
