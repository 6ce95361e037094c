/**
 * Unicast FDB entries (`MAC dst VTEP`) and neighbour entries (`IP lladdr
 * MAC`) as two more entry kinds of the generic reconciler, and what keeps
 * them apart from entries a user wrote.
 *
 * Ownership: the kernel edge marks what the agent writes (`extern_learn`,
 * see `netlink/fdb.ts` and `netlink/neigh.ts`) and reports the mark when it
 * lists and notifies. Only marked entries are the reconciler's programmed
 * view; an unmarked entry for a MAC (FDB) or an IP (permanent neighbour) is
 * the user's, and that MAC or IP is left out of the desired set of the
 * device until the user's entry goes, so a replace never lands on it.
 *
 * Moves: a remote MAC that moves to another VTEP is the key `MAC new` added
 * (a replace in place) and `MAC old` deleted; the FDB delete names the old
 * dst, which the kernel no longer has, so it changes nothing. A neighbour
 * delete cannot name the MAC, so the port skips it when the IP already
 * carries another MAC of ours.
 *
 * @module
 */
import { neighbourKey, splitKey, unicastKey } from "../overlay/mac_table.ts";
import type { EntryPort, Target, WriteOp } from "../reconcile/reconciler.ts";
import type { IpNeighEvent, NeighEvent } from "../netlink/types.ts";
import type { NeighbourPort, UnicastFdbPort } from "./ports.ts";

/** A change of the programmed view: key `key` is (or is no longer) in the kernel. */
export type Observe = (ifindex: number, key: string, present: boolean) => void;

/** One device's knowledge: our entries as the kernel has them, and the user's. */
interface Device {
  /** Ours: MAC → dst (FDB), IP → MAC (neighbours), with our own writes applied. */
  ours: Map<string, string>;
  /**
   * Ours as the kernel last said (listings and notifications only): what a
   * dry run shows as programmed, since its writes never happen.
   */
  seen: Map<string, string>;
  /** The user's MACs (FDB) or IPs (neighbours). */
  foreign: Set<string>;
}

/** The state of one entry kind over all devices. */
class Ownership {
  #devices = new Map<number, Device>();

  device(ifindex: number): Device {
    let device = this.#devices.get(ifindex);
    if (!device) {
      this.#devices.set(ifindex, device = { ours: new Map(), seen: new Map(), foreign: new Set() });
    }
    return device;
  }

  peek(ifindex: number): Device | undefined {
    return this.#devices.get(ifindex);
  }

  forget(ifindex: number): void {
    this.#devices.delete(ifindex);
  }

  /** `desired` less the keys whose first word (MAC or IP) a user entry holds. */
  filter(ifindex: number, desired: ReadonlySet<string>): ReadonlySet<string> {
    const foreign = this.#devices.get(ifindex)?.foreign;
    if (foreign === undefined || foreign.size === 0) return desired;
    const out = new Set<string>();
    for (const key of desired) if (!foreign.has(splitKey(key)[0])) out.add(key);
    return out;
  }

  /** Our entries as the kernel reported them, as `first second` keys. */
  seenKeys(ifindex: number): string[] {
    return [...this.#devices.get(ifindex)?.seen ?? []].map(([a, b]) => `${a} ${b}`);
  }

  /** Entries by first word held by users on a device (for status). */
  foreignCount(ifindex: number): number {
    return this.#devices.get(ifindex)?.foreign.size ?? 0;
  }
}

/** The two entry kinds' ports and the notifications that keep them true. */
export class MacEntries {
  #fdb = new Ownership();
  #neigh = new Ownership();

  /** The unicast FDB entries of `fdb`, keyed `MAC VTEP`; only marked ones are listed. */
  unicastPort(fdb: UnicastFdbPort): EntryPort {
    return {
      list: (target) => {
        const device = this.#fdb.device(target.ifindex);
        device.ours.clear();
        device.foreign.clear();
        for (const entry of fdb.listUnicast(target.ifindex)) {
          if (entry.ours) device.ours.set(entry.mac, entry.dst);
          else device.foreign.add(entry.mac);
        }
        device.seen = new Map(device.ours);
        return [...device.ours].map(([mac, dst]) => unicastKey(mac, dst));
      },
      add: (target, key) => {
        const [mac, dst] = splitKey(key);
        fdb.replaceUnicast(target.ifindex, mac, dst, target.device);
        this.#fdb.device(target.ifindex).ours.set(mac, dst);
      },
      delete: (target, key) => {
        const [mac, dst] = splitKey(key);
        fdb.delUnicast(target.ifindex, mac, dst, target.device);
        const ours = this.#fdb.device(target.ifindex).ours;
        if (ours.get(mac) === dst) ours.delete(mac);
      },
    };
  }

  /** The permanent neighbours of `neighbours`, keyed `IP MAC`; only marked ones are listed. */
  neighbourPort(neighbours: NeighbourPort): EntryPort {
    return {
      list: (target) => {
        const device = this.#neigh.device(target.ifindex);
        device.ours.clear();
        device.foreign.clear();
        for (const entry of neighbours.list(target.ifindex)) {
          if (entry.ours) device.ours.set(entry.ip, entry.mac);
          else device.foreign.add(entry.ip);
        }
        device.seen = new Map(device.ours);
        return [...device.ours].map(([ip, mac]) => neighbourKey(ip, mac));
      },
      add: (target, key) => {
        const [ip, mac] = splitKey(key);
        neighbours.replace(target.ifindex, ip, mac, target.device);
        this.#neigh.device(target.ifindex).ours.set(ip, mac);
      },
      delete: (target, key) => {
        const [ip, mac] = splitKey(key);
        const ours = this.#neigh.device(target.ifindex).ours;
        const now = ours.get(ip);
        if (now !== undefined && now !== mac) return; // replaced in place by a later add
        neighbours.delete(target.ifindex, ip, target.device);
        ours.delete(ip);
      },
    };
  }

