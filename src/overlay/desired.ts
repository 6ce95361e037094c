/**
 * The overlay's desired state, fed by decoded routes: the VNI registry, the
 * route table, and for each online VNI the set of remote VTEPs its flood
 * list should hold. Routes come in from the watcher (`replace` for the
 * complete table of a new stream, `apply` for later changes); the
 * reconciler asks `desired(vni)`. Pure: nothing here touches the outside.
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";
import { admitRoute } from "./admit.ts";
import type { Decoded, SkipReason } from "./route.ts";
import { RouteTable } from "./route_table.ts";
import { type VniMode, VniRegistry } from "./vnis.ts";

/** What the desired state reports while it takes routes in; all optional. */
export interface IngestObserver {
  /** A path was skipped (counted per reason, logged at debug). */
  skipped?(reason: SkipReason, detail: string): void;
  /** A route event was taken in. */
  route?(kind: "add" | "withdraw"): void;
  /** A later change of `vtep` changed the desired set of at least one online VNI. */
  changed?(vtep: IpAddress): void;
}

export interface DesiredStateOptions {
  mode: VniMode;
  /** This node's VTEP address: routes for it are not taken. */
  localAddress: IpAddress;
  /** An online VNI whose desired set changed (after `apply`). */
  onDirty(vni: number): void;
  observer?: IngestObserver;
}

const EMPTY: ReadonlySet<string> = new Set();

export class DesiredState {
  readonly vnis: VniRegistry;
  readonly routes: RouteTable;
  /** VTEPs of the other address family (never desired: see `admitRoute`). */
  readonly otherFamily: RouteTable;
  #opts: DesiredStateOptions;

  constructor(options: DesiredStateOptions) {
    this.#opts = options;
    this.vnis = new VniRegistry(options.mode, options.localAddress);
    this.routes = new RouteTable((c) => this.vnis.keeps(c));
    this.otherFamily = new RouteTable((c) => this.vnis.keeps(c));
  }

  /** The remote VTEPs that `vni`'s flood list should hold (live view; do not mutate). */
  desired(vni: number): ReadonlySet<string> {
    const entry = this.vnis.byId(vni);
    return entry ? this.routes.vteps(entry.community) : EMPTY;
  }

  /**
   * The remote VTEPs of the other address family that carry `vni`'s
   * community: members this node cannot reach (live view; do not mutate).
   */
  mismatched(vni: number): ReadonlySet<string> {
    const entry = this.vnis.byId(vni);
    return entry ? this.otherFamily.vteps(entry.community) : EMPTY;
  }

  /** The complete table of a new stream replaces everything (the caller re-checks every VNI). */
  replace(decoded: readonly Decoded[]): void {
    this.routes.clear();
    this.otherFamily.clear();
    for (const item of decoded) this.#ingest(item, false);
  }

  /** Later changes: every online VNI whose desired set changed is reported to `onDirty`. */
  apply(decoded: readonly Decoded[]): void {
    for (const item of decoded) this.#ingest(item, true);
  }

  #ingest(item: Decoded, mark: boolean): void {
    const observer = this.#opts.observer;
    if (!item.ok) {
      observer?.skipped?.(item.reason, item.detail);
      return;
    }
    const route = item.route;
    const admission = admitRoute(
      route,
      this.#opts.localAddress,
      (c) => this.vnis.byCommunity(c) !== undefined,
    );
    if (!admission.store) {
      if (admission.skip) observer?.skipped?.(admission.skip.reason, admission.skip.detail);
      if (!admission.otherFamily) return;
      if (route.withdraw) this.otherFamily.delete(route.vtep);
      else this.otherFamily.set(route.vtep, route.communities);
      return;
    }
    observer?.route?.(route.withdraw ? "withdraw" : "add");
    if (admission.skip) observer?.skipped?.(admission.skip.reason, admission.skip.detail);
    const changed = route.withdraw
      ? this.routes.delete(route.vtep)
      : this.routes.set(route.vtep, route.communities);
    if (!mark) return;
    let online = false;
    for (const community of changed) {
      const vni = this.vnis.byCommunity(community);
      if (vni?.ifindex === undefined) continue;
      online = true;
      this.#opts.onDirty(vni.id);
    }
    if (online) observer?.changed?.(route.vtep);
  }
}
