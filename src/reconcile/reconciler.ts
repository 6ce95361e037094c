/**
 * Level-triggered reconciliation of one kind of kernel entry (flood entries
 * first; unicast MAC or neighbour entries can be further instances). Events
 * only mark a VNI dirty; `flush()` compares desired and programmed for dirty
 * VNIs and applies the difference; a failed write leaves the VNI dirty and
 * retries it with capped backoff.
 *
 * Coalescing that keeps latency: an isolated change is flushed at once (in
 * the next turn, `later(fn, 0)`), and changes arriving before that flush
 * runs join it. A burst, told apart by a token bucket of changes (see
 * {@linkcode CoalesceOptions}), is held until it goes quiet and then written
 * as its net change: an entry added and withdrawn again within the burst
 * costs no write at all.
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
  /**
   * The keys on every target's device in one listing, by ifindex (a device
   * with none may be absent). Optional: without it a resync lists device by
   * device. With it, a resync of 20 devices is one kernel dump, not 20
   * (the kernel's FDB dump of one device reads every device's entries).
   */
  listAll?(targets: readonly Target[]): Map<number, string[]>;
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

/**
 * How bursts are told from isolated changes, and how long a burst is held.
 * Every `markDirty` takes a token from a bucket of `burst` that refills at
 * `perSecond`; a change that finds a token is flushed at once. A burst
 * spends them and runs the bucket into debt (at most `burst` deep); until
 * the debt is paid back, changes are held until none has come for `quietMs`, and
 * at most `maxHoldMs` after the first held one (so a storm that never stops
 * still reaches the kernel that often), then written as their net change.
 */
export interface CoalesceOptions {
  /** Changes flushed at once before a burst is held. @default 64 */
  burst?: number;
  /** Refill of that allowance, changes per second. @default 200 */
  perSecond?: number;
  /** A held burst is flushed once no change has come for this long, in ms. @default 200 */
  quietMs?: number;
  /** ...and no later than this after its first held change, in ms. @default 10000 */
  maxHoldMs?: number;
}

