/**
 * Level-triggered reconciliation of one kind of kernel entry (flood entries
 * first; unicast MAC or neighbour entries can be further instances). Events
 * only mark a VNI dirty; `flush()` compares desired and programmed for dirty
 * VNIs and applies the difference. Bursts coalesce into one flush (scheduled
 * with `later(fn, 0)`); a failed write leaves the VNI dirty and retries it
 * with capped backoff.
 *
 * Entries are known by a key (a flood entry's is its destination address);
 * the {@linkcode EntryPort} lists, adds and deletes them on a device.
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

/** The entries of one kind on a device, by key; the kernel edge implements it. */
export interface EntryPort {
  /** The keys of the entries of this kind on the target's device now. */
  list(target: Target): string[];
  add(target: Target, key: string): void;
  delete(target: Target, key: string): void;
}

/** The two writes, named as iproute2 names them (`bridge fdb append`, `... del`). */
export type WriteOp = "append" | "del";

/** A managed device: one online VNI. */
export interface Target {
  vni: number;
  ifindex: number;
  device: string;
}

export interface ReconcilerOptions {
  port: EntryPort;
  /** The keys of the entries `vni`'s device should hold (live view is fine). */
  desired: (vni: number) => ReadonlySet<string>;
  /** Called once per failed write. */
  onError?: (target: Target, op: WriteOp, key: string, error: unknown) => void;
  /** Called after every applied write. */
  onWrite?: (target: Target, op: WriteOp, key: string) => void;
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
  /** The one clock of holds, timers and durations, in ms. @default performance.now */
  now?: () => number;
}

interface Managed extends Target {
  programmed: Set<string>;
  /** Entries kept during a hold (see `holdDeletes`). */
  stale: Set<string>;
  failures: number;
  /** Released (see `release`): every entry goes, then the device is detached. */
  releasing?: boolean;
}

