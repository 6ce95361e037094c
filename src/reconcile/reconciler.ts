/**
 * Level-triggered reconciliation of flood FDB entries. Events only mark a VNI
 * dirty; `flush()` compares desired and programmed for dirty VNIs and applies
 * the difference. Bursts coalesce into one flush (scheduled with `later(fn, 0)`);
 * a failed write leaves the VNI dirty and retries it with capped backoff.
 *
 * The programmed view is kept in memory: seeded by one listing when a device
 * comes online (adoption: entries already there are kept, not re-added) and
 * kept true by our own writes and by neighbour notifications (`observe`), so
 * an entry deleted or added by hand is noticed and repaired.
 *
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import { type Cancel, later } from "../schedule.ts";
import { diff } from "./diff.ts";

/** The kernel operations the reconciler needs; `Netlink` implements them. */
export interface FdbPort {
  listFlood(ifindex: number): string[];
  appendFlood(ifindex: number, dst: string, name?: string): void;
  delFlood(ifindex: number, dst: string, name?: string): void;
}

/** A managed device: one online VNI. */
export interface Target {
  vni: number;
  ifindex: number;
  device: string;
}

export interface ReconcilerOptions {
  fdb: FdbPort;
  /** The remote VTEPs that `vni` should flood to (live view is fine). */
  desired: (vni: number) => ReadonlySet<string>;
  /** Called once per failed write. */
  onError?: (target: Target, op: "append" | "del", dst: string, error: unknown) => void;
  /** Called after every applied write. */
  onWrite?: (target: Target, op: "append" | "del", dst: string) => void;
  /**
   * Called after every flush that had work: its duration, writes, whether
   * all succeeded, and whether it finished (false: it yielded, more follows).
   */
  onFlush?: (result: { seconds: number; writes: number; ok: boolean; done: boolean }) => void;
  /**
   * Writes per task before yielding to the event loop. Unlimited by default:
   * measured with 512, a 100,000-entry start took three times longer, since
   * the echo notification of every write was then read and parsed between
   * chunks (a single long pass lets the socket overrun and costs one cheap
   * resync instead). The price is that gRPC and HTTP wait during a big
   * start (about 2 s at 100,000 entries). @default Infinity
   */
  writesPerTask?: number;
  /** First retry delay after a failure, in ms. @default 100 */
  retryMinMs?: number;
  /** Retry delay cap, in ms. @default 10000 */
  retryMaxMs?: number;
  /** Schedules a callback, returning its canceller; tests replace it. @default later */
  schedule?: (fn: () => void, ms: number) => Cancel;
}

interface Managed extends Target {
  programmed: Set<string>;
  /** Entries kept during a hold (see `holdDeletes`). */
  stale: Set<string>;
  failures: number;
}

export class Reconciler implements Disposable {
  #opts: ReconcilerOptions;
  #managed = new Map<number, Managed>(); // by VNI
  #byIfindex = new Map<number, Managed>();
  #dirty = new Set<number>();
  #timer: Cancel | undefined;
  #timerAt = Infinity;
  #active = false;
  #closed = false;
  /** Until this `performance.now()`, entries are only added, never removed. */
  #holdUntil = 0;
  #schedule: (fn: () => void, ms: number) => Cancel;

  constructor(options: ReconcilerOptions) {
    this.#opts = options;
    this.#schedule = options.schedule ?? later;
  }

