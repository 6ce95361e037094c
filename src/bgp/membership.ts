/**
 * The node's own membership route: one IPv4 /32 path for the local VTEP
 * address carrying the communities of every online VNI. Callers hand over the
 * whole desired set (`set`), as MetalLB's `Session.Set` does; one worker
 * applies only the latest state, one call at a time, retrying with backoff.
 *
 * A replacement is a plain `AddPath`: gobgpd replaces a local path with the
 * same prefix, so peers see one update and no withdraw/re-add flap. At start
 * the applied state is unknown (a previous run's path may still be in
 * gobgpd), so the first `set` always writes, even an empty one.
 *
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import { type Community, sortedCommunities } from "../net/community.ts";
import type { IpAddress } from "../net/ip.ts";
import { encodeMembershipKey, encodeMembershipPath, type PathMessage } from "./path_codec.ts";

export interface MembershipPort {
  addPath(path: PathMessage): Promise<unknown>;
  deletePath(path: PathMessage): Promise<void>;
}

export interface MembershipOptions {
  /** Called after gobgpd accepted a change; `communities` empty = withdrawn. */
  onApplied?: (communities: readonly Community[]) => void;
  /** Called when a call failed; it is retried after `retryInMs`. */
  onError?: (error: unknown, retryInMs: number) => void;
  /** @default 200 */
  retryMinMs?: number;
  /** @default 10000 */
  retryMaxMs?: number;
}

const UNKNOWN = "?";

function keyOf(communities: readonly Community[]): string {
  return communities.join(",");
}

export class MembershipAdvertiser {
  #port: MembershipPort;
  #address: IpAddress;
  #opts: MembershipOptions;
  #desired: Community[] = [];
  #applied = UNKNOWN;
  #appliedList: readonly Community[] | undefined;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #stopped = false;
  #wanted = false;

  constructor(port: MembershipPort, address: IpAddress, options: MembershipOptions = {}) {
    this.#port = port;
    this.#address = address;
    this.#opts = options;
  }

  /** The communities gobgpd holds for us, if known. */
  get advertised(): readonly Community[] | undefined {
    return this.#appliedList;
  }

  /** True when gobgpd holds exactly the desired state. */
  get settled(): boolean {
    return this.#wanted && this.#applied === keyOf(this.#desired);
  }

  /** Sets the whole desired set of communities; empty means "withdraw". */
  set(communities: readonly Community[]): void {
    this.#desired = sortedCommunities(communities);
    this.#wanted = true;
    this.#kick();
  }

  /** Forgets what gobgpd holds (it restarted, or may have) and writes again. */
  resend(): void {
    this.#applied = UNKNOWN;
    this.#appliedList = undefined;
    this.#wake?.(); // gobgpd is back: no need to sit out the backoff
    if (this.#wanted) this.#kick();
  }

  /**
   * Shutdown: withdraws the path and stops. Resolves when gobgpd confirmed,
   * or after `timeoutMs` (then the path may remain; it is replaced by the next
   * run of the agent on this node).
   */
  async withdraw(timeoutMs: number): Promise<boolean> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running?.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([
        this.#port.deletePath(encodeMembershipKey(this.#address)).then(() => {
          this.#applied = "";
          this.#appliedList = [];
          return true;
        }, () => false),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the worker without touching gobgpd. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  #kick() {
    if (this.#stopped) return;
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      const desired = this.#desired;
      const key = keyOf(desired);
      if (key === this.#applied) return;
      try {
        if (desired.length === 0) {
          await this.#port.deletePath(encodeMembershipKey(this.#address));
        } else {
          await this.#port.addPath(
            encodeMembershipPath({ address: this.#address, communities: desired }),
          );
        }
        this.#applied = key;
        this.#appliedList = desired;
        failures = 0;
        if (!this.#stopped) this.#opts.onApplied?.(desired);
      } catch (error) {
        failures++;
        const min = this.#opts.retryMinMs ?? 200;
        const max = this.#opts.retryMaxMs ?? 10_000;
        const delay = backoffDelay(failures, min, max);
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
