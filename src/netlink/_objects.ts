/**
 * Kernel vocabulary and the readers that turn libnl objects into the plain
 * data types of `types.ts`. Shared by `netlink.ts` (dumps, lookups) and
 * `events.ts` (notifications). The readers never take ownership: the caller
 * frees the object it passed in.
 *
 * @module
 */

import type { Libnl } from "./_ffi.ts";
import { formatIp, type IpAddress } from "../net/ip.ts";
import { formatMac } from "../net/mac.ts";
import type { LinkInfo } from "./types.ts";

/** `<sys/socket.h>` address families. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;
/** libnl's family for link-layer (MAC) addresses. */
export const AF_LLC = 26;

/** `<linux/netlink.h>` */
export const NETLINK_ROUTE = 0;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
export const NLM_F_DUMP = 0x300;

/** `<linux/rtnetlink.h>` message types and multicast groups. */
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTNLGRP_LINK = 1;
export const RTNLGRP_NEIGH = 3;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV6_IFADDR = 9;

/** `<linux/neighbour.h>` */
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
/**
 * "Learned by an external control plane": the mark on the unicast FDB and
 * neighbour entries this agent writes (`bridge fdb` shows `self extern_learn
 * permanent`, `ip neigh` shows `extern_learn PERMANENT`). See `fdb.ts`.
 */
export const NTF_EXT_LEARNED = 0x10;

/** `<net/if.h>` */
export const IFF_UP = 0x1;

/** `<netlink/handlers.h>` */
export const NL_CB_VALID = 0;
export const NL_CB_CUSTOM = 3;
export const NL_OK = 0;

/** A one-slot out-pointer (`T **`): pass it as a `"buffer"` argument. */
export function outPointer(): BigUint64Array<ArrayBuffer> {
  return new BigUint64Array(1);
}

/** The pointer an out-pointer received, or `null`. */
export function pointerIn(out: BigUint64Array): Deno.PointerValue {
  return Deno.UnsafePointer.create(out[0] ?? 0n);
}

/** A `char *` owned by libnl as a string, or `undefined` for NULL. */
export function cStringAt(ptr: Deno.PointerValue): string | undefined {
  return ptr === null ? undefined : Deno.UnsafePointerView.getCString(ptr);
}

/** An address read out of a `struct nl_addr *` (which stays owned by the caller). */
export interface AddrBytes {
  family: number;
  bytes: Uint8Array;
}

/** Copies the family and bytes of an `nl_addr`, or `undefined` for NULL. */
export function readAddr(lib: Libnl, addr: Deno.PointerValue): AddrBytes | undefined {
  if (addr === null) return undefined;
  const len = lib.nl.nl_addr_get_len(addr);
  const data = lib.nl.nl_addr_get_binary_addr(addr);
  const bytes = new Uint8Array(len);
  if (len > 0 && data !== null) new Deno.UnsafePointerView(data).copyInto(bytes);
  return { family: lib.nl.nl_addr_get_family(addr), bytes };
}

/**
 * A new `struct nl_addr *` (the caller puts it) for 4 (AF_INET) or 16
 * (AF_INET6) network-order bytes; null when libnl cannot allocate.
 */
export function toNlAddr(lib: Libnl, bytes: Uint8Array<ArrayBuffer>): Deno.PointerValue {
  const family = bytes.length === 16 ? AF_INET6 : AF_INET;
  return lib.nl.nl_addr_build(family, bytes, BigInt(bytes.length));
}

/** An IP address as text: dotted quad for IPv4, RFC 5952 text for IPv6. */
export function formatAddr(addr: AddrBytes): IpAddress | undefined {
  return formatIp(addr.bytes);
}

/** A MAC address as lower-case text, or `undefined` if `addr` is not 6 bytes. */
export function formatLladdr(addr: AddrBytes | undefined): string | undefined {
  return addr !== undefined && addr.bytes.length === 6 ? formatMac(addr.bytes) : undefined;
}

/**
 * Reads a `struct rtnl_link *` into a {@linkcode LinkInfo}. VXLAN fields are
 * filled only when the object carries them (a partial RTM_NEWLINK has no
 * IFLA_LINKINFO, so `kind` and the VXLAN fields stay undefined).
 */
export function readLink(lib: Libnl, link: Deno.PointerObject): LinkInfo {
  const { route, nl } = lib;
  const info: LinkInfo = {
    ifindex: route.rtnl_link_get_ifindex(link),
    name: cStringAt(route.rtnl_link_get_name(link)) ?? "",
    kind: cStringAt(route.rtnl_link_get_type(link)),
    up: (route.rtnl_link_get_flags(link) & IFF_UP) !== 0,
  };
  const mac = formatLladdr(readAddr(lib, route.rtnl_link_get_addr(link)));
  if (mac !== undefined) info.mac = mac;
  // The vxlan getters print an APPBUG and fail on other kinds: ask first.
  if (route.rtnl_link_is_vxlan(link) === 0) return info;
  const u32 = new Uint32Array(1);
  if (route.rtnl_link_vxlan_get_id(link, u32) === 0) info.vni = u32[0]!;
  if (route.rtnl_link_vxlan_get_port(link, u32) === 0) info.port = u32[0]!;
  if (route.rtnl_link_vxlan_get_link(link, u32) === 0 && u32[0] !== 0) {
    info.underlayIfindex = u32[0]!;
  }
  const out = outPointer();
  if (route.rtnl_link_vxlan_get_local(link, out) === 0) {
    const addr = pointerIn(out);
    try {
      const local = readAddr(lib, addr);
      const text = local === undefined ? undefined : formatAddr(local);
      if (text !== undefined) info.local = text;
    } finally {
      if (addr !== null) nl.nl_addr_put(addr);
    }
  }
  return info;
}
