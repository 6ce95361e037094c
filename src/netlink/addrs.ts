/**
 * Interface addresses through libnl-route-3, like `ip addr show`: IPv4 and
 * IPv6, link-local included. Changes arrive as notifications (`events.ts`,
 * RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR); nothing here polls.
 *
 * @module
 */

import type { IpAddress } from "../net/ip.ts";
import { formatAddr, outPointer, pointerIn, readAddr } from "./_objects.ts";
import type { RtnlSocket } from "./_socket.ts";
import { unwrap } from "./errors.ts";

/** Address requests on one rtnetlink socket. */
export class Addresses {
  #socket: RtnlSocket;

  constructor(socket: RtnlSocket) {
    this.#socket = socket;
  }

  /**
   * The local addresses of every device, by ifindex, like `ip -br addr show`
   * (one dump of both families). Each list is sorted and holds an address once.
   */
  listAddresses(): Map<number, IpAddress[]> {
    const { nl, route } = this.#socket.lib;
    const out = outPointer();
    unwrap(
      route.rtnl_addr_alloc_cache(this.#socket.sk(), out),
      "Cannot list addresses",
      "rtnl_addr_alloc_cache",
    );
    const cache = pointerIn(out);
    const byDevice = new Map<number, Set<IpAddress>>();
    try {
      for (let obj = nl.nl_cache_get_first(cache); obj !== null; obj = nl.nl_cache_get_next(obj)) {
        const local = readAddr(this.#socket.lib, route.rtnl_addr_get_local(obj));
        const ip = local === undefined ? undefined : formatAddr(local);
        if (ip === undefined) continue;
        const ifindex = route.rtnl_addr_get_ifindex(obj);
        const set = byDevice.get(ifindex);
        if (set === undefined) byDevice.set(ifindex, new Set([ip]));
        else set.add(ip);
      }
    } finally {
      nl.nl_cache_free(cache);
    }
    return new Map([...byDevice].map(([ifindex, set]) => [ifindex, [...set].sort()]));
  }
}
