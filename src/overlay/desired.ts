/**
 * The overlay's desired state, fed by decoded routes: the VNI registry, the
 * route tables, and for each online VNI the set of remote VTEPs its flood
 * list should hold. Routes come in from the watcher (`replace` for the
 * complete table of a new stream, `apply` for later changes); the
 * reconciler asks `desired(vni)`. Pure: nothing here touches the outside.
 *
 * Two sources feed a flood list, as `routes` (the config's `mode`) says:
 * community membership routes (`RouteTable`) and EVPN Type 3 routes
 * (`ImetTable`). A VNI's desired set is their union, computed when asked:
 * a VTEP that both sources bring stays while either does, so one source's
 * withdrawal does not flap it. EVPN Type 2 routes go to a {@linkcode MacIpSink}.
 *
 * @module
 */
import { formatRouteTarget, type RouteTarget, routeTargetKey } from "../net/route_target.ts";
import { type IpAddress, ipFamily } from "../net/ip.ts";
import { admitRoute, admitVtep, familyMismatchDetail } from "./admit.ts";
import {
  type EvpnRouteType,
  type ImetRoute,
  type MacIpRoute,
  PMSI_INGRESS_REPLICATION,
} from "./evpn_route.ts";
import { ImetTable } from "./imet_table.ts";
import type { DecodedPath, Route, SkipReason } from "./route.ts";
import { RouteTable } from "./route_table.ts";
import { type VniMode, VniRegistry } from "./vnis.ts";

/** What the desired state reports while it takes routes in; all optional. */
export interface IngestObserver {
  /** A path was skipped (counted per reason, logged at debug). */
  skipped?(reason: SkipReason, detail: string): void;
  /** A route event was taken in. */
  route?(kind: "add" | "withdraw"): void;
  /** An EVPN path arrived (taken or skipped), by route type. */
  evpnRoute?(type: EvpnRouteType): void;
  /** A later change of `vtep` changed the desired set of at least one online VNI. */
  changed?(vtep: IpAddress): void;
}

/**
 * Where EVPN Type 2 (MAC/IP) routes go: the unicast FDB and neighbour side.
 * Without one, Type 2 routes are counted and skipped.
 */
export interface MacIpSink {
  /** A new stream's complete table begins: every Type 2 route taken so far is gone. */
  clear(): void;
  /** One Type 2 route (announcement or withdrawal); `later` is false inside a new stream's table. */
  take(route: MacIpRoute, later: boolean): void;
}

/** Which route kinds feed the flood lists. */
export interface RouteKinds {
  community: boolean;
  evpn: boolean;
}

/** Where a VTEP of a VNI's desired set comes from (`/status`). */
export type VtepSource = "community" | "evpn-type3";

export interface DesiredStateOptions {
  mode: VniMode;
  /** This node's VTEP address: routes for it are not taken. */
  localAddress: IpAddress;
  /** IPv4 administrator of default RDs (`node.routerId`). @default `localAddress` */
  rdAdmin?: IpAddress | "";
  /** An online VNI whose desired set changed (after `apply`). */
  onDirty(vni: number): void;
  observer?: IngestObserver;
  /** @default community routes only */
  routes?: RouteKinds;
  /** Where Type 2 routes go. @default none: counted as `route_type` skips */
  macIp?: MacIpSink;
}

const EMPTY: ReadonlySet<string> = new Set();

export class DesiredState {
  readonly vnis: VniRegistry;
  readonly routes: RouteTable;
  /** VTEPs of the other address family (never desired: see `admitRoute`). */
  readonly otherFamily: RouteTable;
  readonly imet: ImetTable = new ImetTable();
  /** Type 3 routes of VTEPs of the other address family (never desired). */
  readonly otherFamilyImet: ImetTable = new ImetTable();
  #opts: DesiredStateOptions;
  #kinds: RouteKinds;

  constructor(options: DesiredStateOptions) {
    this.#opts = options;
    this.#kinds = options.routes ?? { community: true, evpn: false };
    this.vnis = new VniRegistry(options.mode, options.localAddress, options.rdAdmin);
    this.routes = new RouteTable((c) => this.vnis.keeps(c));
    this.otherFamily = new RouteTable((c) => this.vnis.keeps(c));
  }

