/**
 * VXLAN flood entries (`00:00:00:00:00:00 dst <remote>`) through
 * libnl-route-3: list, append, delete. Unicast MAC entries are never listed
 * or touched here (neighbour entries will be a module of their own).
 *
 * @module
 */

import { cString } from "./_addr.ts";
import { FLOOD_MAC, isZeroMac } from "../net/mac.ts";
import {
  AF_BRIDGE,
  AF_INET,
  AF_LLC,
  formatAddr,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NTF_SELF,
  NUD_PERMANENT,
  outPointer,
  pointerIn,
  readAddr,
  RTM_GETNEIGH,
} from "./_objects.ts";
import { checkIfindex, quoteDevice, type RtnlSocket } from "./_socket.ts";
import { NetlinkError, NLE, unwrap } from "./errors.ts";
import { ipv4Bytes, type Links } from "./links.ts";

const ZERO_MAC = new Uint8Array(6);

/** Flood-entry requests on one rtnetlink socket; `links` checks the device kind. */
export class Fdb {
  #socket: RtnlSocket;
  #links: Links;

  constructor(socket: RtnlSocket, links: Links) {
    this.#socket = socket;
    this.#links = links;
  }

  /**
   * The remote IPv4 destinations of the flood entries on one device, like the
   * `dst` column of `bridge fdb show dev D | grep 00:00:00:00:00:00`.
   * Unicast MAC entries are never listed. A device that does not exist has none.
   */
  listFlood(ifindex: number): string[] {
    checkIfindex(ifindex);
    return this.dump(ifindex).get(ifindex) ?? [];
  }

  /**
   * The flood destinations of every device, by ifindex, from one dump (what
   * `listFlood` of each device would return; unicast entries never listed).
   */
  listFloodAll(): Map<number, string[]> {
    return this.dump(0);
  }

  /**
   * One RTM_GETNEIGH dump of family AF_BRIDGE, parsed by libnl's neighbour
   * cache. A non-zero `ifindex` asks the kernel to dump only that device
   * (`ifi_index` of the legacy request header, as `bridge fdb show dev` does).
   */
  dump(ifindex: number): Map<number, string[]> {
    const { nl, route } = this.#socket.lib;
    const what = ifindex === 0
      ? "Cannot list FDB entries"
      : `Cannot list FDB entries on ifindex ${ifindex}`;
    const out = outPointer();
    unwrap(nl.nl_cache_alloc_name(cString("route/neigh"), out), what, "nl_cache_alloc_name");
    const cache = pointerIn(out);
    const sets = new Map<number, Set<string>>();
    try {
      // struct ifinfomsg { u8 family; u8 pad; u16 type; i32 index; u32 flags; u32 change; }
      const req = new Uint8Array(16);
      const view = new DataView(req.buffer);
      view.setUint8(0, AF_BRIDGE);
      view.setInt32(4, ifindex, true);
      unwrap(
        nl.nl_send_simple(this.#socket.sk(), RTM_GETNEIGH, NLM_F_DUMP, req, BigInt(req.length)),
        what,
        "nl_send_simple",
      );
      unwrap(nl.nl_cache_pickup(this.#socket.sk(), cache), what, "nl_cache_pickup");
      for (let obj = nl.nl_cache_get_first(cache); obj !== null; obj = nl.nl_cache_get_next(obj)) {
        if (route.rtnl_neigh_get_family(obj) !== AF_BRIDGE) continue;
        const dev = route.rtnl_neigh_get_ifindex(obj);
        if (ifindex !== 0 && dev !== ifindex) continue;
        const mac = readAddr(this.#socket.lib, route.rtnl_neigh_get_lladdr(obj));
        if (mac === undefined || mac.bytes.length !== 6 || !isZeroMac(mac.bytes)) continue;
        const dst = readAddr(this.#socket.lib, route.rtnl_neigh_get_dst(obj));
        if (dst === undefined || dst.bytes.length !== 4) continue;
        const text = formatAddr(dst);
        if (text === undefined) continue;
        const set = sets.get(dev);
        if (set === undefined) sets.set(dev, new Set([text]));
        else set.add(text); // a Set: 100,000 entries on a device must not cost O(n²)
      }
    } finally {
      nl.nl_cache_free(cache);
    }
    return new Map([...sets].map(([dev, set]) => [dev, [...set]]));
  }

  /**
   * Adds one remote to a VXLAN device's flood list, like
   * `bridge fdb append 00:00:00:00:00:00 dst DST dev D self permanent`.
   * Appending a remote that is already there changes nothing. Refuses a
   * device that is not VXLAN (the kernel would silently take the MAC as a
   * unicast filter address there). `name` only improves error messages.
   */
  appendFlood(ifindex: number, dst: string, name?: string): void {
    const action = `Cannot append FDB entry "${FLOOD_MAC} dst ${dst}"`;
    const ip = this.#floodArgs(ifindex, dst, action);
    this.#requireVxlan(ifindex, name, action);
    this.#withFloodNeigh(ifindex, ip, action, (neigh) => {
      const rc = this.#socket.lib.route.rtnl_neigh_add(
        this.#socket.sk(),
        neigh,
        NLM_F_CREATE | NLM_F_APPEND,
      );
      if (rc < 0) {
        throw new NetlinkError(-rc, `${action} on ${this.#links.describe(ifindex, name)}`, {
          op: "rtnl_neigh_add",
        });
      }
    });
  }

  /**
   * Removes one remote from a VXLAN device's flood list, like
   * `bridge fdb del 00:00:00:00:00:00 dst DST dev D self`; other remotes and
   * unicast entries stay. Removing a remote that is not there is not an
   * error: the kernel itself answers ENOENT only when the device has no flood
   * entry at all, and success when the MAC exists without that remote, so no
   * honest "was it there" answer is available without a dump. `name` only
   * improves error messages.
   */
  delFlood(ifindex: number, dst: string, name?: string): void {
    const action = `Cannot delete FDB entry "${FLOOD_MAC} dst ${dst}"`;
    const ip = this.#floodArgs(ifindex, dst, action);
    this.#requireVxlan(ifindex, name, action);
    this.#withFloodNeigh(ifindex, ip, action, (neigh) => {
      const rc = this.#socket.lib.route.rtnl_neigh_delete(this.#socket.sk(), neigh, 0);
      if (rc < 0 && rc !== -NLE.OBJ_NOTFOUND) {
        throw new NetlinkError(-rc, `${action} on ${this.#links.describe(ifindex, name)}`, {
          op: "rtnl_neigh_delete",
        });
      }
    });
  }

