/**
 * The node's own paths in gobgpd, as a whole desired set: callers hand
 * over every path they want advertised (`set`), as MetalLB's `Session.Set`
 * does; one worker brings gobgpd there one call at a time, always towards
 * the latest set, retrying with backoff. Used for the community membership
 * route and for our EVPN Type 3 routes (one per online VNI).
 *
 * Each path has a key (its NLRI: re-adding the same key replaces the path
 * in gobgpd, an implicit withdraw) and a fingerprint of what else it says.
 * A changed fingerprint is a plain `AddPath`, or, with
 * `withdrawBeforeReplace`, a `DeletePath` then an `AddPath`: FRR 8.4
 * ignores a Type 3 re-sent with a different PMSI tunnel.
 *
 * What gobgpd holds is tracked per key. It is unknown at first: nothing is
 * written until the caller gave a desired set and said what gobgpd holds, either exactly
 * (`known`, from a complete table that lists our own paths: after an agent
 * restart a path of the previous run is adopted when it says the same, and
 * withdrawn when no longer wanted) or as a guess (`assume`: these keys may
 * be there with unknown content, so they are written or withdrawn once).
 * Every `DeletePath` carries a path: gobgpd deletes every local path of
 * the family for one without.
 *
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import type { PathMessage } from "./path_codec.ts";

/** One of our own paths. */
export interface OwnPath {
  /** The NLRI's identity: a path with the same key replaces this one in gobgpd. */
  key: string;
  /** What the path says beyond its key; "?" = unknown (compares unequal to anything). */
  fingerprint: string;
  /** The path for `AddPath`. */
  path: PathMessage;
  /** The path for `DeletePath` (never empty). */
  withdrawal: PathMessage;
}

export interface AdvertiserPort {
  addPath(path: PathMessage): Promise<unknown>;
  deletePath(path: PathMessage): Promise<void>;
}

export interface AdvertiserOptions {
  /** A path whose fingerprint changes is withdrawn before it is added again. @default false */
  withdrawBeforeReplace?: boolean;
  /** gobgpd accepted a call. */
  onApplied?: (op: "add" | "delete", path: OwnPath) => void;
  /** A call failed; the worker retries after `retryInMs`. */
  onError?: (error: unknown, retryInMs: number) => void;
  /** @default 200 */
  retryMinMs?: number;
  /** @default 10000 */
  retryMaxMs?: number;
}

const UNKNOWN = "?";

export class PathAdvertiser {
  #port: AdvertiserPort;
  #opts: AdvertiserOptions;
  #desired = new Map<string, OwnPath>();
  /** False until the first `set`: nothing is withdrawn for want of a desired set. */
  #wanted = false;
  /** What gobgpd holds, by key; undefined while unknown. */
  #held: Map<string, OwnPath> | undefined;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #stopped = false;

  constructor(port: AdvertiserPort, options: AdvertiserOptions = {}) {
    this.#port = port;
    this.#opts = options;
  }

  /** The paths gobgpd holds for us, if known (fingerprints known). */
  get advertised(): readonly OwnPath[] | undefined {
    if (!this.#held) return undefined;
    const held = [...this.#held.values()];
    return held.some((p) => p.fingerprint === UNKNOWN) ? undefined : held;
  }

  /** True when gobgpd is known to hold exactly the desired set. */
  get settled(): boolean {
    return this.#next() === undefined && this.#held !== undefined;
  }

  /** Sets the whole desired set; an empty one withdraws everything. */
  set(paths: readonly OwnPath[]): void {
    this.#desired = new Map(paths.map((p) => [p.key, p]));
    this.#wanted = true;
    this.#kick();
  }

  /** gobgpd holds exactly `held` of ours (read from a complete table). */
  known(held: readonly OwnPath[]): void {
    this.#held = new Map(held.map((p) => [p.key, p]));
    this.#wake?.();
    this.#kick();
  }

  /**
   * gobgpd may hold any of `maybe` with unknown content (at start, or after
   * gobgpd restarted): each is written or withdrawn once, whatever it says.
   */
  assume(maybe: readonly OwnPath[]): void {
    this.#held = new Map(maybe.map((p) => [p.key, { ...p, fingerprint: UNKNOWN }]));
    this.#wake?.(); // gobgpd is back: no need to sit out the backoff
    this.#kick();
  }

  /**
   * Shutdown: withdraws every path gobgpd holds or may hold (the desired
   * ones too while that is unknown) and stops. Resolves true when gobgpd
   * confirmed all within `timeoutMs`. `also`: paths withdrawn in any case.
   */
  async withdrawAll(timeoutMs: number, also: readonly OwnPath[] = []): Promise<boolean> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running?.catch(() => {});
    const targets = new Map(this.#held ?? []);
    for (const path of also) if (!targets.has(path.key)) targets.set(path.key, path);
    if (this.#held === undefined || [...targets.values()].some((p) => p.fingerprint === UNKNOWN)) {
      for (const [key, path] of this.#desired) if (!targets.has(key)) targets.set(key, path);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = Promise.all(
      [...targets.values()].map((path) =>
        this.#port.deletePath(path.withdrawal).then(() => {
          this.#held?.delete(path.key);
          return true;
        }, () => false)
      ),
    ).then((results) => results.every(Boolean));
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the worker without touching gobgpd. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  /** The next call towards the desired set, or undefined when there is none (or it is unknown). */
  #next(): { op: "add" | "delete"; path: OwnPath } | undefined {
    const held = this.#held;
    if (!held || !this.#wanted) return undefined;
    for (const [key, path] of held) {
      if (!this.#desired.has(key)) return { op: "delete", path };
    }
    for (const [key, path] of this.#desired) {
      const now = held.get(key);
      if (now?.fingerprint === path.fingerprint) continue;
      if (now && this.#opts.withdrawBeforeReplace) return { op: "delete", path: now };
      return { op: "add", path };
    }
    return undefined;
  }

  #kick() {
    if (this.#stopped) return;
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      // A change that came while the worker was deciding to stop.
      if (!this.#stopped && this.#next() !== undefined) this.#kick();
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      const next = this.#next();
      if (!next) return;
      const held = this.#held!;
      try {
        if (next.op === "delete") await this.#port.deletePath(next.path.withdrawal);
        else await this.#port.addPath(next.path.path);
        // A `known`/`assume` meanwhile replaced the map: it wins.
        if (this.#held === held) {
          if (next.op === "delete") held.delete(next.path.key);
          else held.set(next.path.key, next.path);
        }
        failures = 0;
        if (!this.#stopped) this.#opts.onApplied?.(next.op, next.path);
      } catch (error) {
        failures++;
        const delay = backoffDelay(
          failures,
          this.#opts.retryMinMs ?? 200,
          this.#opts.retryMaxMs ?? 10_000,
        );
        this.#opts.onError?.(error, delay);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, delay);
          function done() {
            clearTimeout(timer);
            resolve();
          }
          this.#wake = done;
        });
        this.#wake = undefined;
      }
    }
  }
}
