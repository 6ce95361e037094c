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
 * A complete table becomes incomplete again when a known peer leaves
 * ESTABLISHED (`onReopen`): that peer (or, behind a route reflector, the
 * whole fabric) may be restarting. Under BGP graceful restart gobgpd keeps
 * its paths as stale, but when the peer is back and sends its End-of-RIB
 * before it has relearned everything (gobgpd 3.10 with dynamic neighbours
 * does: it defers nothing), gobgpd withdraws what the peer has not sent yet,
 * and the routes return as the peer's own sessions come back. So the table
 * is complete again once every known peer is ESTABLISHED, updates have been
 * quiet for `quietMs` and nothing is held any more (`held`), or at the
 * latest `maxHoldMs` after the last peer came back (or after the loss, when
 * none came back).
 *
 * @module
 */
import type { TimerId } from "../schedule.ts";

export interface CompletenessOptions {
  /** Quiet period after the last update once all sessions are up, in ms. @default 1000 */
  quietMs?: number;
  /** Upper bound after the snapshot, in ms. */
  maxHoldMs: number;
  /** Called when the table is complete, with the reason (once per stream, and after each reopen). */
  onComplete(reason: string): void;
  /**
   * A known peer left ESTABLISHED while the table was complete (`down`), or
   * came back while it is incomplete again (`up`): the bound starts again.
   */
  onReopen?(address: string, change: "down" | "up"): void;
  /** How many entries are held now (a reopened table waits for 0, or the bound). */
  held?(): number;
  schedule?: (fn: () => void, ms: number) => TimerId;
  cancel?: (id: TimerId) => void;
}

export class TableCompleteness {
  #opts: CompletenessOptions;
  #peers = new Map<string, boolean>();
  #snapshot = false;
  #complete = false;
  /** Incomplete again after a session loss (see the module doc). */
  #reopened = false;
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

  /**
   * A new stream starts: forget everything but the peers that were
   * ESTABLISHED on the old one. They are expected back (as not established)
   * until the new stream says otherwise: a route reflector whose gobgpd
   * restarted knows its dynamic neighbours only once they reconnect, and
   * would otherwise call its table complete with the first one.
   */
  reset(): void {
    this.#clearTimers();
    const expected = [...this.#peers].filter(([, up]) => up).map(([address]) => address);
    this.#peers.clear();
    for (const address of expected) this.#peers.set(address, false);
    this.#snapshot = false;
    this.#complete = false;
    this.#reopened = false;
  }

  /** A peer event (INIT or STATE) for `address`. */
  peer(address: string, established: boolean): void {
    if (address === "") return;
    const was = this.#peers.get(address);
    this.#peers.set(address, established);
    if (was === true && !established && this.#complete && this.#opts.maxHoldMs > 0) {
      this.#complete = false;
      this.#reopened = true;
      this.#armHold(`the BGP session with ${address} went down`);
      this.#opts.onReopen?.(address, "down");
      return;
    }
    if (this.#reopened && !this.#complete && established && was === false) {
      this.#armHold(`the BGP session with ${address} came back`);
      this.#opts.onReopen?.(address, "up");
    }
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
    if (this.#opts.maxHoldMs <= 0) {
      this.#finish("restartHoldTime is 0");
      return;
    }
    this.#armHold("the table was taken");
  }

  /** (Re)starts the upper bound of the hold, `maxHoldMs` from now. */
  #armHold(since: string) {
    const max = this.#opts.maxHoldMs;
    if (this.#hold !== undefined) this.#cancel(this.#hold);
    this.#hold = this.#schedule(() => {
      this.#hold = undefined;
      const p = this.peers;
      this.#finish(
        `${
          max / 1000
        } s passed since ${since}, with ${p.established} of ${p.known} BGP sessions established`,
      );
    }, max);
  }

  /** A route update arrived: restarts the quiet period. */
  activity(): void {
    if (this.#complete || !this.#snapshot) return;
    if (this.#quiet !== undefined) this.#cancel(this.#quiet);
    this.#quiet = undefined;
    this.#armQuietIfAllUp();
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
      // After a session loss, held entries wait for their routes (or the bound).
      if (this.#reopened && (this.#opts.held?.() ?? 0) > 0) return;
      this.#finish(
        `all ${this.peers.known} BGP sessions established and updates quiet for ${quiet} ms`,
      );
    }, quiet);
  }

  #finish(reason: string) {
    if (this.#complete) return;
    this.#complete = true;
    this.#reopened = false;
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
