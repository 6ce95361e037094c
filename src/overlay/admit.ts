/**
 * Which decoded routes the overlay takes, in one pure place: hostile
 * addresses (not a usable unicast VTEP), this node's own address, VTEPs of
 * the other address family, and routes that carry no community of a known
 * VNI. Each rule says why, with
 * the metric label (`SkipReason`) and a detail for the debug log.
 *
 * @module
 */
import { type Community, formatCommunity } from "../net/community.ts";
import { hostPrefix, type IpAddress, ipFamily, parseVtep } from "../net/ip.ts";
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
  /**
   * Set for a VTEP of the other address family: never desired, but kept
   * apart (withdrawals included) so views can name the mismatched peers.
   */
  otherFamily?: true;
}

/**
 * The node-specific rules: a route for `own` (this node's VTEP) is dropped;
 * an announcement none of whose communities maps to a known VNI is counted
 * as `unknown_vni` but still stored (in discovery mode its VNI may appear
 * later). Withdrawals are always stored.
 *
 * A VTEP whose address family is not that of `own` can never be a flood
 * destination here (a vxlan device has one local address family, so the
 * kernel cannot send from an IPv4 VTEP to an IPv6 one): it goes to the
 * other-family table, counted as `family_mismatch` when it carries a known
 * VNI's community.
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
  if (ipFamily(route.vtep) !== ipFamily(own)) {
    if (route.withdraw || !route.communities.some(known)) {
      return { store: false, otherFamily: true, ...unknownVni(route) };
    }
    return {
      skip: {
        reason: "family_mismatch",
        detail: `prefix ${hostPrefix(route.vtep)}: ${familyMismatchDetail(route.vtep, own)} ` +
          `(communities ${formatAll(route.communities)})`,
      },
      store: false,
      otherFamily: true,
    };
  }
  if (route.withdraw || route.communities.some(known)) return { store: true };
  return { store: true, ...unknownVni(route) };
}

/** Why a remote VTEP of the other address family than `own` is never programmed. */
export function familyMismatchDetail(vtep: IpAddress, own: IpAddress): string {
  const [theirs, ours] = ipFamily(vtep) === 6 ? ["IPv6", "IPv4"] : ["IPv4", "IPv6"];
  return `${vtep} is an ${theirs} VTEP, but this node's VTEP ${own} is ${ours}: a vxlan ` +
    `device has one local address family, so the kernel cannot forward between them`;
}

function formatAll(communities: readonly Community[]): string {
  return communities.map(formatCommunity).join(" ") || "none";
}

/** The `unknown_vni` skip of an announcement (none for a withdrawal). */
function unknownVni(route: Route): { skip?: Skip } {
  if (route.withdraw) return {};
  const communities = formatAll(route.communities);
  return {
    skip: {
      reason: "unknown_vni",
      detail: `prefix ${
        hostPrefix(route.vtep)
      } carries no community of a known VNI (${communities})`,
    },
  };
}
