/**
 * Domain types shared by the BGP decoder and the overlay state: a `Route`
 * is what the agent keeps from one BGP path, already validated.
 *
 * @module
 */
import type { Community } from "../net/community.ts";
import type { IpAddress } from "../net/ip.ts";
import type { EvpnRoute, EvpnRouteType } from "./evpn_route.ts";

/** One remote VTEP announcement (or its withdrawal), decoded from a BGP path. */
export interface Route {
  /** The remote VTEP: the host route's address. */
  vtep: IpAddress;
  /**
   * The path's standard communities (32-bit values, `ASN << 16 | VALUE`)
   * and large communities (`"G:L1:L2"` strings), in the path's order.
   */
  communities: Community[];
  /** True when the path is withdrawn. */
  withdraw: boolean;
  /**
   * True when gobgpd marks the path stale: its peer is restarting under BGP
   * graceful restart and gobgpd keeps its routes until the peer is back
   * (or its restart time runs out, when gobgpd withdraws them). A stale
   * path is as valid as any other. Absent: false.
   */
  stale?: boolean;
}

/** Why a path was skipped. Used as a metric label, so keep the values stable. */
export type SkipReason =
  | "family" // a family (or route kind) this mode does not read
  | "malformed" // payload that does not decode
  | "not_host_route" // prefix length is not 32 (IPv4) or 128 (IPv6)
  | "not_a_vtep" // 0.0.0.0, broadcast, loopback, multicast, link-local, IPv4-mapped, ...
  | "own_address" // the node's own VTEP address
  | "unknown_vni" // no community (or route target) maps to a VNI this node knows
  | "no_ingress_replication" // EVPN Type 3 without PMSI tunnel type 6
  | "not_unicast" // EVPN Type 2 whose MAC (zero, multicast) or IP is no host's
  | "route_type" // an EVPN route type this agent does not use (1, 4, 5, unknown)
  | "family_mismatch"; // a VTEP of the other address family than this node's, for a known VNI

export const SKIP_REASONS: readonly SkipReason[] = [
  "family",
  "malformed",
  "not_host_route",
  "not_a_vtep",
  "own_address",
  "unknown_vni",
  "no_ingress_replication",
  "not_unicast",
  "route_type",
  "family_mismatch",
];

/** A skipped path (with the EVPN route type when the path was EVPN). */
export type Skipped = { ok: false; reason: SkipReason; detail: string; evpnType?: EvpnRouteType };

/** Outcome of decoding one community (IPv4 unicast) path. */
export type Decoded = { ok: true; route: Route } | Skipped;

/** Outcome of decoding one EVPN path. */
export type DecodedEvpn = { ok: true; evpn: EvpnRoute } | Skipped;

/** Outcome of decoding any path of gobgpd's table (every family arrives on the stream). */
export type DecodedPath = Decoded | DecodedEvpn;