const NOTHING: ReadonlySet<string> = new Set();

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
  #now: () => number;

  constructor(options: ReconcilerOptions) {
    this.#opts = options;
    this.#schedule = options.schedule ?? later;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Starts managing a device. Its current entries are adopted as the
   * programmed state (nothing is removed until the view is active).
   */
  attach(target: Target): void {
    this.detach(target.vni);
    const programmed = new Set(this.#opts.port.list(target));
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
   * Stops managing a VNI that is no longer served while its device stays:
   * its entries are removed (even during a hold, retried on failure), then
   * it is detached. `attach` of the same VNI before that cancels it.
   */
  release(vni: number): void {
    const managed = this.#managed.get(vni);
    if (!managed) return;
    managed.releasing = true;
    this.markDirty(vni);
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
    this.#holdUntil = ms > 0 ? this.#now() + ms : 0;
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
    return Math.max(0, this.#holdUntil - this.#now());
  }

  markDirty(vni: number): void {
    if (!this.#managed.has(vni)) return;
    this.#dirty.add(vni);
    this.#arm(0);
  }

  /** Marks the VNI of a managed device dirty (its desired set changed for a kernel reason). */
  markDevice(ifindex: number): void {
    const managed = this.#byIfindex.get(ifindex);
    if (managed) this.markDirty(managed.vni);
  }

  markAll(): void {
    for (const vni of this.#managed.keys()) this.#dirty.add(vni);
    if (this.#dirty.size > 0) this.#arm(0);
  }

  /**
   * A neighbour notification: the kernel now has (or no longer has) the
   * entry `dst` (its key) on `ifindex`. Updates the programmed view; a difference from
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
      managed.programmed = new Set(this.#opts.port.list(managed));
    }
    this.markAll();
  }

  /** The programmed keys of a VNI's device, sorted; undefined if not managed. */
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
    if (!this.#active || this.#closed || this.#dirty.size === 0) return 0;
    const started = this.#now();
    const pass = new Pass(this.#opts.writesPerTask ?? Infinity);
    const holding = this.holdRemainingMs > 0;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const vni of dirty) {
      if (pass.yielded) {
        this.#dirty.add(vni); // the rest in the next task
        continue;
      }
      const managed = this.#managed.get(vni);
      if (!managed) continue;
      const plan = this.#plan(managed, holding);
      const failed = this.#apply(managed, plan, pass);
      this.#settle(managed, plan, failed, pass);
    }
    if (pass.yielded) this.#arm(0);
    else if (pass.retryIn !== Infinity) this.#arm(pass.retryIn);
    this.#opts.onFlush?.({
      seconds: (this.#now() - started) / 1000,
      writes: pass.writes,
      ok: !pass.failed,
      done: !pass.yielded,
    });
    return pass.writes;
  }

  /** What to write on one device now: the difference, less what a hold keeps. */
  #plan(managed: Managed, holding: boolean): Plan {
    const desired = managed.releasing ? NOTHING : this.#opts.desired(managed.vni);
    const { add, del } = diff(desired, managed.programmed);
    if (!holding || managed.releasing) {
      managed.stale.clear();
      return { add, del, held: false };
    }
    for (const key of desired) managed.stale.delete(key); // announced again: no longer stale
    const now = del.filter((key) => !managed.stale.has(key));
    return { add, del: now, held: now.length < del.length };
  }

  /** Writes a plan within the pass's budget; true when a write failed. */
  #apply(managed: Managed, plan: Plan, pass: Pass): boolean {
    let failed = false;
    for (const [op, keys] of [["append", plan.add], ["del", plan.del]] as const) {
      for (const key of keys) {
        if (!pass.take()) return failed;
        if (this.#write(managed, op, key)) pass.writes++;
        else failed = true;
      }
    }
    return failed;
  }

  /** Decides when a device is visited again: next task, end of the hold, or a backoff. */
  #settle(managed: Managed, plan: Plan, failed: boolean, pass: Pass): void {
    if (pass.yielded) this.#dirty.add(managed.vni);
    if (plan.held && !pass.yielded) {
      this.#dirty.add(managed.vni); // revisited when the hold ends
      pass.retry(this.holdRemainingMs + 1);
    }
    if (failed) {
      pass.failed = true;
      managed.failures++;
      this.#dirty.add(managed.vni);
      pass.retry(this.#backoff(managed.failures));
    } else {
      managed.failures = 0;
      if (managed.releasing && managed.programmed.size === 0) this.detach(managed.vni);
    }
  }

  close(): void {
    this.#closed = true;
    this.#disarm();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #write(managed: Managed, op: WriteOp, key: string): boolean {
    try {
      if (op === "append") {
        this.#opts.port.add(managed, key);
        managed.programmed.add(key);
      } else {
        this.#opts.port.delete(managed, key);
        managed.programmed.delete(key);
      }
      this.#opts.onWrite?.(managed, op, key);
      return true;
    } catch (error) {
      this.#opts.onError?.(managed, op, key, error);
      return false;
    }
  }

  #backoff(failures: number): number {
    return backoffDelay(failures, this.#opts.retryMinMs ?? 100, this.#opts.retryMaxMs ?? 10_000);
  }

  #arm(ms: number) {
    if (this.#closed || !this.#active) return;
    if (this.#timer !== undefined && this.#timerAt <= this.#now() + ms) return;
    this.#disarm();
    this.#timerAt = this.#now() + ms;
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

/** The writes of one device in one flush. */
interface Plan {
  add: string[];
  /** Deletes allowed now. */
  del: string[];
  /** Some deletes wait for the end of a hold. */
  held: boolean;
}

/** One flush: its write budget, and what it leaves for later. */
class Pass {
  #budget: number;
  writes = 0;
  failed = false;
  yielded = false;
  /** Earliest revisit asked for (hold end, backoff), in ms. */
  retryIn = Infinity;

  constructor(budget: number) {
    this.#budget = budget;
  }

  /** Takes one write from the budget; false (and yielded) when it is spent. */
  take(): boolean {
    if (this.#budget <= 0) this.yielded = true;
    if (this.yielded) return false;
    this.#budget--;
    return true;
  }

  retry(ms: number): void {
    this.retryIn = Math.min(this.retryIn, ms);
  }
}