  /** The unicast keys a device should get: `desired` less MACs a user entry holds. */
  unicastFor(ifindex: number, desired: ReadonlySet<string>): ReadonlySet<string> {
    return this.#fdb.filter(ifindex, desired);
  }

  /** The neighbour keys a device should get: `desired` less IPs a user's permanent entry holds. */
  neighboursFor(ifindex: number, desired: ReadonlySet<string>): ReadonlySet<string> {
    return this.#neigh.filter(ifindex, desired);
  }

  /** Our unicast keys on a device as the kernel reported them (a dry run's programmed view). */
  seenUnicast(ifindex: number): string[] {
    return this.#fdb.seenKeys(ifindex);
  }

  /** Our neighbour keys on a device as the kernel reported them. */
  seenNeighbours(ifindex: number): string[] {
    return this.#neigh.seenKeys(ifindex);
  }

  /** MACs on a device whose FDB entry is a user's. */
  foreignMacs(ifindex: number): number {
    return this.#fdb.foreignCount(ifindex);
  }

  /** IPs on a device whose permanent neighbour is a user's. */
  foreignIps(ifindex: number): number {
    return this.#neigh.foreignCount(ifindex);
  }

  /** The device is gone. */
  forget(ifindex: number): void {
    this.#fdb.forget(ifindex);
    this.#neigh.forget(ifindex);
  }

  /**
   * A unicast FDB notification on a managed device (`observe` updates the
   * reconciler). Returns true when a user entry came or went, so the
   * device's desired set changed.
   */
  onFdb(event: NeighEvent, observe: Observe): boolean {
    if (event.dst === undefined) return false;
    const device = this.#fdb.peek(event.ifindex);
    if (device === undefined) return false;
    const { mac, dst, ifindex } = event;
    if (event.type === "new" && event.ours) device.seen.set(mac, dst);
    else if (event.type === "new" || device.seen.get(mac) === dst) device.seen.delete(mac);
    const was = device.ours.get(mac);
    if (event.type === "del") {
      if (was === dst) {
        device.ours.delete(mac);
        observe(ifindex, unicastKey(mac, dst), false);
        return false;
      }
      return !event.ours && device.foreign.delete(mac);
    }
    if (event.ours) {
      if (was !== undefined && was !== dst) observe(ifindex, unicastKey(mac, was), false);
      device.ours.set(mac, dst);
      observe(ifindex, unicastKey(mac, dst), true);
      return device.foreign.delete(mac);
    }
    // Unmarked: the user's now (added by hand, or ours replaced by hand without the mark).
    if (was !== undefined) {
      device.ours.delete(mac);
      observe(ifindex, unicastKey(mac, was), false);
    }
    if (device.foreign.has(mac)) return false;
    device.foreign.add(mac);
    return true;
  }

  /** An ARP/ND notification on a managed device; returns true as {@linkcode onFdb} does. */
  onNeigh(event: IpNeighEvent, observe: Observe): boolean {
    const device = this.#neigh.peek(event.ifindex);
    if (device === undefined) return false;
    const { ip, ifindex } = event;
    const was = device.ours.get(ip);
    const gone = event.type === "del" || !event.permanent || event.mac === undefined;
    if (!gone && event.ours) device.seen.set(ip, event.mac!);
    else device.seen.delete(ip);
    if (gone) {
      if (was !== undefined) {
        device.ours.delete(ip);
        observe(ifindex, neighbourKey(ip, was), false);
      }
      return device.foreign.delete(ip);
    }
    const mac = event.mac!;
    if (event.ours) {
      if (was !== undefined && was !== mac) observe(ifindex, neighbourKey(ip, was), false);
      device.ours.set(ip, mac);
      observe(ifindex, neighbourKey(ip, mac), true);
      return device.foreign.delete(ip);
    }
    if (was !== undefined) {
      device.ours.delete(ip);
      observe(ifindex, neighbourKey(ip, was), false);
    }
    if (device.foreign.has(ip)) return false;
    device.foreign.add(ip);
    return true;
  }
}

/** The log lines of one entry kind's writes and failures, for its reconciler. */
export function loggedMacWrites(kind: "unicast" | "neighbour", log: MacWriteLog) {
  const describe = (key: string) => {
    const [a, b] = splitKey(key);
    return kind === "unicast" ? `FDB entry ${a} dst ${b}` : `neighbour ${a} lladdr ${b}`;
  };
  return {
    onWrite: (target: Target, op: WriteOp, key: string) =>
      log.info(`${op === "append" ? "Set" : "Removed"} {entry} on {device}`, {
        entry: describe(key),
        device: target.device,
        vni: target.vni,
      }),
    onError: (target: Target, op: WriteOp, key: string, error: unknown) =>
      log.error("Cannot {op} {entry} on {device}: {error}; will retry", {
        op: op === "append" ? "set" : "remove",
        entry: describe(key),
        device: target.device,
        vni: target.vni,
        error: error instanceof Error ? error.message : String(error),
      }),
  };
}

/** The part of a logger that {@linkcode loggedMacWrites} uses. */
export interface MacWriteLog {
  info(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
}
