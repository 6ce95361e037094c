/**
 * Received EVPN Type 2 (MAC/IP) routes into the desired unicast FDB and
 * neighbour entries of each VNI: admission (the VTEP rules of `admit.ts`,
 * this node's own address, a route target of a VNI, a unicast MAC and IP),
 * the {@linkcode MacTable}, and a cached view per VNI. Pure.
 *
 * @module
 */
import { type IpAddress, ipBytes } from "../net/ip.ts";
import { parseMac } from "../net/mac.ts";
import { type RouteTarget, routeTargetKey } from "../net/route_target.ts";
import { admitVtep, type Skip } from "./admit.ts";
import type { MacIpRoute } from "./evpn_route.ts";
import { MacTable, type MacView } from "./mac_table.ts";

/** Which route targets matter, and which VNI each one brings routes to. */
export interface RouteTargetMap {
  /** True when routes with `rt` can matter to this node, now or later. */
  keepsRouteTarget(rt: RouteTarget): boolean;
  /** The VNI (id) route target key `key` maps to, if any. */
  vniOf(key: string): number | undefined;
  /** The route target keys a VNI imports; undefined for an unknown VNI. */
  importsOf(vni: number): readonly string[] | undefined;
}

export interface RemoteMacsOptions {
  targets: RouteTargetMap;
  /** This node's VTEP: its own routes, reflected back, are not taken. */
  localAddress: IpAddress;
  /** A VNI's desired entries changed (after `apply`). */
  onDirty(vni: number): void;
  /** A route was skipped: counted by reason, logged at debug. */
  skipped?(skip: Skip): void;
}

const EMPTY: MacView = { unicast: new Set(), neighbours: new Set() };

export class RemoteMacs {
  readonly table = new MacTable();
  #opts: RemoteMacsOptions;
  /** Views by VNI, dropped when one of its route targets changes. */
  #views = new Map<number, MacView>();

  constructor(options: RemoteMacsOptions) {
    this.#opts = options;
  }

  /** The unicast and neighbour keys `vni`'s device should hold (live view; do not mutate). */
  view(vni: number): MacView {
    const cached = this.#views.get(vni);
    if (cached) return cached;
    const rts = this.#opts.targets.importsOf(vni);
    const view = rts === undefined ? EMPTY : this.table.view(rts);
    this.#views.set(vni, view);
    return view;
  }

  /** A new stream's complete table begins: every route taken so far is gone. */
  clear(): void {
    this.table.clear();
    this.#views.clear();
  }

  /**
   * One route, announced or withdrawn. `later` (a change after the first
   * table): the VNIs whose entries may have changed go to `onDirty`; inside
   * a new stream's table the caller re-checks every VNI.
   */
  take(route: MacIpRoute, later: boolean): void {
    const changed = this.#ingest(route);
    if (!later) {
      if (changed.length > 0) this.#views.clear();
      return;
    }
    const dirty = new Set<number>();
    for (const rt of changed) {
      const vni = this.#opts.targets.vniOf(rt);
      if (vni !== undefined) dirty.add(vni);
    }
    for (const vni of dirty) {
      this.#views.delete(vni);
      this.#opts.onDirty(vni);
    }
  }

  /** The route targets (or the VNI's imports) changed: views are computed again. */
  invalidate(): void {
    this.#views.clear();
  }

  /** Stores or drops one route; returns the route targets whose routes changed. */
  #ingest(route: MacIpRoute): string[] {
    if (route.withdraw) return this.table.delete(route.key);
    const skip = this.#admit(route);
    if (skip !== undefined) {
      this.#opts.skipped?.(skip);
      return this.table.delete(route.key); // a re-sent route that is now bad goes too
    }
    const rts = route.routeTargets.filter((rt) => this.#opts.targets.keepsRouteTarget(rt));
    if (rts.length === 0) {
      this.#opts.skipped?.({
        reason: "unknown_vni",
        detail: `${describe(route)} carries no route target of a known VNI`,
      });
      return this.table.delete(route.key);
    }
    return this.table.set(route.key, {
      vtep: route.nextHop,
      mac: route.mac,
      ip: route.ip,
      sequence: route.mobility?.sequence ?? 0,
    }, rts.map(routeTargetKey));
  }

  #admit(route: MacIpRoute): Skip | undefined {
    const what = describe(route);
    const vtep = admitVtep(route.nextHop, what);
    if ("reason" in vtep) {
      return { reason: vtep.reason, detail: `${what}: next hop ${JSON.stringify(route.nextHop)}` };
    }
    if (vtep.vtep === this.#opts.localAddress) {
      return { reason: "own_address", detail: `${what}: next hop is this node's own VTEP` };
    }
    const macProblem = unicastMacProblem(route.mac);
    if (macProblem !== undefined) {
      return { reason: "not_unicast", detail: `${what}: ${macProblem}` };
    }
    if (route.ip !== undefined) {
      const ipProblem = hostIpProblem(route.ip);
      if (ipProblem !== undefined) {
        return { reason: "not_unicast", detail: `${what}: ${ipProblem}` };
      }
    }
    return undefined;
  }
}

function describe(route: MacIpRoute): string {
  return `Type 2 route ${route.mac}${route.ip === undefined ? "" : ` ${route.ip}`} from ${
    route.nextHop || "no next hop"
  }`;
}

/** Why a MAC cannot be a remote host's, or undefined: zero (the flood MAC) or multicast. */
export function unicastMacProblem(mac: string): string | undefined {
  const bytes = parseMac(mac);
  if (bytes === undefined) return `MAC ${JSON.stringify(mac)} does not parse`;
  if (bytes.every((b) => b === 0)) return "the all-zero MAC is the flood entry's";
  if ((bytes[0]! & 1) !== 0) return `MAC ${mac} is a multicast or broadcast address`;
  return undefined;
}

/**
 * Why an IP cannot be a remote host's neighbour entry, or undefined:
 * unspecified, loopback, multicast, IPv4 broadcast and 0.0.0.0/8. IPv6
 * link-local is a host's (FRR advertises the SVI's fe80:: address).
 */
export function hostIpProblem(ip: string): string | undefined {
  const bytes = ipBytes(ip);
  if (bytes === undefined) return `IP ${JSON.stringify(ip)} does not parse`;
  if (bytes.length === 4) {
    const first = bytes[0]!;
    if (first === 0) return `IP ${ip} is in 0.0.0.0/8`;
    if (first === 127) return `IP ${ip} is a loopback address`;
    if (first >= 224) return `IP ${ip} is a multicast, reserved or broadcast address`;
    return undefined;
  }
  if (bytes.every((b) => b === 0)) return `IP ${ip} is the unspecified address`;
  if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) {
    return `IP ${ip} is the loopback address`;
  }
  if (bytes[0] === 0xff) return `IP ${ip} is a multicast address`;
  return undefined;
}
