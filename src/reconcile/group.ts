/**
 * Several reconcilers (one per entry kind: flood, unicast FDB, neighbours)
 * driven as one by the BGP side: activated together, holding stale entries
 * together while gobgpd's table fills in, idle when all are.
 *
 * @module
 */
import type { Reconciler } from "./reconciler.ts";

/** What the BGP side drives: activation and the hold of stale entries. */
export type ReconcilerControl = Pick<
  Reconciler,
  "activate" | "active" | "holdDeletes" | "holdRemainingMs" | "heldCount" | "idle"
>;

export class ReconcilerGroup implements ReconcilerControl {
  #members: readonly Reconciler[];

  constructor(members: readonly Reconciler[]) {
    this.#members = members;
  }

  activate(): void {
    for (const member of this.#members) member.activate();
  }

  get active(): boolean {
    return this.#members.every((member) => member.active);
  }

  holdDeletes(ms: number, scope: "missing" | "all" = "missing"): void {
    for (const member of this.#members) member.holdDeletes(ms, scope);
  }

  get heldCount(): number {
    return this.#members.reduce((sum, member) => sum + member.heldCount, 0);
  }

  get holdRemainingMs(): number {
    return Math.max(0, ...this.#members.map((member) => member.holdRemainingMs));
  }

  get idle(): boolean {
    return this.#members.every((member) => member.idle);
  }
}
