/**
 * The one correctness check of the benchmark: the kernel's flood lists,
 * from a fresh dump, against the expected set, device by device. Pure.
 *
 * @module
 */
import type { FloodState } from "./routes.ts";

/** The outcome of {@linkcode checkFlood}. */
export interface StateCheck {
  /** True when every device holds exactly the expected remotes and nothing else has any. */
  exact: boolean;
  expected: number;
  actual: number;
  /** Expected entries the kernel lacks. */
  missing: number;
  /** Kernel entries that are not expected (including ones on other devices). */
  extra: number;
  /** A few offending entries, for the report. */
  examples: string[];
}

/**
 * Compares a dump (ifindex → destinations) with `expected` (device name →
 * destinations), mapping names through `ifindexes`.
 */
export function checkFlood(
  dump: ReadonlyMap<number, readonly string[]>,
  expected: FloodState,
  ifindexes: ReadonlyMap<string, number>,
): StateCheck {
  const out: StateCheck = {
    exact: true,
    expected: 0,
    actual: 0,
    missing: 0,
    extra: 0,
    examples: [],
  };
  const note = (text: string) => {
    if (out.examples.length < 5) out.examples.push(text);
  };
  const names = new Map<number, string>();
  for (const [name, ifindex] of ifindexes) names.set(ifindex, name);
  for (const [device, want] of expected) {
    out.expected += want.size;
    const ifindex = ifindexes.get(device);
    const have = new Set(ifindex === undefined ? [] : dump.get(ifindex) ?? []);
    for (const dst of want) {
      if (!have.has(dst)) {
        out.missing++;
        note(`missing ${dst} on ${device}`);
      }
    }
    for (const dst of have) {
      if (!want.has(dst)) {
        out.extra++;
        note(`unexpected ${dst} on ${device}`);
      }
    }
  }
  for (const [ifindex, dsts] of dump) {
    out.actual += dsts.length;
    const name = names.get(ifindex);
    if (name !== undefined && expected.has(name)) continue;
    out.extra += dsts.length;
    if (dsts.length > 0) note(`unexpected ${dsts.length} entries on ifindex ${ifindex}`);
  }
  out.exact = out.missing === 0 && out.extra === 0;
  return out;
}
