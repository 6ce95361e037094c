/**
 * Scenario 1, cold start: gobgpd preloaded with K remote VTEPs, each a
 * member of all M VNIs (M devices, K×M flood entries). The floor:
 * `bridge -batch` appending the same entries into fresh devices. Then the
 * agent, started as users start it, into fresh devices again: time from the
 * spawn to the last entry's RTNLGRP_NEIGH notification.
 *
 * Both figures are taken so as not to flatter the agent: the floor is the
 * `bridge` process's wall time (spawn to exit; every write was acknowledged
 * before it exits), the agent's time ends at the arrival of the last
 * notification in this process (a little after the kernel made it).
 *
 * @module
 */
import { delay } from "../../scripts/lab/wait.ts";
import type { AgentRun, BenchLab } from "../lab.ts";
import { RibWatch } from "../rib_watch.ts";
import {
  bridgeBatch,
  entryCount,
  type FloodState,
  imetPath,
  probeVtep,
  steadyState,
  steadyVtep,
  vniList,
  vtepPath,
} from "../routes.ts";
import { round, roundSummary, summarize, type Summary } from "../stats.ts";
import { checkFlood, type StateCheck } from "../verify.ts";

/** One cold-start size. */
export interface ColdStartSize {
  vnis: number;
  vteps: number;
}

export interface ColdStartResult {
  vnis: number;
  vteps: number;
  entries: number;
  baseline: {
    /** `bridge -batch` wall time, spawn to exit, ms. */
    ms: number;
    /** Spawn to the last notification's arrival here, ms. */
    lastNotificationMs: number | null;
    check: StateCheck;
    /**
     * The kernel floor of one write: a single append, then delete, of an
     * extra remote through libnl in this process, on a device already
     * holding the K remotes (ms).
     */
    singleWrite: { append: Summary; del: Summary };
  };
  agent: {
    /** Spawn to the last entry's notification, ms; null when it never got there. */
    ms: number | null;
    /** Spawn to the first entry's notification, ms. */
    firstEntryMs: number | null;
    /** Spawn to the agent's "Received ... table" log line (ms resolution). */
    tableLoggedMs: number | null;
    /** Spawn to the last "Added flood entry" line (ms resolution). */
    lastWriteLoggedMs: number | null;
    /** Flood writes the agent logged. */
    writes: { added: number; removed: number };
    /** CPU time of the agent process from spawn to done (utime+stime, 10 ms ticks), ms. */
    cpuMs: number | null;
    rssKiB: number | null;
    hwmKiB: number | null;
    /** RSS after `settleMs` without events (garbage collected by then). */
    rssSettledKiB: number | null;
    check: StateCheck;
    problems: string[];
  };
  /** agent.ms / baseline.ms. */
  ratio: number | null;
  /** Notification overruns in this process during the scenario (times less exact). */
  overruns: number;
}

export interface ColdStartOptions {
  /** Budget for the agent to program everything, ms. */
  timeoutMs: number;
  /** Every VNI any size uses, so devices of an earlier size are removed. */
  allVnis: readonly number[];
  /** Quiet time before the settled RSS sample, ms. */
  settleMs: number;
  /**
   * EVPN: every VTEP sends one Type 3 route per VNI (K×M paths, route
   * target `65000:<VNI>`), and the agent runs with `mode: evpn`. @default false
   */
  evpn?: boolean;
}

/** What a cold start leaves running for the scenarios that follow it. */
export interface SteadyContext {
  lab: BenchLab;
  agent: AgentRun;
  vnis: number[];
  /** Device name → ifindex. */
  ifindexes: Map<string, number>;
  /** The flood lists the kernel must hold (scenarios update it). */
  expected: FloodState;
  /** A bare WatchEvent client on the home gobgpd. */
  watch: RibWatch;
}