/** The defaults of {@linkcode CoalesceOptions}. */
export const COALESCE_DEFAULTS: Readonly<Required<CoalesceOptions>> = {
  burst: 64,
  perSecond: 200,
  quietMs: 200,
  maxHoldMs: 10_000,
};

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
  /** Holding bursts (see {@linkcode CoalesceOptions}); `false` flushes every change at once. */
  coalesce?: CoalesceOptions | false;
  /** Called when a burst starts being held (changes wait for it to go quiet). */
  onHold?: () => void;
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
  /** Scope "all": entries desired at some time during the hold (a later withdrawal is held). */
  holdable: Set<string>;
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
  /** The hold keeps removals of entries withdrawn during it too (`holdDeletes(ms, "all")`). */
  #holdAll = false;
  #schedule: (fn: () => void, ms: number) => Cancel;
  #now: () => number;
  #coalesce: Required<CoalesceOptions> | undefined;
  #tokens: number;
  #tokensAt = -Infinity;
  /** When the held burst's first change came (undefined: no burst held). */
  #heldSince: number | undefined;
  /** The pending timer is a burst's hold (it may move later), not a plain flush or retry. */
  #timerIsHold = false;

  constructor(options: ReconcilerOptions) {
    this.#opts = options;
    this.#schedule = options.schedule ?? later;
    this.#now = options.now ?? (() => performance.now());
    this.#coalesce = options.coalesce === false
      ? undefined
      : { ...COALESCE_DEFAULTS, ...options.coalesce };
    this.#tokens = this.#coalesce?.burst ?? 0;
  }

  /**
   * Starts managing a device. Its current entries are adopted as the
   * programmed state (nothing is removed until the view is active).
   */
  attach(target: Target): void {
    this.detach(target.vni);
    const programmed = new Set(this.#opts.port.list(target));
    const managed: Managed = {
      ...target,
      programmed,
      stale: new Set(),
      holdable: new Set(),
      failures: 0,
    };
    this.#managed.set(target.vni, managed);
    this.#byIfindex.set(target.ifindex, managed);
    this.#dirty.add(target.vni);
    this.#arm(0);
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
    this.#dirty.add(vni);
    this.#arm(0);
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
   *
   * With `scope: "all"`, removals of entries withdrawn during the hold are
   * kept too (a BGP session went down: what it withdraws may be its
   * restart, not news): entries desired now or later in the hold. An entry
   * announced again is no longer held; a stray one (never desired) still goes
   * at once.
   */
  holdDeletes(ms: number, scope: "missing" | "all" = "missing"): void {
    this.#holdUntil = ms > 0 ? this.#now() + ms : 0;
    this.#holdAll = ms > 0 && scope === "all";
    for (const managed of this.#managed.values()) {
      managed.stale.clear();
      managed.holdable.clear();
      if (ms <= 0) continue;
      const desired = this.#opts.desired(managed.vni);
      if (this.#holdAll) { for (const key of desired) managed.holdable.add(key); }
      for (const dst of managed.programmed) if (!desired.has(dst)) managed.stale.add(dst);
    }
    this.markAll();
  }

  /** Entries kept by the current hold (programmed, not desired), over all devices. */
  get heldCount(): number {
    if (this.holdRemainingMs <= 0) return 0;
    let held = 0;
    for (const managed of this.#managed.values()) {
      for (const key of managed.stale) if (managed.programmed.has(key)) held++;
    }
    return held;
  }

  /** Milliseconds left in the current hold, 0 when none. */
  get holdRemainingMs(): number {
    return Math.max(0, this.#holdUntil - this.#now());
  }

  /**
   * A change of `vni`'s desired (or programmed) entries: flushed at once,
   * or held with the burst it belongs to (see {@linkcode CoalesceOptions}).
   */
  markDirty(vni: number): void {
    if (!this.#managed.has(vni)) return;
    this.#dirty.add(vni);
    if (!this.#active || this.#closed) return;
    const c = this.#coalesce;
    if (c === undefined) return this.#arm(0);
    const now = this.#now();
    // Every change takes a token, also one that joins a flush already due;
    // a burst runs the bucket into debt (down to -burst), which must be
    // paid back before a change is flushed at once again.
    const tokens = Math.min(c.burst, this.#tokens + ((now - this.#tokensAt) * c.perSecond) / 1000);
    this.#tokens = Math.max(-c.burst, tokens - 1);
    this.#tokensAt = now;
    if (this.#timer !== undefined && !this.#timerIsHold && this.#timerAt <= now) return;
    if (this.#heldSince === undefined && tokens >= 1) return this.#arm(0);
    if (this.#heldSince === undefined) {
      this.#heldSince = now;
      this.#opts.onHold?.();
    }
    this.#hold(Math.min(now + c.quietMs, this.#heldSince + c.maxHoldMs));
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
    const managed = [...this.#managed.values()];
    const port = this.#opts.port;
    const all = port.listAll && managed.length > 1 ? port.listAll(managed) : undefined;
    for (const m of managed) {
      m.programmed = new Set(all ? all.get(m.ifindex) ?? [] : port.list(m));
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
    this.#heldSince = undefined;
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
      managed.holdable.clear();
      return { add, del, held: false };
    }
    for (const key of desired) managed.stale.delete(key); // announced again: no longer stale
    if (this.#holdAll) {
      for (const key of desired) managed.holdable.add(key);
      for (const key of del) if (managed.holdable.has(key)) managed.stale.add(key);
    }
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

  /** Flushes within `ms`: an earlier pending timer stays, a held burst's timer yields to it. */
  #arm(ms: number) {
    if (this.#closed || !this.#active) return;
    const at = this.#now() + ms;
    if (this.#timer !== undefined && this.#timerAt <= at) {
      this.#timerIsHold = false; // whatever fires first flushes the held burst too
      return;
    }
    this.#start(at, false);
  }

  /** (Re)sets a held burst's flush to `at`, later or earlier; a plain timer due sooner stays. */
  #hold(at: number) {
    if (this.#timer !== undefined && !this.#timerIsHold && this.#timerAt <= at) return;
    if (this.#timer !== undefined && this.#timerIsHold && this.#timerAt === at) return;
    this.#start(at, true);
  }

  #start(at: number, hold: boolean) {
    this.#disarm();
    this.#timerAt = at;
    this.#timerIsHold = hold;
    this.#timer = this.#schedule(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#timerIsHold = false;
      this.flush();
    }, Math.max(0, at - this.#now()));
  }

  #disarm() {
    this.#timer?.();
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#timerIsHold = false;
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