  /** The remote VTEPs that `vni`'s flood list should hold (do not mutate). */
  desired(vni: number): ReadonlySet<string> {
    const entry = this.vnis.byId(vni);
    if (!entry) return EMPTY;
    const community = this.#kinds.community ? this.routes.vteps(entry.community) : EMPTY;
    if (!this.#kinds.evpn || entry.routeTargets.length === 0) return community;
    const union = new Set(community);
    for (const rt of entry.routeTargets) {
      for (const vtep of this.imet.vteps(routeTargetKey(rt))) union.add(vtep);
    }
    return union.size === community.size ? community : union;
  }

  /** Each desired VTEP of `vni` with the route kinds that bring it. */
  sources(vni: number): Map<string, VtepSource[]> {
    const out = new Map<string, VtepSource[]>();
    const entry = this.vnis.byId(vni);
    if (!entry) return out;
    const add = (vtep: string, source: VtepSource) => {
      const list = out.get(vtep) ?? [];
      if (!list.includes(source)) list.push(source);
      out.set(vtep, list);
    };
    if (this.#kinds.community) {
      for (const vtep of this.routes.vteps(entry.community)) add(vtep, "community");
    }
    if (this.#kinds.evpn) {
      for (const rt of entry.routeTargets) {
        for (const vtep of this.imet.vteps(routeTargetKey(rt))) add(vtep, "evpn-type3");
      }
    }
    return out;
  }

  /**
   * The remote VTEPs of the other address family that carry `vni`'s
   * community: members this node cannot reach (live view; do not mutate).
   */
  mismatched(vni: number): ReadonlySet<string> {
    const entry = this.vnis.byId(vni);
    if (!entry) return EMPTY;
    const community = this.otherFamily.vteps(entry.community);
    if (!this.#kinds.evpn || entry.routeTargets.length === 0) return community;
    const union = new Set(community);
    for (const rt of entry.routeTargets) {
      for (const vtep of this.otherFamilyImet.vteps(routeTargetKey(rt))) union.add(vtep);
    }
    return union;
  }

  /** The complete table of a new stream replaces everything (the caller re-checks every VNI). */
  replace(decoded: readonly DecodedPath[]): void {
    this.routes.clear();
    this.otherFamily.clear();
    this.imet.clear();
    this.otherFamilyImet.clear();
    this.#opts.macIp?.clear();
    for (const item of decoded) this.#ingest(item, false);
  }

  /** Later changes: every online VNI whose desired set changed is reported to `onDirty`. */
  apply(decoded: readonly DecodedPath[]): void {
    for (const item of decoded) this.#ingest(item, true);
  }

  #ingest(item: DecodedPath, mark: boolean): void {
    const observer = this.#opts.observer;
    if (!item.ok) {
      if (item.evpnType !== undefined) observer?.evpnRoute?.(item.evpnType);
      observer?.skipped?.(item.reason, item.detail);
      return;
    }
    if ("evpn" in item) {
      const evpn = item.evpn;
      observer?.evpnRoute?.(evpn.type === 3 ? "inclusive_multicast" : "mac_ip");
      if (!this.#kinds.evpn) {
        observer?.skipped?.("family", "an EVPN route, not read in mode community");
        return;
      }
      if (evpn.type === 3) this.#ingestImet(evpn, mark);
      else if (this.#opts.macIp) this.#opts.macIp.take(evpn, mark);
      else observer?.skipped?.("route_type", `Type 2 route ${evpn.key}: not used yet`);
      return;
    }
    if (!this.#kinds.community) {
      observer?.skipped?.("family", "a unicast membership route, not read in mode evpn");
      return;
    }
    this.#ingestCommunity(item.route, mark);
  }

  #ingestCommunity(route: Route, mark: boolean): void {
    const observer = this.#opts.observer;
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
    this.#dirty(changed.map((c) => this.vnis.byCommunity(c)), route.vtep);
  }

  /**
   * A Type 3 route: its originating IP joins the flood list of the VNIs of
   * its route targets. One that cannot be taken (no ingress replication, a
   * hostile address) also removes what the same NLRI brought before: a
   * re-sent route replaces the earlier one.
   */
  #ingestImet(route: ImetRoute, mark: boolean): void {
    const observer = this.#opts.observer;
    const what = `Type 3 route ${route.key}`;
    if (route.originator === this.#opts.localAddress) {
      observer?.skipped?.("own_address", `${what}: this node's own VTEP`);
      return;
    }
    let changed: string[] = [];
    let vtep = "";
    const drop = (reason: SkipReason, detail: string) => {
      observer?.skipped?.(reason, `${what}: ${detail}`);
      changed = this.imet.delete(route.key);
    };
    this.otherFamilyImet.delete(route.key);
    if (route.withdraw) {
      observer?.route?.("withdraw");
      changed = this.imet.delete(route.key);
    } else if (route.pmsi?.type !== PMSI_INGRESS_REPLICATION) {
      drop(
        "no_ingress_replication",
        route.pmsi
          ? `PMSI tunnel type ${route.pmsi.type} is not ingress replication (6)`
          : "no PMSI tunnel attribute: the VTEP asked for no BUM traffic",
      );
    } else {
      const admitted = admitVtep(route.originator, `originating IP ${route.originator}`);
      const local = this.#opts.localAddress;
      if (!("vtep" in admitted)) drop(admitted.reason, admitted.detail);
      else if (ipFamily(admitted.vtep) !== ipFamily(local)) {
        const kept = route.routeTargets.filter((rt) => this.vnis.keepsRouteTarget(rt));
        drop("family_mismatch", familyMismatchDetail(admitted.vtep, local));
        this.otherFamilyImet.set(route.key, admitted.vtep, kept.map(routeTargetKey));
      } else {
        vtep = admitted.vtep;
        observer?.route?.("add");
        const kept = route.routeTargets.filter((rt) => this.vnis.keepsRouteTarget(rt));
        if (!kept.some((rt) => this.vnis.byRouteTarget(routeTargetKey(rt)) !== undefined)) {
          observer?.skipped?.(
            "unknown_vni",
            `${what}: no route target of a local VNI (${rtText(route.routeTargets)})`,
          );
        }
        changed = this.imet.set(route.key, vtep, kept.map(routeTargetKey));
      }
    }
    if (!mark) return;
    this.#dirty(changed.map((rt) => this.vnis.byRouteTarget(rt)), vtep || route.originator);
  }

  #dirty(vnis: readonly ({ id: number; ifindex: number | undefined } | undefined)[], vtep: string) {
    let online = false;
    for (const vni of vnis) {
      if (vni?.ifindex === undefined) continue;
      online = true;
      this.#opts.onDirty(vni.id);
    }
    if (online) this.#opts.observer?.changed?.(vtep as IpAddress);
  }
}

function rtText(rts: readonly RouteTarget[]): string {
  return rts.map(formatRouteTarget).join(" ") || "none";
}