export async function coldStart(
  lab: BenchLab,
  size: ColdStartSize,
  options: ColdStartOptions,
): Promise<{ result: ColdStartResult; context: SteadyContext }> {
  const { mirror } = lab;
  const vnis = vniList(size.vnis);
  const expected = steadyState(vnis, size.vteps);
  const entries = entryCount(expected);
  const label = `${size.vnis} VNIs × ${size.vteps} VTEPs`;

  const evpn = options.evpn ?? false;
  const paths = evpn
    ? Array.from({ length: size.vteps }, (_, i) => vnis.map((vni) => imetPath(steadyVtep(i), vni)))
      .flat()
    : Array.from({ length: size.vteps }, (_, i) => vtepPath(steadyVtep(i), vnis));
  lab.log(`cold start ${label}: fresh gobgpd, loading ${paths.length} paths`);
  await lab.restartHomeGobgpd();
  await lab.deleteDevices(options.allVnis);
  await lab.load(paths);
  const watch = new RibWatch(lab.client);
  const loaded = await watch.ready(60_000);
  // The watch counts community /32s: an EVPN table has none.
  if (loaded !== (evpn ? 0 : size.vteps)) {
    throw new Error(`gobgpd holds ${loaded} paths after loading ${size.vteps}`);
  }
  const overruns0 = mirror.counters.overruns;

  // The floor: bridge -batch into fresh devices.
  let ifindexes = await lab.createDevices(vnis);
  mirror.reload();
  mirror.watch(ifindexes.values());
  const batch = lab.topo.file("floor.batch");
  await Deno.writeTextFile(batch, bridgeBatch(expected));
  lab.log(`cold start ${label}: bridge -batch floor (${entries} entries)`);
  const floorDone = mirror.until(() => mirror.watchedSize === entries, options.timeoutMs);
  const b0 = performance.now();
  await lab.topo.exec(lab.home, ["bridge", "-batch", batch]);
  const bExit = performance.now();
  const bLast = await floorDone;
  await mirror.quiet(200, 5_000);
  const baselineCheck = checkFlood(mirror.dump(), expected, ifindexes);
  const singleWrite = measureSingleWrites(lab, ifindexes, WRITE_SAMPLES);

  // The agent, into fresh devices.
  await lab.deleteDevices(vnis);
  ifindexes = await lab.createDevices(vnis);
  mirror.reload();
  mirror.watch(ifindexes.values());
  lab.log(`cold start ${label}: agent`);
  const first = mirror.until(() => mirror.watchedSize > 0, options.timeoutMs);
  const done = mirror.until(() => mirror.watchedSize === entries, options.timeoutMs);
  const agent = await lab.startAgent(lab.home, evpn ? { mode: "evpn" } : {});
  const exited = agent.handle.exited().then(() => undefined);
  const aDone = await Promise.race([done, exited]);
  const aFirst = await Promise.race([first, Promise.resolve(undefined)]);
  const sample = agent.sample();
  await mirror.quiet(300, 10_000);
  const agentCheck = checkFlood(mirror.dump(), expected, ifindexes);
  const facts = agent.facts();
  await delay(options.settleMs);
  const settled = agent.sample();
  const sinceSpawn = (t: number | undefined) =>
    t === undefined ? null : round(t - agent.startedAt, 1);
  const sinceWall = (t: number | undefined) =>
    t === undefined ? null : round(t - agent.startedWall, 1);
  const baselineMs = round(bExit - b0, 1);
  const agentMs = sinceSpawn(aDone);

  const result: ColdStartResult = {
    vnis: size.vnis,
    vteps: size.vteps,
    entries,
    baseline: {
      ms: baselineMs,
      lastNotificationMs: bLast === undefined ? null : round(bLast - b0, 1),
      check: baselineCheck,
      singleWrite,
    },
    agent: {
      ms: agentMs,
      firstEntryMs: sinceSpawn(aFirst),
      tableLoggedMs: sinceWall(facts.tableWall),
      lastWriteLoggedMs: sinceWall(facts.lastWriteWall),
      writes: { added: facts.added, removed: facts.removed },
      cpuMs: sample ? sample.cpuTicks * 10 : null,
      rssKiB: sample?.rssKiB ?? null,
      hwmKiB: sample?.hwmKiB ?? null,
      rssSettledKiB: settled?.rssKiB ?? null,
      check: agentCheck,
      problems: facts.problems,
    },
    ratio: agentMs === null ? null : round(agentMs / baselineMs, 3),
    overruns: mirror.counters.overruns - overruns0,
  };
  return { result, context: { lab, agent, vnis, ifindexes, expected, watch } };
}

const WRITE_SAMPLES = 50;

/** Times single appends and deletes through libnl on the filled floor devices. */
function measureSingleWrites(
  lab: BenchLab,
  ifindexes: ReadonlyMap<string, number>,
  samples: number,
): { append: Summary; del: Summary } {
  const devices = [...ifindexes];
  const append: number[] = [];
  const del: number[] = [];
  // Untimed first use of every device (Netlink checks once that it is VXLAN).
  for (const [name, ifindex] of devices) {
    lab.nl.fdb.appendFlood(ifindex, probeVtep(PROBE_OFFSET), name);
    lab.nl.fdb.delFlood(ifindex, probeVtep(PROBE_OFFSET), name);
  }
  for (let i = 0; i < samples; i++) {
    const [name, ifindex] = devices[i % devices.length]!;
    const dst = probeVtep(PROBE_OFFSET + i);
    const t0 = performance.now();
    lab.nl.fdb.appendFlood(ifindex, dst, name);
    const t1 = performance.now();
    lab.nl.fdb.delFlood(ifindex, dst, name);
    append.push(t1 - t0);
    del.push(performance.now() - t1);
  }
  return { append: roundSummary(summarize(append)), del: roundSummary(summarize(del)) };
}

/** Probe addresses for the single-write floor, clear of the latency scenario's. */
const PROBE_OFFSET = 15_000;
