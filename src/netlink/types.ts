/**
 * Plain data types for the kernel side. No FFI here: pure modules may import
 * this file without loading libnl.
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";

/** A kernel link as far as the agent cares. Undefined means "not reported". */
export interface LinkInfo {
  /** Interface index. */
  ifindex: number;
  /** Interface name, e.g. `vxlan10010`. */
  name: string;
  /** `rtnl_link_get_type()`: `"vxlan"`, `"veth"`, `"bridge"`, ... or `undefined`. */
  kind: string | undefined;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** The device's own MAC (IFLA_ADDRESS), lower case; undefined when not reported. */
  mac?: string;
  /** VXLAN only: the VNI (IFLA_VXLAN_ID). */
  vni?: number;
  /** VXLAN only: local address (IFLA_VXLAN_LOCAL, or IFLA_VXLAN_LOCAL6 for an IPv6 device). */
  local?: IpAddress;
  /** VXLAN only: destination UDP port (IFLA_VXLAN_PORT). */
  port?: number;
  /** VXLAN only: underlay ifindex (IFLA_VXLAN_LINK). */
  underlayIfindex?: number;
}

/** Parameters for `ip link add NAME type vxlan id VNI local A dstport P dev U nolearning`. */
export interface VxlanSpec {
  name: string;
  vni: number;
  /** Local address (IPv4, or IPv6 for an IPv6 device); omitted when undefined. */
  local?: IpAddress;
  /** UDP destination port. */
  port: number;
  /** Underlay device ifindex (`dev`); omitted when undefined. */
  underlayIfindex?: number;
}

/** A link notification from RTNLGRP_LINK. */
export interface LinkEvent {
  /** RTM_NEWLINK or RTM_DELLINK. */
  type: "new" | "del";
  link: LinkInfo;
}

/** A neighbour (FDB) notification from RTNLGRP_NEIGH, AF_BRIDGE only. */
export interface NeighEvent {
  /** RTM_NEWNEIGH or RTM_DELNEIGH. */
  type: "new" | "del";
  ifindex: number;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** Remote destination (IPv4 or IPv6), or undefined when the entry has none. */
  dst: IpAddress | undefined;
  /** Marked `extern_learn` (NTF_EXT_LEARNED): written by this agent. */
  ours: boolean;
}

/** A unicast FDB entry on a VXLAN device (`MAC dst VTEP self`), as `Fdb.listUnicast` reads it. */
export interface UnicastEntry {
  /** Lower-case MAC, never the flood MAC. */
  mac: string;
  dst: IpAddress;
  /** Marked `extern_learn`: this agent wrote it. */
  ours: boolean;
}

/** A permanent ARP/ND entry (`IP lladdr MAC PERMANENT`), as `Neighbours.list` reads it. */
export interface NeighEntry {
  ip: IpAddress;
  mac: string;
  /** Marked `extern_learn`: this agent wrote it. */
  ours: boolean;
}

/** An ARP/ND neighbour notification (RTNLGRP_NEIGH, AF_INET or AF_INET6). */
export interface IpNeighEvent {
  type: "new" | "del";
  ifindex: number;
  ip: IpAddress;
  /** Undefined when the entry has no link-layer address (e.g. FAILED). */
  mac: string | undefined;
  /** NUD_PERMANENT. */
  permanent: boolean;
  /** Marked `extern_learn`: this agent wrote it. */
  ours: boolean;
}

/** An address notification (RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR). */
export interface AddrEvent {
  /** RTM_NEWADDR or RTM_DELADDR. */
  type: "new" | "del";
  ifindex: number;
  ip: IpAddress;
}