  /**
   * Starts managing a device. Its current flood entries are adopted as the
   * programmed state (nothing is removed until the view is active).
   */
  attach(target: Target): void {
    this.detach(target.vni);
    const programmed = new Set(this.#opts.fdb.listFlood(target.ifindex));
    const managed: Managed = { ...target, programmed, stale: new Set(), failures: 0 };
    this.#managed.set(target.vni, managed);
    this.#byIfindex.set(target.ifindex, managed);
    this.markDirty(target.vni);
  }

  /** Stops managing a VNI's device (it is gone); its entries are left alone. */
  detach(vni: number): void {
    const managed = this.#managed.get(vni);
    if (!managed) return;
    this.#managed.delete(vni);
    if (this.#byIfindex.get(managed.ifindex) === managed) this.#byIfindex.delete(managed.ifindex);
    this.#dirty.delete(vni);
  }

  /**
   * Activates writes. Until then (no complete BGP view yet) the adopted
   * entries stay as they are: the data plane outlives the control plane.
   */
  activate(): void {
    this.#active = true;
    this.markAll();
  }

  get active(): boolean {
    return this.#active;
  }

  /**
   * Keeps the entries that are programmed but not desired right now for
   * `ms`: gobgpd just (re)started and its table fills in as its sessions
   * come back, so absence from it is not yet news. Everything else goes on:
   * adds, and removals of entries that were desired after this call and then
   * withdrawn. A later call replaces the hold; 0 ends it.
   */
  holdDeletes(ms: number): void {
    this.#holdUntil = ms > 0 ? performance.now() + ms : 0;
    for (const managed of this.#managed.values()) {
      managed.stale.clear();
      if (ms <= 0) continue;
      const desired = this.#opts.desired(managed.vni);
      for (const dst of managed.programmed) if (!desired.has(dst)) managed.stale.add(dst);
    }
    this.markAll();
  }

  /** Milliseconds left in the current hold, 0 when none. */
  get holdRemainingMs(): number {
    return Math.max(0, this.#holdUntil - performance.now());
  }

  markDirty(vni: number): void {
    if (!this.#managed.has(vni)) return;
    this.#dirty.add(vni);
    this.#arm(0);
  }

  markAll(): void {
    for (const vni of this.#managed.keys()) this.#dirty.add(vni);
    if (this.#dirty.size > 0) this.#arm(0);
  }

  /**
   * A neighbour notification: the kernel now has (or no longer has) a flood
   * entry `dst` on `ifindex`. Updates the programmed view; a difference from
   * the desired state is repaired on the next flush.
   */
  observe(ifindex: number, dst: string, present: boolean): void {
    const managed = this.#byIfindex.get(ifindex);
    if (!managed) return;
    const had = managed.programmed.has(dst);
    if (had === present) return;
    if (present) managed.programmed.add(dst);
    else managed.programmed.delete(dst);
    this.markDirty(managed.vni);
  }

  /** Re-reads the programmed view of every managed device (after lost notifications). */
  resync(): void {
    for (const managed of this.#managed.values()) {
      managed.programmed = new Set(this.#opts.fdb.listFlood(managed.ifindex));
    }
    this.markAll();
  }

  /** The programmed destinations of a VNI's device, sorted; undefined if not managed. */
  programmed(vni: number): string[] | undefined {
    const managed = this.#managed.get(vni);
    return managed ? [...managed.programmed].sort() : undefined;
  }

  /** Targets currently managed. */
  targets(): Target[] {
    return [...this.#managed.values()].map(({ vni, ifindex, device }) => ({
      vni,
      ifindex,
      device,
    }));
  }

  /** True when no VNI waits for a write. */
  get idle(): boolean {
    return this.#dirty.size === 0;
  }

  /** Applies the difference for every dirty VNI now. Returns the number of writes. */
  flush(): number {
    this.#disarm();
    if (!this.#active || this.#closed) return 0;
    if (this.#dirty.size === 0) return 0;
    const started = performance.now();
    let writes = 0;
    let retryIn = Infinity;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    const holding = this.holdRemainingMs > 0;
    const budget = this.#opts.writesPerTask ?? Infinity;
    let attempts = 0;
    let yielded = false;
    let anyFailed = false;
    for (const vni of dirty) {
      if (yielded) {
        this.#dirty.add(vni);
        continue;
      }
      const managed = this.#managed.get(vni);
      if (!managed) continue;
      const desired = this.#opts.desired(vni);
      const { add, del } = diff(desired, managed.programmed);
      let failed = false;
      if (holding) {
        for (const dst of desired) managed.stale.delete(dst); // announced again: no longer stale
      } else if (managed.stale.size > 0) {
        managed.stale.clear();
      }
      for (const dst of add) {
        if (attempts++ >= budget) {
          yielded = true;
          break;
        }
        if (this.#write(managed, "append", dst)) writes++;
        else failed = true;
      }
      for (const dst of del) {
        if (yielded) break;
        if (holding && managed.stale.has(dst)) {
          this.#dirty.add(vni); // revisited when the hold ends
          retryIn = Math.min(retryIn, this.holdRemainingMs + 1);
          continue;
        }
        if (attempts++ >= budget) {
          yielded = true;
          break;
        }
        if (this.#write(managed, "del", dst)) writes++;
        else failed = true;
      }
      if (yielded) this.#dirty.add(vni); // the rest in the next task
      if (failed) {
        anyFailed = true;
        managed.failures++;
        this.#dirty.add(vni);
        retryIn = Math.min(retryIn, this.#backoff(managed.failures));
      } else {
        managed.failures = 0;
      }
    }
    if (yielded) this.#arm(0);
    else if (retryIn !== Infinity) this.#arm(retryIn);
    this.#opts.onFlush?.({
      seconds: (performance.now() - started) / 1000,
      writes,
      ok: !anyFailed,
      done: !yielded,
    });
    return writes;
  }

  close(): void {
    this.#closed = true;
    this.#disarm();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #write(managed: Managed, op: "append" | "del", dst: string): boolean {
    try {
      if (op === "append") {
        this.#opts.fdb.appendFlood(managed.ifindex, dst, managed.device);
        managed.programmed.add(dst);
      } else {
        this.#opts.fdb.delFlood(managed.ifindex, dst, managed.device);
        managed.programmed.delete(dst);
      }
      this.#opts.onWrite?.(managed, op, dst);
      return true;
    } catch (error) {
      this.#opts.onError?.(managed, op, dst, error);
      return false;
    }
  }

  #backoff(failures: number): number {
    return backoffDelay(failures, this.#opts.retryMinMs ?? 100, this.#opts.retryMaxMs ?? 10_000);
  }

  #arm(ms: number) {
    if (this.#closed || !this.#active) return;
    if (this.#timer !== undefined && this.#timerAt <= Date.now() + ms) return;
    this.#disarm();
    this.#timerAt = Date.now() + ms;
    this.#timer = this.#schedule(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.flush();
    }, ms);
  }

  #disarm() {
    this.#timer?.();
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
