/**
 * From the recorded events of every node (kernel flood-entry notifications,
 * gobgpd's best-path changes) to the fabric figures: when each node's kernel
 * and each node's gobgpd first held exactly the expected set, the agent's
 * share (kernel − gobgpd), and flaps. Pure.
 *
 * @module
 */
import type { FdbEvent } from "./fdb_monitor.ts";
import type { RibEvent } from "./rib_recorder.ts";

/** A change of one key's presence at a time. */
export interface Change {
  at: number;
  key: string;
  present: boolean;
}

export function fdbChanges(events: readonly FdbEvent[], dev: string): Change[] {
  return events.filter((e) => e.dev === dev).map((e) => ({
    at: e.at,
    key: e.dst,
    present: e.type === "add",
  }));
}

export function ribChanges(events: readonly RibEvent[], self: string): Change[] {
  return events.filter((e) => e.vtep !== self).map((e) => ({
    at: e.at,
    key: e.vtep,
    present: e.member,
  }));
}

function equal(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * The time of the change after which the replayed set (from the first
 * change on) equals `expected` for the first time at or after `from`; `from`
 * itself when it already does then; undefined when it never does.
 */
export function firstExact(
  changes: readonly Change[],
  expected: ReadonlySet<string>,
  from: number,
): number | undefined {
  const state = new Set<string>();
  let i = 0;
  for (; i < changes.length && changes[i]!.at <= from; i++) {
    const c = changes[i]!;
    if (c.present) state.add(c.key);
    else state.delete(c.key);
  }
  if (equal(state, expected)) return from;
  for (; i < changes.length; i++) {
    const c = changes[i]!;
    if (c.present) state.add(c.key);
    else state.delete(c.key);
    if (equal(state, expected)) return c.at;
  }
  return undefined;
}

/** The first change of `key` to `present` after `from`, or undefined. */
export function firstChange(
  changes: readonly Change[],
  key: string,
  present: boolean,
  from: number,
): number | undefined {
  return changes.find((c) => c.at >= from && c.key === key && c.present === present)?.at;
}

/** One node's timing of one step, in ms after the step began. */
export interface NodeTiming {
  node: string;
  /** The node's kernel held the expected state. */
  kernelMs: number | null;
  /** The node's gobgpd held it (the floor). */
  gobgpdMs: number | null;
  /** kernel − gobgpd: the agent's own share. */
  agentMs: number | null;
}

export function timing(
  node: string,
  t0: number,
  kernelAt: number | undefined,
  gobgpdAt: number | undefined,
): NodeTiming {
  const ms = (at: number | undefined) => at === undefined ? null : round(at - t0);
  const kernelMs = ms(kernelAt);
  const gobgpdMs = ms(gobgpdAt);
  return {
    node,
    kernelMs,
    gobgpdMs,
    agentMs: kernelMs === null || gobgpdMs === null ? null : round(kernelMs - gobgpdMs),
  };
}

/** Max and median of a list (nulls, i.e. never reached, excluded and counted). */
export interface Spread {
  max: number | null;
  median: number | null;
  missing: number;
}

export function spread(values: readonly (number | null)[]): Spread {
  const got = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  return {
    max: got.length === 0 ? null : got[got.length - 1]!,
    median: got.length === 0 ? null : round(got[Math.floor((got.length - 1) / 2)]!),
    missing: values.length - got.length,
  };
}

/** The three spreads of a step over all nodes. */
export interface StepSummary {
  kernel: Spread;
  gobgpd: Spread;
  agent: Spread;
}

export function summarise(nodes: readonly NodeTiming[]): StepSummary {
  return {
    kernel: spread(nodes.map((n) => n.kernelMs)),
    gobgpd: spread(nodes.map((n) => n.gobgpdMs)),
    agent: spread(nodes.map((n) => n.agentMs)),
  };
}

/** Deletions (and re-additions) of entries that should have stayed, after `from`. */
export interface Flaps {
  deleted: number;
  readded: number;
  examples: string[];
}

export function flaps(
  changes: readonly Change[],
  keep: ReadonlySet<string>,
  from: number,
  node: string,
): Flaps {
  const out: Flaps = { deleted: 0, readded: 0, examples: [] };
  const gone = new Set<string>();
  for (const c of changes) {
    if (c.at < from || !keep.has(c.key)) continue;
    if (!c.present) {
      out.deleted++;
      gone.add(c.key);
      if (out.examples.length < 3) out.examples.push(`${node}: deleted ${c.key}`);
    } else if (gone.has(c.key)) {
      out.readded++;
      gone.delete(c.key);
    }
  }
  return out;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
