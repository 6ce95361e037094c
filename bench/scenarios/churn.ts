/**
 * Scenario 4, churn: against the steady table, a pool of extra VTEPs (half
 * of them present at the start, each in 1–3 VNIs) receives N random events
 * (add, change of VNIs, withdraw) spread evenly over a few seconds, in
 * batches of one `AddPathStream` request every 25 ms.
 *
 * Reported:
 * - time from the last write until the kernel is exact (the arrival of the
 *   last change notification, once a dump confirms the final state);
 * - flood writes the agent made (its "Added/Removed flood entry" log lines
 *   during the window) against the minimum, the net change between the
 *   state before and after, and against what applying every event one by
 *   one would write.
 *
 * @module
 */
import { delay } from "../../scripts/lab/wait.ts";
import {
  churnVtep,
  deviceName,
  entryCount,
  type FloodState,
  vniCommunity,
  vtepPath,
  withdrawPath,
} from "../routes.ts";
import type { PathMessage } from "../../src/bgp/path_codec.ts";
import type { Community } from "../../src/net/community.ts";
import { prng, round } from "../stats.ts";
import { checkFlood, type StateCheck } from "../verify.ts";
import type { SteadyContext } from "./cold_start.ts";

export interface ChurnOptions {
  events: number;
  durationMs: number;
  /** Extra VTEPs the events pick from. */
  pool: number;
  /** PRNG seed (same seed, same events). */
  seed?: number;
}

export interface ChurnResult {
  events: number;
  batches: number;
  pool: number;
  /** First to last write, ms. */
  sendMs: number;
  /** Last write → the bare watcher holds the final state (gobgpd's share), ms. */
  watcherLagMs: number | null;
  /**
   * Last write → the kernel's last change, when the final state is exact and
   * this process saw that change (else null), ms.
   */
  timeToExactMs: number | null;
  /**
   * Last write → the agent's last flood write (its log line, ms resolution:
   * written after the kernel acknowledged it), when the final state is exact.
   * Unlike `timeToExactMs` it does not wait for this process's own event
   * loop, which is busy with the bare watcher's checks after a burst.
   */
  agentDoneMs: number | null;
  /** Kernel changes seen here after the last write (0 would make the time meaningless). */
  changesAfterLastWrite: number;
  /** Whether this process's notification-fed view matched the final dump. */
  mirrorExact: boolean;
  /** Entries that differ between the state before and after: the fewest writes possible. */
  minWrites: number;
  /** Writes if every event were applied on its own (no coalescing). */
  eventWrites: number;
  /** Flood writes the agent logged during the window. */
  writes: { added: number; removed: number; total: number };
  /** Flood notifications seen here during the window. */
  notifications: { new: number; del: number };
  overruns: number;
  pre: StateCheck;
  check: StateCheck;
}

const BATCH_INTERVAL_MS = 25;

type Model = Map<string, number[]>;

function addTo(state: FloodState, vtep: string, vnis: readonly number[]) {
  for (const vni of vnis) state.get(deviceName(vni))?.add(vtep);
}

function entriesOf(model: Model): Set<string> {
  const out = new Set<string>();
  for (const [vtep, vnis] of model) for (const vni of vnis) out.add(`${vni}/${vtep}`);
  return out;
}

function symmetricDifference(a: Set<string>, b: Set<string>): number {
  let n = 0;
  for (const x of a) if (!b.has(x)) n++;
  for (const x of b) if (!a.has(x)) n++;
  return n;
}

