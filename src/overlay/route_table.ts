/**
 * The agent's view of the RIB: for every remote VTEP, the communities of its
 * current best path, with an index from community to VTEPs. Events are state
 * keyed by prefix: the last word about a VTEP wins.
 *
 * Only communities that can map to a VNI are stored (see `keep`), so
 * thousands of unrelated routes cost a map lookup each and no memory.
 *
 * @module
 */
import { type Community, compareCommunities } from "../net/community.ts";

const EMPTY: ReadonlySet<string> = new Set();

export class RouteTable {
  #byVtep = new Map<string, readonly Community[]>();
  #byCommunity = new Map<Community, Set<string>>();
  #keep: (community: Community) => boolean;

  /** @param keep which communities are worth storing (those that map, or may map, to a VNI). */
  constructor(keep: (community: Community) => boolean) {
    this.#keep = keep;
  }

  /**
   * Sets the communities of `vtep` (an empty list removes it). Returns the
   * communities whose VTEP set changed.
   */
  set(vtep: string, communities: readonly Community[]): Community[] {
    const next = [...new Set(communities.filter(this.#keep))].sort(compareCommunities);
    const prev = this.#byVtep.get(vtep) ?? [];
    const changed: Community[] = [];
    for (const community of prev) {
      if (next.includes(community)) continue;
      const set = this.#byCommunity.get(community);
      set?.delete(vtep);
      if (set?.size === 0) this.#byCommunity.delete(community);
      changed.push(community);
    }
    for (const community of next) {
      if (prev.includes(community)) continue;
      let set = this.#byCommunity.get(community);
      if (!set) this.#byCommunity.set(community, set = new Set());
      set.add(vtep);
      changed.push(community);
    }
    if (next.length === 0) this.#byVtep.delete(vtep);
    else this.#byVtep.set(vtep, next);
    return changed;
  }

  /** Forgets `vtep`; returns the communities whose VTEP set changed. */
  delete(vtep: string): Community[] {
    return this.set(vtep, []);
  }

  /** Removes everything; returns every community that had VTEPs. */
  clear(): Community[] {
    const changed = [...this.#byCommunity.keys()];
    this.#byVtep.clear();
    this.#byCommunity.clear();
    return changed;
  }

  /** The VTEPs currently carrying `community` (live view; do not mutate). */
  vteps(community: Community): ReadonlySet<string> {
    return this.#byCommunity.get(community) ?? EMPTY;
  }

  /** The stored communities of `vtep`. */
  communitiesOf(vtep: string): readonly Community[] {
    return this.#byVtep.get(vtep) ?? [];
  }

  /** Number of VTEPs with at least one stored community. */
  get size(): number {
    return this.#byVtep.size;
  }
}
