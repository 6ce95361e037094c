/**
 * A bare `WatchEvent(BEST, init)` client on a gobgpd: the best path of every
 * /32 it has seen, with the arrival time of every change. Beside the agent,
 * it shows gobgpd's own delay (write → event on a watcher), which no agent
 * can remove; on a peer's gobgpd it shows when a path became visible there.
 *
 * Times are `performance.now()` when the table event is delivered to this
 * process's JavaScript (one time per event, for all its paths).
 *
 * @module
 */
import type { GobgpClient, WatchStream } from "../src/bgp/client.ts";
import { decodePath } from "../src/bgp/path_codec.ts";
import type { Community } from "../src/net/community.ts";
import { Waiters } from "./waiters.ts";

export class RibWatch implements Disposable {
  #stream: WatchStream | undefined;
  #routes = new Map<string, readonly Community[]>();
  #waiters = new Waiters();
  #snapshot: Promise<number>;
  #ended: Error | undefined;
  /** Paths seen in change events (after the initial table). */
  events = 0;
  /** Arrival time of the last change event. */
  lastEventAt = 0;

  /** Subscribes; {@linkcode ready} resolves with the size of the initial table. */
  constructor(client: GobgpClient) {
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    promise.catch(() => {});
    this.#snapshot = promise;
    let first = true;
    this.#stream = client.watchBest({
      onTable: (paths) => {
        const at = performance.now();
        for (const path of paths) {
          const decoded = decodePath(path);
          if (!decoded.ok) continue;
          const { vtep, communities, withdraw } = decoded.route;
          if (withdraw) this.#routes.delete(vtep);
          else this.#routes.set(vtep, communities);
        }
        if (first) {
          first = false;
          resolve(this.#routes.size);
        } else {
          this.events += paths.length;
          this.lastEventAt = at;
        }
        this.#waiters.check(at);
      },
      onEnd: (error) => {
        this.#ended = error ?? new Error("WatchEvent stream ended");
        reject(this.#ended);
      },
    });
  }

  /** Resolves with the number of /32 paths in the initial table. */
  ready(timeoutMs: number): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<number>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`No initial table from gobgpd within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([this.#snapshot, timeout]).finally(() => clearTimeout(timer));
  }

  /** Number of /32 paths currently known. */
  get size(): number {
    return this.#routes.size;
  }

  /** The communities of the best path for `vtep`, or undefined when there is none. */
  communities(vtep: string): readonly Community[] | undefined {
    return this.#routes.get(vtep);
  }

  /** Why the stream ended, if it did. */
  get ended(): Error | undefined {
    return this.#ended;
  }

  /**
   * Resolves with the arrival time of the event that made `test()` true
   * (now, if it already holds), or `undefined` after `timeoutMs`.
   */
  until(test: () => boolean, timeoutMs: number): Promise<number | undefined> {
    return this.#waiters.until(test, timeoutMs);
  }

  /** Resolves when `vtep` has a best path carrying `community` (or, with `present` false, not). */
  carries(vtep: string, community: number, present: boolean, timeoutMs: number) {
    return this.until(
      () => (this.#routes.get(vtep)?.includes(community) ?? false) === present,
      timeoutMs,
    );
  }

  close(): void {
    this.#waiters.close();
    this.#stream?.cancel();
    this.#stream = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
