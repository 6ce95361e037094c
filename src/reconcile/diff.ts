/**
 * The pure core of reconciliation: what to write so that the programmed flood
 * list of one device becomes the desired one.
 *
 * @module
 */

/** FDB operations for one device. */
export interface FdbDiff {
  /** Destinations to append (`bridge fdb append 00:00:00:00:00:00 dst X`). */
  add: string[];
  /** Destinations to delete (`bridge fdb del 00:00:00:00:00:00 dst X`). */
  del: string[];
}

/**
 * Computes the writes that turn `programmed` into `desired`. Entries present
 * in both are left alone, so a valid entry is never flapped. Both outputs are
 * sorted, so the order of writes is deterministic.
 */
export function diff(desired: ReadonlySet<string>, programmed: ReadonlySet<string>): FdbDiff {
  const add: string[] = [];
  const del: string[] = [];
  for (const dst of desired) if (!programmed.has(dst)) add.push(dst);
  for (const dst of programmed) if (!desired.has(dst)) del.push(dst);
  return { add: add.sort(), del: del.sort() };
}
