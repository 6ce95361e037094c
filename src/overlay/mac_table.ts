/**
 * The agent's view of received EVPN Type 2 (MAC/IP) routes, and what they
 * ask of a VNI's vxlan device: one unicast FDB entry per remote MAC
 * (`MAC dst VTEP`) and one neighbour entry per remote IP (`IP lladdr MAC`).
 *
 * Routes are kept by their NLRI key (a re-sent route replaces the earlier
 * one) with the route targets worth keeping, indexed by route target. When
 * several routes speak of one MAC (a move, two RDs, a MAC-only and a MAC+IP
 * route), the highest MAC mobility sequence number wins (RFC 7432 section
 * 7.7; no community counts as 0); on a tie the lowest VTEP address wins (as
 * RFC 7432 section 15.1 breaks ties), so every node picks the same. An IP
 * goes the same way among the MAC+IP routes that name it.
 *
 * Keys as the reconciler knows them: unicast `"<mac> <vtep>"`, neighbour
 * `"<ip> <mac>"` (see {@linkcode unicastKey}, {@linkcode neighbourKey}).
 *
 * @module
 */
import { ipBytes } from "../net/ip.ts";

/** One received Type 2 route, as far as the kernel entries need it. */
export interface MacPath {
  /** The remote VTEP: the route's next hop. */
  vtep: string;
  /** Lower-case MAC. */
  mac: string;
  /** The IP of a MAC+IP route; undefined for MAC-only. */
  ip: string | undefined;
  /** MAC mobility sequence number; 0 without the community. */
  sequence: number;
}

/** The entries one VNI's device should hold, as reconciler keys. */
export interface MacView {
  unicast: ReadonlySet<string>;
  neighbours: ReadonlySet<string>;
}

/** The reconciler key of `MAC dst VTEP`. */
export function unicastKey(mac: string, vtep: string): string {
  return `${mac} ${vtep}`;
}

/** The reconciler key of `IP lladdr MAC`. */
export function neighbourKey(ip: string, mac: string): string {
  return `${ip} ${mac}`;
}

/** Splits a unicast or neighbour key into its two words. */
export function splitKey(key: string): [string, string] {
  const space = key.indexOf(" ");
  return [key.slice(0, space), key.slice(space + 1)];
}

const EMPTY_VIEW: MacView = { unicast: new Set(), neighbours: new Set() };

export class MacTable {
  #byKey = new Map<string, { path: MacPath; rts: readonly string[] }>();
  /** route target key → route keys. */
  #byRt = new Map<string, Set<string>>();

  /**
   * Sets route `key` (an empty `rts` removes it). Returns the route targets
   * whose routes changed.
   */
  set(key: string, path: MacPath, rts: readonly string[]): string[] {
    const prev = this.#byKey.get(key);
    const next = [...new Set(rts)];
    const changed = new Set<string>();
    if (prev) {
      for (const rt of prev.rts) {
        changed.add(rt);
        const set = this.#byRt.get(rt);
        set?.delete(key);
        if (set?.size === 0) this.#byRt.delete(rt);
      }
    }
    if (next.length === 0) {
      this.#byKey.delete(key);
      return [...changed];
    }
    this.#byKey.set(key, { path, rts: next });
    for (const rt of next) {
      changed.add(rt);
      let set = this.#byRt.get(rt);
      if (!set) this.#byRt.set(rt, set = new Set());
      set.add(key);
    }
    return [...changed];
  }

  /** Forgets route `key`; returns the route targets that had it. */
  delete(key: string): string[] {
    return this.#byKey.has(key) ? this.set(key, this.#byKey.get(key)!.path, []) : [];
  }

  /** Removes everything; returns every route target that had routes. */
  clear(): string[] {
    const changed = [...this.#byRt.keys()];
    this.#byKey.clear();
    this.#byRt.clear();
    return changed;
  }

  /** Number of routes kept. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The routes of any of `rts` (route target keys), each once. */
  paths(rts: readonly string[]): MacPath[] {
    const keys = new Set<string>();
    for (const rt of rts) for (const key of this.#byRt.get(rt) ?? []) keys.add(key);
    return [...keys].map((key) => this.#byKey.get(key)!.path);
  }

  /** The entries a VNI importing `rts` should hold, the winners picked as the module says. */
  view(rts: readonly string[]): MacView {
    const paths = this.paths(rts);
    if (paths.length === 0) return EMPTY_VIEW;
    const byMac = new Map<string, MacPath>();
    const byIp = new Map<string, MacPath>();
    for (const path of paths) {
      const mac = byMac.get(path.mac);
      if (mac === undefined || better(path, mac)) byMac.set(path.mac, path);
      if (path.ip === undefined) continue;
      const ip = byIp.get(path.ip);
      if (ip === undefined || better(path, ip)) byIp.set(path.ip, path);
    }
    const unicast = new Set<string>();
    for (const path of byMac.values()) unicast.add(unicastKey(path.mac, path.vtep));
    const neighbours = new Set<string>();
    for (const path of byIp.values()) neighbours.add(neighbourKey(path.ip!, path.mac));
    return { unicast, neighbours };
  }
}

/** True when `a` beats `b`: higher sequence, then lower VTEP, then lower MAC. */
export function better(a: MacPath, b: MacPath): boolean {
  if (a.sequence !== b.sequence) return a.sequence > b.sequence;
  const byVtep = compareAddresses(a.vtep, b.vtep);
  if (byVtep !== 0) return byVtep < 0;
  return a.mac < b.mac;
}

/** Numeric order of two addresses of one family; text order otherwise. */
function compareAddresses(a: string, b: string): number {
  if (a === b) return 0;
  const x = ipBytes(a);
  const y = ipBytes(b);
  if (x === undefined || y === undefined || x.length !== y.length) return a < b ? -1 : 1;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}