  #floodArgs(ifindex: number, dst: string, action: string): Uint8Array<ArrayBuffer> {
    if (!Number.isInteger(ifindex) || ifindex <= 0) {
      throw new RangeError(`${action}: invalid ifindex ${ifindex}`);
    }
    const ip = ipv4Bytes(dst);
    if (ip === undefined) throw new TypeError(`${action}: "${dst}" is not an IPv4 address`);
    return ip;
  }

  /** Throws unless `ifindex` is a VXLAN device; remembers the ones that are. */
  #requireVxlan(ifindex: number, name: string | undefined, action: string): void {
    if (this.#links.knownVxlan(ifindex)) return;
    const link = this.#links.getKernelLink(
      ifindex,
      null,
      `${action} on ${quoteDevice(ifindex, name)}`,
    );
    if (link === undefined) {
      throw new NetlinkError(NLE.NODEV, `${action} on ${quoteDevice(ifindex, name)}`, {
        op: "rtnl_link_get_kernel",
      });
    }
    if (link.kind !== "vxlan") {
      const kind = link.kind === undefined ? "unknown kind" : `kind "${link.kind}"`;
      throw new NetlinkError(NLE.OPNOTSUPP, `${action} on ${quoteDevice(ifindex, link.name)}`, {
        op: "rtnl_link_is_vxlan",
        reason: `not a VXLAN device (${kind})`,
      });
    }
  }

  /**
   * Builds the (ifindex, 00:00:00:00:00:00, dst) AF_BRIDGE template, permanent
   * and NTF_SELF, hands it to `use`, then frees it.
   */
  #withFloodNeigh<T>(
    ifindex: number,
    ip: Uint8Array<ArrayBuffer>,
    action: string,
    use: (neigh: Deno.PointerObject) => T,
  ): T {
    const { nl, route } = this.#socket.lib;
    const neigh = route.rtnl_neigh_alloc();
    const mac = nl.nl_addr_build(AF_LLC, ZERO_MAC, BigInt(ZERO_MAC.length));
    const dst = nl.nl_addr_build(AF_INET, ip, BigInt(ip.length));
    try {
      if (neigh === null || mac === null || dst === null) {
        throw new NetlinkError(NLE.NOMEM, action, { op: "rtnl_neigh_alloc" });
      }
      route.rtnl_neigh_set_ifindex(neigh, ifindex);
      // Order matters: the dst first (it sets family AF_INET), then the
      // lladdr, then family AF_BRIDGE; set_dst after AF_BRIDGE fails with
      // NLE_AF_MISMATCH.
      unwrap(route.rtnl_neigh_set_dst(neigh, dst), action, "rtnl_neigh_set_dst");
      route.rtnl_neigh_set_lladdr(neigh, mac);
      route.rtnl_neigh_set_family(neigh, AF_BRIDGE);
      route.rtnl_neigh_set_state(neigh, NUD_PERMANENT);
      route.rtnl_neigh_set_flags(neigh, NTF_SELF);
      return use(neigh);
    } finally {
      // The neigh holds its own references to the addresses.
      if (dst !== null) nl.nl_addr_put(dst);
      if (mac !== null) nl.nl_addr_put(mac);
      if (neigh !== null) route.rtnl_neigh_put(neigh);
    }
  }
}
