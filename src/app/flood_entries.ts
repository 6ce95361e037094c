/**
 * Flood entries as the reconciler's first entry kind: the key of
 * `00:00:00:00:00:00 dst X` on a device is X.
 *
 * @module
 */
import type { EntryPort } from "../reconcile/reconciler.ts";
import type { FdbPort } from "./ports.ts";

/** The flood entries of `fdb`, keyed by destination. */
export function floodEntries(fdb: FdbPort): EntryPort {
  const all = fdb.listFloodAll?.bind(fdb);
  return {
    list: (target) => fdb.listFlood(target.ifindex),
    ...(all ? { listAll: () => all() } : {}),
    add: (target, dst) => fdb.appendFlood(target.ifindex, dst, target.device),
    delete: (target, dst) => fdb.delFlood(target.ifindex, dst, target.device),
  };
}