export async function churn(ctx: SteadyContext, options: ChurnOptions): Promise<ChurnResult> {
  const { lab, watch, agent } = ctx;
  const { mirror } = lab;
  const random = prng(options.seed ?? 42);
  const pool = Array.from({ length: options.pool }, (_, i) => churnVtep(i));
  const someVnis = (): number[] => {
    const n = 1 + Math.floor(random() * Math.min(3, ctx.vnis.length));
    const chosen = new Set<number>();
    while (chosen.size < n) chosen.add(ctx.vnis[Math.floor(random() * ctx.vnis.length)]!);
    return [...chosen].sort((a, b) => a - b);
  };

  // Pre-populate half the pool and wait until the kernel has it.
  const model: Model = new Map();
  for (const vtep of pool) if (random() < 0.5) model.set(vtep, someVnis());
  lab.log(`churn: pre-loading ${model.size} of ${pool.length} pool VTEPs`);
  await lab.load([...model].map(([vtep, vnis]) => vtepPath(vtep, vnis)));
  for (const [vtep, vnis] of model) addTo(ctx.expected, vtep, vnis);
  const total0 = entryCount(ctx.expected);
  await mirror.until(() => mirror.watchedSize === total0, 60_000);
  await mirror.quiet(300, 10_000);
  const pre = checkFlood(mirror.dump(), ctx.expected, ctx.ifindexes);
  const before = entriesOf(model);

  // The events, in batches.
  const batches: PathMessage[][] = [];
  const batchCount = Math.max(1, Math.round(options.durationMs / BATCH_INTERVAL_MS));
  let eventWrites = 0;
  for (let b = 0; b < batchCount; b++) {
    const size = Math.floor(((b + 1) * options.events) / batchCount) -
      Math.floor((b * options.events) / batchCount);
    const paths: PathMessage[] = [];
    for (let e = 0; e < size; e++) {
      const vtep = pool[Math.floor(random() * pool.length)]!;
      const old = model.get(vtep) ?? [];
      if (old.length > 0 && random() < 0.5) {
        model.delete(vtep);
        paths.push(withdrawPath(vtep));
        eventWrites += old.length;
      } else {
        const next = someVnis();
        model.set(vtep, next);
        paths.push(vtepPath(vtep, next));
        eventWrites += next.filter((v) => !old.includes(v)).length +
          old.filter((v) => !next.includes(v)).length;
      }
    }
    batches.push(paths);
  }
  const after = entriesOf(model);
  const minWrites = symmetricDifference(before, after);

  // The final expected state: steady entries plus the pool's final state.
  for (const set of ctx.expected.values()) for (const vtep of pool) set.delete(vtep);
  for (const [vtep, vnis] of model) addTo(ctx.expected, vtep, vnis);

  lab.log(
    `churn: ${options.events} events in ${batches.length} batches over ${options.durationMs} ms`,
  );
  const mark = agent.logMark();
  const counters0 = { ...mirror.counters };
  const watcherFinal = watch.until(
    () => pool.every((vtep) => sameVnis(watch.communities(vtep), model.get(vtep))),
    60_000,
  );
  const stream = lab.pathStream();
  const t0 = performance.now();
  let tLast = t0;
  let tLastWall = Date.now();
  for (let b = 0; b < batches.length; b++) {
    const wait = t0 + b * BATCH_INTERVAL_MS - performance.now();
    if (wait > 0) await delay(wait);
    stream.write(batches[b]!);
    tLast = performance.now();
    tLastWall = Date.now();
  }
  const changesAtLast = mirror.counters.changes;
  await stream.end();
  const tWatch = await watcherFinal;

  // Wait for the kernel to be exact and quiet (bounded).
  let check = checkFlood(mirror.dump(), ctx.expected, ctx.ifindexes);
  const deadline = performance.now() + 60_000;
  for (let i = 0; i < 200 && performance.now() < deadline; i++) {
    await mirror.quiet(500, 10_000);
    check = checkFlood(mirror.dump(), ctx.expected, ctx.ifindexes);
    if (check.exact) break;
    await delay(100);
  }
  // The mirror must agree with the dump, or its last-change time means nothing.
  let mirrorCheck = checkFlood(mirror.view(), ctx.expected, ctx.ifindexes);
  for (let i = 0; i < 100 && check.exact && !mirrorCheck.exact; i++) {
    await delay(50);
    mirrorCheck = checkFlood(mirror.view(), ctx.expected, ctx.ifindexes);
  }
  const changesAfterLast = mirror.counters.changes - changesAtLast;
  const facts = agent.facts(mark);
  return {
    events: options.events,
    batches: batches.length,
    pool: options.pool,
    sendMs: round(tLast - t0, 1),
    watcherLagMs: tWatch === undefined ? null : round(tWatch - tLast, 1),
    timeToExactMs: check.exact && mirrorCheck.exact && changesAfterLast > 0
      ? round(mirror.lastChangeAt - tLast, 1)
      : null,
    agentDoneMs: check.exact && facts.lastWriteWall !== undefined
      ? Math.max(0, facts.lastWriteWall - tLastWall)
      : null,
    changesAfterLastWrite: changesAfterLast,
    mirrorExact: mirrorCheck.exact,
    minWrites,
    eventWrites,
    writes: { added: facts.added, removed: facts.removed, total: facts.added + facts.removed },
    notifications: {
      new: mirror.counters.new - counters0.new,
      del: mirror.counters.del - counters0.del,
    },
    overruns: mirror.counters.overruns - counters0.overruns,
    pre,
    check,
  };
}

function sameVnis(
  communities: readonly Community[] | undefined,
  vnis: number[] | undefined,
): boolean {
  if (vnis === undefined || vnis.length === 0) return communities === undefined;
  if (communities === undefined || communities.length !== vnis.length) return false;
  return vnis.every((vni) => communities.includes(vniCommunity(vni)));
}
