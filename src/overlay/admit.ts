/**
 * Which decoded routes the overlay takes, in one pure place: hostile
 * addresses (not a usable unicast VTEP), this node's own address, and
 * routes that carry no community of a known VNI. Each rule says why, with
 * the metric label (`SkipReason`) and a detail for the debug log.
 *
 * @module
 */
import { type Community, formatCommunity } from "../net/community.ts";
import { hostPrefix, type IpAddress, parseVtep } from "../net/ip.ts";
import type { Route, SkipReason } from "./route.ts";

/** A skipped path: the metric label and the detail for the log. */
export interface Skip {
  reason: SkipReason;
  detail: string;
}

/** Hostile addresses: the VTEP of `prefix` (its text, e.g. `192.0.2.1/32`), or why not. */
export function admitVtep(address: string, prefix: string): { vtep: IpAddress } | Skip {
  const parsed = parseVtep(address);
  if ("vtep" in parsed) return parsed;
  return { reason: "not_a_vtep", detail: `prefix ${prefix}: ${parsed.problem}` };
}

/** What to do with a decoded route. */
export interface Admission {
  /** Counted and logged at debug level, if set. */
  skip?: Skip;
  /** False: the route is dropped; true: it is stored (even with a skip). */
  store: boolean;
}

/**
 * The node-specific rules: a route for `own` (this node's VTEP) is dropped;
 * an announcement none of whose communities maps to a known VNI is counted
 * as `unknown_vni` but still stored (in discovery mode its VNI may appear
 * later). Withdrawals are always stored.
 */
export function admitRoute(
  route: Route,
  own: IpAddress,
  known: (community: Community) => boolean,
): Admission {
  if (route.vtep === own) {
    return {
      skip: {
        reason: "own_address",
        detail: `prefix ${hostPrefix(route.vtep)} is this node's own VTEP`,
      },
      store: false,
    };
  }
  if (route.withdraw || route.communities.some(known)) return { store: true };
  const communities = route.communities.map(formatCommunity).join(" ") || "none";
  return {
    skip: {
      reason: "unknown_vni",
      detail: `prefix ${
        hostPrefix(route.vtep)
      } carries no community of a known VNI (${communities})`,
    },
    store: true,
  };
}
