/**
 * Domain types shared by the BGP decoder and the overlay state: a `Route`
 * is what the agent keeps from one BGP path, already validated.
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";
import type { EvpnRoute, EvpnRouteType } from "./evpn_route.ts";

/** One remote VTEP announcement (or its withdrawal), decoded from a BGP path. */
export interface Route {
  /** The remote VTEP: the host route's address. */
  vtep: IpAddress;
  /** Standard communities as 32-bit values (`ASN << 16 | VALUE`). */
  communities: number[];
  /** True when the path is withdrawn. */
  withdraw: boolean;
}

/** Why a path was skipped. Used as a metric label, so keep the values stable. */
export type SkipReason =
  | "family" // a family (or route kind) this mode does not read
  | "malformed" // payload that does not decode
  | "not_host_route" // prefix length is not 32
  | "not_a_vtep" // 0.0.0.0, broadcast, loopback, multicast, link-local, ...
  | "own_address" // the node's own VTEP address
  | "unknown_vni" // no community (or route target) maps to a VNI this node knows
  | "no_ingress_replication" // EVPN Type 3 without PMSI tunnel type 6
  | "route_type"; // an EVPN route type this agent does not use (1, 4, 5, unknown)

export const SKIP_REASONS: readonly SkipReason[] = [
  "family",
  "malformed",
  "not_host_route",
  "not_a_vtep",
  "own_address",
  "unknown_vni",
  "no_ingress_replication",
  "route_type",
];

/** A skipped path (with the EVPN route type when the path was EVPN). */
export type Skipped = { ok: false; reason: SkipReason; detail: string; evpnType?: EvpnRouteType };

/** Outcome of decoding one community (IPv4 unicast) path. */
export type Decoded = { ok: true; route: Route } | Skipped;

/** Outcome of decoding one EVPN path. */
export type DecodedEvpn = { ok: true; evpn: EvpnRoute } | Skipped;

/** Outcome of decoding any path of gobgpd's table (every family arrives on the stream). */
export type DecodedPath = Decoded | DecodedEvpn;
