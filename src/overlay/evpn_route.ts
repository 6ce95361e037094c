/**
 * Domain types of standard EVPN routes (RFC 7432, RFC 8365 for VXLAN), as
 * the EVPN codec (`bgp/evpn_codec.ts`) decodes them from gobgpd's paths:
 * Type 3 (Inclusive Multicast Ethernet Tag, "IMET": a VTEP joins a VNI's
 * flood list) and Type 2 (MAC/IP advertisement). Types 1, 4 and 5 are
 * counted and ignored. Addresses are kept as text as received; the
 * overlay's admission rules (`admit.ts`) judge them.
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";
import type { RouteDistinguisher } from "../net/route_distinguisher.ts";
import type { RouteTarget } from "../net/route_target.ts";

/** EVPN route types 1..5 and unknown ones, as metric label values. */
export type EvpnRouteType =
  | "ethernet_ad" // Type 1
  | "mac_ip" // Type 2
  | "inclusive_multicast" // Type 3
  | "ethernet_segment" // Type 4
  | "ip_prefix" // Type 5
  | "other";

export const EVPN_ROUTE_TYPES: readonly EvpnRouteType[] = [
  "ethernet_ad",
  "mac_ip",
  "inclusive_multicast",
  "ethernet_segment",
  "ip_prefix",
  "other",
];

/** PMSI tunnel type 6: ingress replication (RFC 6514), the only one VXLAN VTEPs use here. */
export const PMSI_INGRESS_REPLICATION = 6;
/** Encapsulation extended community tunnel type 8: VXLAN (RFC 9012). */
export const TUNNEL_TYPE_VXLAN = 8;

/** The PMSI tunnel attribute (RFC 6514 section 5). */
export interface PmsiTunnel {
  flags: number;
  /** Tunnel type; 6 = ingress replication. */
  type: number;
  /** The label field: the VNI for VXLAN (RFC 8365 section 5.1.3). */
  label: number;
  /** The tunnel identifier: for ingress replication, the VTEP's IPv4 address; undefined otherwise. */
  id: IpAddress | undefined;
}

/** The MAC mobility extended community (RFC 7432 section 7.7). */
export interface MacMobility {
  sequence: number;
  sticky: boolean;
}

/** What every EVPN route carries. */
interface EvpnCommon {
  /** Identity of the NLRI: paths with the same key replace each other. */
  key: string;
  rd: RouteDistinguisher;
  ethernetTag: number;
  /** Route targets among the extended communities, in the order received. */
  routeTargets: RouteTarget[];
  /** Tunnel types of the encapsulation extended communities (8 = VXLAN). */
  encapsulations: number[];
  /** The BGP next hop (MP_REACH_NLRI), as text; "" when absent. */
  nextHop: string;
  /** The neighbour gobgpd learned it from; "" for a path added through the API. */
  neighbor: string;
  withdraw: boolean;
}

/** A Type 3 route: `originator` (the VTEP) wants BUM traffic of the VNI of its route target. */
export interface ImetRoute extends EvpnCommon {
  type: 3;
  /** The NLRI's originating router IP: FRR takes it as the remote VTEP. */
  originator: string;
  pmsi: PmsiTunnel | undefined;
}

/** The Ethernet Segment Identifier (RFC 7432 section 5): type 0 with 9 zero bytes = single-homed. */
export interface Esi {
  type: number;
  /** The 9 value bytes. */
  value: Uint8Array;
}

/** A Type 2 route: `mac` (and, when set, `ip`) lives behind the VTEP `nextHop`. */
export interface MacIpRoute extends EvpnCommon {
  type: 2;
  esi: Esi;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** The IPv4 or IPv6 address; undefined for a MAC-only route. */
  ip: IpAddress | undefined;
  /** MPLS label fields; the first is the VNI for VXLAN. */
  labels: number[];
  mobility: MacMobility | undefined;
}

export type EvpnRoute = ImetRoute | MacIpRoute;

/** The ESI of a single-homed VTEP: type 0, nine zero bytes (gobgpd 3.10 crashes without one). */
export function singleHomedEsi(): Esi {
  return { type: 0, value: new Uint8Array(9) };
}
