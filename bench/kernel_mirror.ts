/**
 * The benchmark's view of the kernel's flood entries in its own namespace:
 * seeded by one dump, kept current by RTNLGRP_NEIGH notifications
 * (`NetlinkEvents` from `src/netlink`), with the arrival time of every
 * change, so that "the entry is in the kernel" has a timestamp.
 *
 * Times are `performance.now()` when the notification is delivered to this
 * process's JavaScript. After an overrun (the kernel dropped notifications)
 * the view is re-read from a dump and `overruns` counts it: times measured
 * across an overrun are late by up to one dump.
 *
 * @module
 */
import { FLOOD_MAC, type Netlink, NetlinkEvents } from "../src/netlink/mod.ts";
import { Waiters } from "./waiters.ts";

/** Notification counters since the mirror was opened. */
export interface MirrorCounters {
  /** RTM_NEWNEIGH flood notifications (including ones that changed nothing). */
  new: number;
  /** RTM_DELNEIGH flood notifications. */
  del: number;
  /** Notifications that changed the view. */
  changes: number;
  /** Overruns (lost notifications, followed by a dump). */
  overruns: number;
}

/**
 * Every flood entry of every device in one dump, grouped by ifindex (the
 * agent does the same for a resync: `Fdb.listFloodAll`).
 */
export function listFloodAll(nl: Netlink): Map<number, string[]> {
  return nl.fdb.listFloodAll();
}

export class KernelMirror implements Disposable {
  #nl: Netlink;
  #events: NetlinkEvents;
  #entries = new Map<number, Set<string>>();
  #size = 0;
  #watched = new Set<number>();
  #watchedSize = 0;
  #waiters = new Waiters();
  #errors: Error[] = [];
  /** Time of the last change of the view. */
  lastChangeAt = 0;
  readonly counters: MirrorCounters = { new: 0, del: 0, changes: 0, overruns: 0 };

  /** Subscribes, dumps, then starts delivery (nothing is missed in between). */
  constructor(nl: Netlink) {
    this.#nl = nl;
    this.#events = new NetlinkEvents({
      // A deleted device takes its entries along without a notification per entry.
      onLink: (ev) => {
        if (ev.type === "del") this.#forget(ev.link.ifindex);
      },
      onNeigh: (ev) => {
        if (ev.mac !== FLOOD_MAC || ev.dst === undefined) return;
        const at = performance.now();
        if (ev.type === "new") this.counters.new++;
        else this.counters.del++;
        if (this.#apply(ev.ifindex, ev.dst, ev.type === "new", at)) this.#waiters.check(at);
      },
      onOverrun: () => {
        this.counters.overruns++;
        this.#reload();
      },
      onError: (error) => {
        this.#errors.push(error);
      },
    });
    this.#reload();
    this.#events.start();
  }

  /** Total number of flood entries in the namespace. */
  get size(): number {
    return this.#size;
  }

  /**
   * Number of flood entries on the devices given to {@linkcode watch}: the
   * count to wait on, immune to leftovers of devices deleted earlier.
   */
  get watchedSize(): number {
    return this.#watchedSize;
  }

  /** Counts only these ifindexes in {@linkcode watchedSize} from now on. */
  watch(ifindexes: Iterable<number>): void {
    this.#watched = new Set(ifindexes);
    this.#watchedSize = 0;
    for (const ifindex of this.#watched) this.#watchedSize += this.count(ifindex);
  }

  /** Re-reads the whole view from a dump (after bulk changes such as deleting devices). */
  reload(): void {
    this.#reload();
  }

  /** Errors the notification socket reported. */
  get errors(): readonly Error[] {
    return this.#errors;
  }

  /** Whether `ifindex` has a flood entry to `dst`. */
  has(ifindex: number, dst: string): boolean {
    return this.#entries.get(ifindex)?.has(dst) ?? false;
  }

  /** Number of flood entries on `ifindex`. */
  count(ifindex: number): number {
    return this.#entries.get(ifindex)?.size ?? 0;
  }

  /**
   * Resolves with the time of the change that made `test()` true (now, if it
   * already holds), or `undefined` after `timeoutMs`. `test` runs after every
   * change: keep it cheap.
   */
  until(test: () => boolean, timeoutMs: number): Promise<number | undefined> {
    return this.#waiters.until(test, timeoutMs);
  }

  /** Resolves when the entry reaches `present` (see {@linkcode until}). */
  entry(ifindex: number, dst: string, present: boolean, timeoutMs: number) {
    return this.until(() => this.has(ifindex, dst) === present, timeoutMs);
  }

  /**
   * Resolves once no change has arrived for `quietMs` (bounded by
   * `timeoutMs`); returns the time of the last change.
   */
  async quiet(quietMs: number, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const since = performance.now() - this.lastChangeAt;
      if (since >= quietMs) break;
      await new Promise((r) => setTimeout(r, Math.max(1, quietMs - since)));
    }
    return this.lastChangeAt;
  }

  /** This mirror's own view, in the shape of {@linkcode dump}. */
  view(): Map<number, string[]> {
    return new Map([...this.#entries].map(([ifindex, set]) => [ifindex, [...set]]));
  }

  /** The flood lists of the namespace as the kernel reports them in a fresh dump. */
  dump(): Map<number, string[]> {
    return listFloodAll(this.#nl);
  }

  close(): void {
    this.#waiters.close();
    this.#events.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #apply(ifindex: number, dst: string, present: boolean, at: number): boolean {
    let set = this.#entries.get(ifindex);
    if (present) {
      if (set === undefined) this.#entries.set(ifindex, set = new Set());
      if (set.has(dst)) return false;
      set.add(dst);
      this.#size++;
      if (this.#watched.has(ifindex)) this.#watchedSize++;
    } else {
      if (set === undefined || !set.delete(dst)) return false;
      this.#size--;
      if (this.#watched.has(ifindex)) this.#watchedSize--;
    }
    this.counters.changes++;
    this.lastChangeAt = at;
    return true;
  }

  #forget(ifindex: number): void {
    const set = this.#entries.get(ifindex);
    if (set === undefined) return;
    this.#size -= set.size;
    if (this.#watched.has(ifindex)) this.#watchedSize -= set.size;
    this.#entries.delete(ifindex);
  }

  /** Re-reads everything from a dump, applying the differences as changes. */
  #reload(): void {
    const at = performance.now();
    const fresh = listFloodAll(this.#nl);
    for (const [ifindex, set] of this.#entries) {
      const now = new Set(fresh.get(ifindex) ?? []);
      for (const dst of [...set]) if (!now.has(dst)) this.#apply(ifindex, dst, false, at);
    }
    for (const [ifindex, dsts] of fresh) {
      for (const dst of dsts) this.#apply(ifindex, dst, true, at);
    }
    this.#waiters.check(at);
  }
}
