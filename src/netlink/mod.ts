/**
 * The kernel edge: libnl-route-3 through `Deno.dlopen`. Importing this module
 * loads no library; `Netlink.open()` and `new NetlinkEvents()` do.
 *
 * @module
 */

export { Netlink } from "./netlink.ts";
export { NetlinkEvents } from "./events.ts";
export type { NetlinkEventHandlers, NetlinkEventsOptions } from "./events.ts";
export { NetlinkError, NLE, nleName, unwrap } from "./errors.ts";
export type { NetlinkErrorOptions } from "./errors.ts";
export { FLOOD_MAC } from "../net/mac.ts";
export type {
  AddrEvent,
  IpNeighEvent,
  LinkEvent,
  LinkInfo,
  NeighEntry,
  NeighEvent,
  UnicastEntry,
  VxlanSpec,
} from "./types.ts";
