/**
 * The agent's view of received EVPN Type 3 (IMET) routes: for each route
 * (keyed by its NLRI, so a re-sent route replaces the earlier one) the
 * remote VTEP and the route targets worth keeping, with an index from route
 * target to VTEPs. Two routes may bring the same VTEP to the same route
 * target (two RDs, say): the VTEP stays until the last of them goes.
 *
 * @module
 */

export class ImetTable {
  #byKey = new Map<string, { vtep: string; rts: readonly string[] }>();
  /** route target key → VTEP → number of routes bringing it. */
  #byRt = new Map<string, Map<string, number>>();

  /**
   * Sets route `key` to bring `vtep` to route targets `rts` (their keys);
   * an empty list removes it. Returns the route targets whose VTEP set changed.
   */
  set(key: string, vtep: string, rts: readonly string[]): string[] {
    const prev = this.#byKey.get(key);
    const next = [...new Set(rts)];
    const changed = new Set<string>();
    if (prev) {
      for (const rt of prev.rts) {
        if (prev.vtep === vtep && next.includes(rt)) continue;
        if (this.#drop(rt, prev.vtep)) changed.add(rt);
      }
    }
    for (const rt of next) {
      if (prev && prev.vtep === vtep && prev.rts.includes(rt)) continue;
      if (this.#take(rt, vtep)) changed.add(rt);
    }
    if (next.length === 0) this.#byKey.delete(key);
    else this.#byKey.set(key, { vtep, rts: next });
    return [...changed];
  }

  /** Forgets route `key`; returns the route targets whose VTEP set changed. */
  delete(key: string): string[] {
    const prev = this.#byKey.get(key);
    return prev ? this.set(key, prev.vtep, []) : [];
  }

  /** Removes everything; returns every route target that had VTEPs. */
  clear(): string[] {
    const changed = [...this.#byRt.keys()];
    this.#byKey.clear();
    this.#byRt.clear();
    return changed;
  }

  /** The VTEPs brought to route target `rt` (its key). */
  vteps(rt: string): Iterable<string> {
    return this.#byRt.get(rt)?.keys() ?? [];
  }

  /** Number of routes kept. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Distinct VTEPs over all routes kept. */
  get vtepCount(): number {
    return new Set([...this.#byKey.values()].map((r) => r.vtep)).size;
  }

  /** True when the VTEP set of `rt` gained `vtep`. */
  #take(rt: string, vtep: string): boolean {
    let counts = this.#byRt.get(rt);
    if (!counts) this.#byRt.set(rt, counts = new Map());
    const n = counts.get(vtep) ?? 0;
    counts.set(vtep, n + 1);
    return n === 0;
  }

  /** True when the VTEP set of `rt` lost `vtep`. */
  #drop(rt: string, vtep: string): boolean {
    const counts = this.#byRt.get(rt);
    const n = counts?.get(vtep) ?? 0;
    if (!counts || n === 0) return false;
    if (n > 1) {
      counts.set(vtep, n - 1);
      return false;
    }
    counts.delete(vtep);
    if (counts.size === 0) this.#byRt.delete(rt);
    return true;
  }
}
