/**
 * VXLAN FDB entries through libnl-route-3: flood entries
 * (`00:00:00:00:00:00 dst <remote>`: list, append, delete) and unicast
 * entries (`MAC dst <VTEP>`: list, replace, delete). ARP/ND entries are in
 * `neigh.ts`.
 *
 * Ownership mark: the unicast entries the agent writes carry
 * NTF_EXT_LEARNED, which `bridge fdb` shows as `self extern_learn
 * permanent`; checked on kernel 6.x, the vxlan driver stores the flag, reports
 * it in dumps and notifications, and a hand `bridge fdb replace` without it
 * clears it (the entry is then the user's), while a replace carrying it does
 * not set it on an entry added without it. NDA_PROTOCOL, the other candidate,
 * is not stored for FDB entries at all, and libnl 3.7 cannot set it.
 *
 * @module
 */

import { cString } from "./_addr.ts";
import { FLOOD_MAC, formatMac, isZeroMac, parseMac } from "../net/mac.ts";
import type { IpAddress } from "../net/ip.ts";
import {
  type AddrBytes,
  AF_BRIDGE,
  AF_LLC,
  formatAddr,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REPLACE,
  NTF_EXT_LEARNED,
  NTF_SELF,
  NUD_PERMANENT,
  outPointer,
  pointerIn,
  readAddr,
  RTM_GETNEIGH,
  toNlAddr,
} from "./_objects.ts";
import { checkIfindex, quoteDevice, type RtnlSocket } from "./_socket.ts";
import { NetlinkError, NLE, unwrap } from "./errors.ts";
import type { Links } from "./links.ts";
import type { UnicastEntry } from "./types.ts";
import { ipBytes } from "../net/ip.ts";

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
   * The remote destinations (IPv4 or IPv6) of the flood entries on one device, like the
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
    const sets = new Map<number, Set<string>>();
    this.#scan(ifindex, "Cannot list FDB entries", (dev, mac, dst) => {
      if (!isZeroMac(mac.bytes)) return;
      const set = sets.get(dev);
      if (set === undefined) sets.set(dev, new Set([dst]));
      else set.add(dst); // a Set: 100,000 entries on a device must not cost O(n²)
    });
    return new Map([...sets].map(([dev, set]) => [dev, [...set]]));
  }

  /**
   * The unicast entries with a `dst` (IPv4 or IPv6) on one device, like `bridge fdb
   * show dev D | grep dst`, each with whether this agent wrote it (the
   * `extern_learn` mark). Flood entries and local (dst-less) entries are not
   * listed. A device that does not exist has none.
   */
  listUnicast(ifindex: number): UnicastEntry[] {
    checkIfindex(ifindex);
    const out: UnicastEntry[] = [];
    this.#scan(ifindex, "Cannot list FDB entries", (_dev, mac, dst, flags) => {
      if (isZeroMac(mac.bytes)) return;
      out.push({ mac: formatMac(mac.bytes), dst, ours: (flags & NTF_EXT_LEARNED) !== 0 });
    });
    return out;
  }

  /**
   * Visits the AF_BRIDGE entries with a 6-byte lladdr and an IPv4 or IPv6 dst of one
   * device (all devices for ifindex 0), from one RTM_GETNEIGH dump parsed by
   * libnl's neighbour cache. A non-zero `ifindex` asks the kernel to dump only
   * that device (`ifi_index` of the legacy request header, as `bridge fdb
   * show dev` does).
   */
  #scan(
    ifindex: number,
    action: string,
    visit: (dev: number, mac: AddrBytes, dst: IpAddress, flags: number) => void,
  ): void {
    const { nl, route } = this.#socket.lib;
    const what = ifindex === 0 ? action : `${action} on ifindex ${ifindex}`;
    const out = outPointer();
    unwrap(nl.nl_cache_alloc_name(cString("route/neigh"), out), what, "nl_cache_alloc_name");
    const cache = pointerIn(out);
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
        if (mac === undefined || mac.bytes.length !== 6) continue;
        const dst = readAddr(this.#socket.lib, route.rtnl_neigh_get_dst(obj));
        if (dst === undefined || (dst.bytes.length !== 4 && dst.bytes.length !== 16)) continue;
        const text = formatAddr(dst);
        if (text === undefined) continue;
        visit(dev, mac, text, route.rtnl_neigh_get_flags(obj));
      }
    } finally {
      nl.nl_cache_free(cache);
    }
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
    this.#withFdbNeigh(ifindex, ZERO_MAC, ip, NTF_SELF, action, (neigh) => {
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
    this.#withFdbNeigh(ifindex, ZERO_MAC, ip, NTF_SELF, action, (neigh) => {
      const rc = this.#socket.lib.route.rtnl_neigh_delete(this.#socket.sk(), neigh, 0);
      if (rc < 0 && rc !== -NLE.OBJ_NOTFOUND) {
        throw new NetlinkError(-rc, `${action} on ${this.#links.describe(ifindex, name)}`, {
          op: "rtnl_neigh_delete",
        });
      }
    });
  }

  /**
   * Points a MAC at a remote VTEP, in place, like `bridge fdb replace MAC dst
   * DST dev D self permanent extern_learn`: a MAC that pointed elsewhere is
   * moved in one request (NLM_F_REPLACE), with no moment without an entry.
   * The entry carries the agent's mark (NTF_EXT_LEARNED). Refuses the flood
   * MAC and a device that is not VXLAN. `name` only improves error messages.
   */
  replaceUnicast(ifindex: number, mac: string, dst: string, name?: string): void {
    const action = `Cannot replace FDB entry "${mac} dst ${dst}"`;
    const bytes = unicastMac(mac, action);
    const ip = this.#floodArgs(ifindex, dst, action);
    this.#requireVxlan(ifindex, name, action);
    this.#withFdbNeigh(ifindex, bytes, ip, NTF_SELF | NTF_EXT_LEARNED, action, (neigh) => {
      const rc = this.#socket.lib.route.rtnl_neigh_add(
        this.#socket.sk(),
        neigh,
        NLM_F_CREATE | NLM_F_REPLACE,
      );
      if (rc < 0) {
        throw new NetlinkError(-rc, `${action} on ${this.#links.describe(ifindex, name)}`, {
          op: "rtnl_neigh_add",
        });
      }
    });
  }

  /**
   * Removes a MAC's entry if it still points at `dst`, like `bridge fdb del
   * MAC dst DST dev D self`: after a move (`replaceUnicast` to another VTEP)
   * deleting the old (MAC, dst) leaves the moved entry alone. An entry that
   * is not there is not an error. `name` only improves error messages.
   */
  delUnicast(ifindex: number, mac: string, dst: string, name?: string): void {
    const action = `Cannot delete FDB entry "${mac} dst ${dst}"`;
    const bytes = unicastMac(mac, action);
    const ip = this.#floodArgs(ifindex, dst, action);
    this.#requireVxlan(ifindex, name, action);
    this.#withFdbNeigh(ifindex, bytes, ip, NTF_SELF, action, (neigh) => {
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
    const ip = ipBytes(dst);
    if (ip === undefined) throw new TypeError(`${action}: "${dst}" is not an IP address`);
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
   * Builds the (ifindex, MAC, dst) AF_BRIDGE template, permanent, with
   * `flags` (NTF_SELF, and the mark for unicast entries), hands it to `use`,
   * then frees it.
   */
  #withFdbNeigh<T>(
    ifindex: number,
    macBytes: Uint8Array<ArrayBuffer>,
    ip: Uint8Array<ArrayBuffer>,
    flags: number,
    action: string,
    use: (neigh: Deno.PointerObject) => T,
  ): T {
    const { nl, route } = this.#socket.lib;
    const neigh = route.rtnl_neigh_alloc();
    const mac = nl.nl_addr_build(AF_LLC, macBytes, BigInt(macBytes.length));
    const dst = toNlAddr(this.#socket.lib, ip);
    try {
      if (neigh === null || mac === null || dst === null) {
        throw new NetlinkError(NLE.NOMEM, action, { op: "rtnl_neigh_alloc" });
      }
      route.rtnl_neigh_set_ifindex(neigh, ifindex);
      // Order matters: the dst first (it sets family AF_INET or AF_INET6; a
      // 16-byte NDA_DST is an IPv6 remote), then the
      // lladdr, then family AF_BRIDGE; set_dst after AF_BRIDGE fails with
      // NLE_AF_MISMATCH.
      unwrap(route.rtnl_neigh_set_dst(neigh, dst), action, "rtnl_neigh_set_dst");
      route.rtnl_neigh_set_lladdr(neigh, mac);
      route.rtnl_neigh_set_family(neigh, AF_BRIDGE);
      route.rtnl_neigh_set_state(neigh, NUD_PERMANENT);
      route.rtnl_neigh_set_flags(neigh, flags);
      return use(neigh);
    } finally {
      // The neigh holds its own references to the addresses.
      if (dst !== null) nl.nl_addr_put(dst);
      if (mac !== null) nl.nl_addr_put(mac);
      if (neigh !== null) route.rtnl_neigh_put(neigh);
    }
  }
}

/** The bytes of a unicast MAC, or a TypeError naming the action. */
function unicastMac(mac: string, action: string): Uint8Array<ArrayBuffer> {
  const bytes = parseMac(mac);
  if (bytes === undefined) throw new TypeError(`${action}: "${mac}" is not a MAC address`);
  if (isZeroMac(bytes)) throw new TypeError(`${action}: the flood MAC is not a unicast entry`);
  return bytes;
}
