/**
 * gobgpd's own record of when a node had a route: a `WatchEvent(BEST,
 * init)` stream on one node's gobgpd, each change stamped with the wall
 * clock when the benchmark process receives it. Beside the kernel monitor
 * of the same node this is the floor no agent can beat (the agent reads the
 * same stream from the same gobgpd).
 *
 * The benchmark lives in the switch namespace and reaches each gobgpd on
 * its underlay address (gobgpd listens on loopback for its agent and on the
 * underlay for the benchmark).
 *
 * @module
 */
import { GobgpClient, type WatchStream } from "../../src/bgp/client.ts";
import { decodePath } from "../../src/bgp/path_codec.ts";

/** One change of a remote VTEP's membership in the measured VNI, as seen by a gobgpd. */
export interface RibEvent {
  /** Wall-clock time in ms since the epoch (sub-ms resolution). */
  at: number;
  vtep: string;
  /** True when the best path carries the VNI's community. */
  member: boolean;
}

/** Wall-clock ms with sub-ms resolution (same clock as `bridge -timestamp`). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export class RibRecorder implements Disposable {
  readonly events: RibEvent[] = [];
  /** Neighbour address → established, from the stream's peer events. */
  readonly peers = new Map<string, boolean>();
  #client: GobgpClient;
  #stream: WatchStream | undefined;
  #state = new Map<string, boolean>();
  #community: number;
  #ended: Error | undefined;
  #tables = 0;

  /** Subscribes to the gobgpd at `address` (`host:port`), recording membership of `community`. */
  constructor(address: string, community: number) {
    this.#community = community;
    this.#client = new GobgpClient({ address, timeoutMs: 10_000 });
    this.#stream = this.#client.watchBest({
      onPeer: (event) => {
        if (event.address !== "") this.peers.set(event.address, event.established);
      },
      onTable: (paths) => {
        const at = wallNow();
        this.#tables++;
        const changed = new Map<string, boolean>();
        for (const path of paths) {
          const decoded = decodePath(path);
          if (!decoded.ok) continue;
          const { vtep, communities, withdraw } = decoded.route;
          changed.set(vtep, !withdraw && communities.includes(this.#community));
        }
        for (const [vtep, member] of changed) {
          if ((this.#state.get(vtep) ?? false) === member) continue;
          this.#state.set(vtep, member);
          this.events.push({ at, vtep, member });
        }
      },
      onEnd: (error) => this.#ended = error ?? new Error("WatchEvent stream ended"),
    });
  }

  /** True once the initial table has arrived. */
  get ready(): boolean {
    return this.#tables > 0;
  }

  /** Why the stream ended, if it did. */
  get ended(): Error | undefined {
    return this.#ended;
  }

  /** The remote VTEPs whose best path carries the community now. */
  members(): Set<string> {
    return new Set([...this.#state].filter(([, m]) => m).map(([v]) => v));
  }

  close(): void {
    this.#stream?.cancel();
    this.#stream = undefined;
    this.#client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
