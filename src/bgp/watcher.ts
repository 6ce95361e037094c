/**
 * Keeps one `WatchEvent(BEST, init)` stream alive: decodes each table event
 * and hands it over, re-subscribes after any end of the stream with capped
 * exponential backoff and jitter, and gives up on a stream whose first
 * message (the complete table) does not arrive within a deadline.
 *
 * End of the initial table: gobgpd sends the whole current table as exactly
 * one `TableEvent` (even when empty) before any change, so the first message
 * of each stream is the complete snapshot.
 *
 * No decisions happen here: the watcher only decodes and enqueues.
 *
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import type { DecodedPath } from "../overlay/route.ts";
import { decodeAnyPath } from "./codec.ts";
import type { PathMessage } from "./path_codec.ts";
import type { PeerEvent, WatchHandlers, WatchStream } from "./client.ts";
import type { TimerId } from "../schedule.ts";

export interface WatchSource {
  watchBest(handlers: WatchHandlers): WatchStream;
}

export interface WatcherHandlers {
  /** The complete table of a new stream (after start or a reconnect). */
  onSnapshot(decoded: DecodedPath[]): void;
  /** A later table event. */
  onUpdate(decoded: DecodedPath[]): void;
  /** A BGP session event of the current stream. */
  onPeer?(event: PeerEvent): void;
  /** The stream was lost; a retry is scheduled in `retryInMs`. */
  onDown(error: Error, retryInMs: number): void;
}

export interface WatcherOptions {
  /** First retry delay, in ms. @default 200 */
  backoffMinMs?: number;
  /** Retry delay cap, in ms. @default 10000 */
  backoffMaxMs?: number;
  /** Deadline for the first message of a stream, in ms. @default 10000 */
  firstMessageTimeoutMs?: number;
}

export type WatchState = "connecting" | "up" | "down" | "stopped";

export class Watcher {
  #source: WatchSource;
  #handlers: WatcherHandlers;
  #min: number;
  #max: number;
  #firstTimeout: number;
  #stream: WatchStream | undefined;
  #timer: TimerId | undefined;
  #failures = 0;
  #state: WatchState = "down";
  #generation = 0;
  #reconnects = 0;
  #lastActivity = performance.now();

  constructor(source: WatchSource, handlers: WatcherHandlers, options: WatcherOptions = {}) {
    this.#source = source;
    this.#handlers = handlers;
    this.#min = options.backoffMinMs ?? 200;
    this.#max = options.backoffMaxMs ?? 10_000;
    this.#firstTimeout = options.firstMessageTimeoutMs ?? 10_000;
  }

  get state(): WatchState {
    return this.#state;
  }

  /** `performance.now()` of the last subscription attempt or message. */
  get lastActivity(): number {
    return this.#lastActivity;
  }

  /** Streams started after the first one. */
  get reconnects(): number {
    return this.#reconnects;
  }

  start(): void {
    if (this.#state === "connecting" || this.#state === "up") return;
    this.#subscribe();
  }

  stop(): void {
    this.#state = "stopped";
    this.#generation++;
    this.#clearTimer();
    this.#stream?.cancel();
    this.#stream = undefined;
  }

  #subscribe() {
    const generation = ++this.#generation;
    if (generation > 1) this.#reconnects++;
    this.#state = "connecting";
    this.#lastActivity = performance.now();
    let first = true;
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#lost(new Error(`no initial table from gobgpd within ${this.#firstTimeout} ms`));
    }, this.#firstTimeout);
    this.#stream = this.#source.watchBest({
      onPeer: (event: PeerEvent) => {
        if (generation !== this.#generation) return;
        this.#handlers.onPeer?.(event);
      },
      onTable: (paths: PathMessage[]) => {
        if (generation !== this.#generation) return;
        this.#lastActivity = performance.now();
        // Every family arrives here; each path goes to its family's codec.
        const decoded = paths.map(decodeAnyPath);
        if (first) {
          first = false;
          this.#clearTimer();
          this.#state = "up";
          this.#failures = 0;
          this.#handlers.onSnapshot(decoded);
        } else {
          this.#handlers.onUpdate(decoded);
        }
      },
      onEnd: (error) => {
        if (generation !== this.#generation) return;
        this.#lost(error ?? new Error("WatchEvent stream ended"));
      },
    });
  }

  #lost(error: Error) {
    if (this.#state === "stopped") return;
    this.#generation++;
    this.#stream?.cancel();
    this.#stream = undefined;
    this.#state = "down";
    this.#failures++;
    const delay = backoffDelay(this.#failures, this.#min, this.#max);
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state !== "stopped") this.#subscribe();
    }, delay);
    this.#handlers.onDown(error, delay);
  }

  #clearTimer() {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
