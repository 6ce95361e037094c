/**
 * When is gobgpd's initial table complete enough to remove what it lacks?
 *
 * gobgpd sends, on each new WatchEvent stream, one event per known peer
 * (INIT), END_OF_INIT, then its whole best-path table as one message. If
 * gobgpd has been running, that table is complete. If gobgpd itself just
 * (re)started, its sessions are still coming up and its table is partial:
 * removing what it lacks would flap every valid entry.
 *
 * The rule: the table is complete when the snapshot arrives and every peer
 * gobgpd knows is ESTABLISHED (at least one). Otherwise it becomes complete
 * once every known peer is ESTABLISHED and route updates have been quiet for
 * `quietMs`, or at the latest `maxHoldMs` after the snapshot. Pure: the
 * caller feeds events and gets one `onComplete` per stream.
 *
 * @module
 */
import type { TimerId } from "../schedule.ts";

export interface CompletenessOptions {
  /** Quiet period after the last update once all sessions are up, in ms. @default 1000 */
  quietMs?: number;
  /** Upper bound after the snapshot, in ms. */
  maxHoldMs: number;
  /** Called once per stream when the table is complete, with the reason. */
  onComplete(reason: string): void;
  schedule?: (fn: () => void, ms: number) => TimerId;
  cancel?: (id: TimerId) => void;
}

export class TableCompleteness {
  #opts: CompletenessOptions;
  #peers = new Map<string, boolean>();
  #snapshot = false;
  #complete = false;
  #quiet: TimerId | undefined;
  #hold: TimerId | undefined;
  #schedule: (fn: () => void, ms: number) => TimerId;
  #cancel: (id: TimerId) => void;

  constructor(options: CompletenessOptions) {
    this.#opts = options;
    this.#schedule = options.schedule ?? ((fn, ms) => setTimeout(fn, ms));
    this.#cancel = options.cancel ?? ((id) => clearTimeout(id));
  }

  /** True once the current stream's table is complete. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Peers known on the current stream, and how many are established. */
  get peers(): { known: number; established: number } {
    let established = 0;
    for (const up of this.#peers.values()) if (up) established++;
    return { known: this.#peers.size, established };
  }

  /** A new stream starts: forget everything. */
  reset(): void {
    this.#clearTimers();
    this.#peers.clear();
    this.#snapshot = false;
    this.#complete = false;
  }

  /** A peer event (INIT or STATE) for `address`. */
  peer(address: string, established: boolean): void {
    if (address === "") return;
    this.#peers.set(address, established);
    if (this.#snapshot && !this.#complete) this.#armQuietIfAllUp();
  }

  /** The initial table arrived. */
  snapshot(): void {
    this.#snapshot = true;
    const { known, established } = this.peers;
    if (known > 0 && established === known) {
      this.#finish(`all ${known} BGP sessions were established when the table was taken`);
      return;
    }
    const max = this.#opts.maxHoldMs;
    if (max <= 0) {
      this.#finish("restartHoldTime is 0");
      return;
    }
    this.#hold = this.#schedule(() => {
      this.#hold = undefined;
      const p = this.peers;
      this.#finish(
        `${max / 1000} s passed with ${p.established} of ${p.known} BGP sessions established`,
      );
    }, max);
  }

  /** A route update arrived: restarts the quiet period. */
  activity(): void {
    if (this.#quiet !== undefined) {
      this.#cancel(this.#quiet);
      this.#quiet = undefined;
      this.#armQuietIfAllUp();
    }
  }

  /** Stops all timers (shutdown). */
  close(): void {
    this.#clearTimers();
  }

  #armQuietIfAllUp() {
    const { known, established } = this.peers;
    if (known === 0 || established !== known) {
      if (this.#quiet !== undefined) this.#cancel(this.#quiet);
      this.#quiet = undefined;
      return;
    }
    if (this.#quiet !== undefined) return;
    const quiet = this.#opts.quietMs ?? 1_000;
    this.#quiet = this.#schedule(() => {
      this.#quiet = undefined;
      this.#finish(
        `all ${this.peers.known} BGP sessions established and updates quiet for ${quiet} ms`,
      );
    }, quiet);
  }

  #finish(reason: string) {
    if (this.#complete) return;
    this.#complete = true;
    this.#clearTimers();
    this.#opts.onComplete(reason);
  }

  #clearTimers() {
    if (this.#quiet !== undefined) this.#cancel(this.#quiet);
    if (this.#hold !== undefined) this.#cancel(this.#hold);
    this.#quiet = undefined;
    this.#hold = undefined;
  }
}
