/**
 * The kernel edge for requests: links and VXLAN flood entries, through
 * libnl-route-3 on one rtnetlink socket.
 *
 * Every libnl object allocated here is freed before the method returns
 * (try/finally); no method keeps a cache.
 *
 * @module
 */

import { type Libnl, openLibnl } from "./_ffi.ts";
import { cString } from "./_addr.ts";
import { ipBytes } from "../net/ip.ts";
import { FLOOD_MAC, isZeroMac } from "../net/mac.ts";
import {
  AF_BRIDGE,
  AF_INET,
  AF_LLC,
  AF_UNSPEC,
  formatAddr,
  IFF_UP,
  NETLINK_ROUTE,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NTF_SELF,
  NUD_PERMANENT,
  outPointer,
  pointerIn,
  readAddr,
  readLink,
  RTM_GETNEIGH,
} from "./_objects.ts";
import { NetlinkError, NLE, unwrap } from "./errors.ts";
import type { LinkInfo, VxlanSpec } from "./types.ts";

const VNI_MAX = 0xffffff;
const IFNAMSIZ = 16;
const ZERO_MAC = new Uint8Array(6);

const sockets = new FinalizationRegistry<{ lib: Libnl; sk: Deno.PointerObject }>(
  // Fallback only: a Netlink that was never closed gives its socket back when collected.
  ({ lib, sk }) => lib.nl.nl_socket_free(sk),
);

/**
 * One rtnetlink request socket. Methods are synchronous and named after the
 * iproute2 command they match. Create with {@linkcode Netlink.open}; release
 * with `close()` or `using`.
 *
 * ```ts ignore
 * using nl = Netlink.open();
 * const vx = nl.getLink("vxlan10010");
 * if (vx) nl.appendFlood(vx.ifindex, "192.0.2.12", vx.name);
 * ```
 */
export class Netlink implements Disposable {
  #lib: Libnl;
  #handle: Deno.PointerObject | null;
  /** Ifindexes already seen to be VXLAN devices (the kernel hands out ifindexes cyclically). */
  #vxlan = new Set<number>();

  private constructor(lib: Libnl, handle: Deno.PointerObject) {
    this.#lib = lib;
    this.#handle = handle;
    sockets.register(this, { lib, sk: handle }, this);
  }

  /** Loads libnl (once per process) and connects an rtnetlink socket in the caller's netns. */
  static open(): Netlink {
    const lib = openLibnl();
    const sk = lib.nl.nl_socket_alloc();
    if (sk === null) {
      throw new NetlinkError(NLE.NOMEM, "Cannot allocate a netlink socket", {
        op: "nl_socket_alloc",
      });
    }
    try {
      unwrap(lib.nl.nl_connect(sk, NETLINK_ROUTE), "Cannot connect to rtnetlink", "nl_connect");
    } catch (err) {
      lib.nl.nl_socket_free(sk);
      throw err;
    }
    return new Netlink(lib, sk);
  }

  /** Closes the socket. Calling it again does nothing. */
  close(): void {
    if (this.#handle === null) return;
    sockets.unregister(this);
    this.#lib.nl.nl_socket_free(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #sk(): Deno.PointerObject {
    if (this.#handle === null) throw new TypeError("Cannot use a closed Netlink handle");
    return this.#handle;
  }

  // ---- links -------------------------------------------------------------

  /** All links, like `ip -d link show`; VXLAN links carry vni, local, port, underlay. */
  listLinks(): LinkInfo[] {
    const { nl, route } = this.#lib;
    const out = outPointer();
    unwrap(
      route.rtnl_link_alloc_cache(this.#sk(), AF_UNSPEC, out),
      "Cannot list links",
      "rtnl_link_alloc_cache",
    );
    const cache = pointerIn(out);
    const links: LinkInfo[] = [];
    try {
      for (let obj = nl.nl_cache_get_first(cache); obj !== null; obj = nl.nl_cache_get_next(obj)) {
        links.push(readLink(this.#lib, obj));
      }
    } finally {
      nl.nl_cache_free(cache);
    }
    return links;
  }

  /** The link called `name`, like `ip -d link show NAME`; `undefined` if there is none. */
  getLink(name: string): LinkInfo | undefined {
    if (name === "" || new TextEncoder().encode(name).length >= IFNAMSIZ) return undefined;
    return this.#getKernelLink(0, name, `Cannot get link "${name}"`);
  }

  /** The link with this ifindex; `undefined` if there is none. */
  getLinkByIndex(ifindex: number): LinkInfo | undefined {
    checkIfindex(ifindex);
    return this.#getKernelLink(ifindex, null, `Cannot get link with ifindex ${ifindex}`);
  }

  #getKernelLink(ifindex: number, name: string | null, what: string): LinkInfo | undefined {
    const { route } = this.#lib;
    const out = outPointer();
    const rc = route.rtnl_link_get_kernel(
      this.#sk(),
      ifindex,
      name === null ? null : cString(name),
      out,
    );
    if (rc === -NLE.NODEV || rc === -NLE.OBJ_NOTFOUND) return undefined;
    unwrap(rc, what, "rtnl_link_get_kernel");
    const link = pointerIn(out);
    if (link === null) return undefined;
    try {
      const info = readLink(this.#lib, link);
      if (info.kind === "vxlan") this.#vxlan.add(info.ifindex);
      return info;
    } finally {
      route.rtnl_link_put(link);
    }
  }

  /**
   * Creates a VXLAN device and sets it up, like
   * `ip link add NAME up type vxlan id VNI local A dstport P dev U nolearning`.
   * Fails with `NLE_EXIST` if a link of that name exists.
   *
   * @returns the new device's ifindex.
   */
  createVxlan(spec: VxlanSpec): number {
    const { nl, route } = this.#lib;
    const what = `Cannot create VXLAN device "${spec.name}" (VNI ${spec.vni})`;
    const nameBytes = new TextEncoder().encode(spec.name).length;
    if (nameBytes === 0 || nameBytes >= IFNAMSIZ || /[\s/:]/.test(spec.name)) {
      throw new RangeError(`${what}: invalid interface name "${spec.name}"`);
    }
    if (!Number.isInteger(spec.vni) || spec.vni < 0 || spec.vni > VNI_MAX) {
      throw new RangeError(`${what}: VNI must be an integer from 0 to ${VNI_MAX}`);
    }
    if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 0xffff) {
      throw new RangeError(`${what}: invalid UDP port ${spec.port}`);
    }
    const local = spec.local === undefined || spec.local === "" ? undefined : ipv4Bytes(spec.local);
    if (spec.local !== undefined && spec.local !== "" && local === undefined) {
      throw new TypeError(`${what}: invalid local IPv4 address "${spec.local}"`);
    }
    if (spec.underlayIfindex !== undefined) checkIfindex(spec.underlayIfindex);

    const link = route.rtnl_link_vxlan_alloc();
    if (link === null) throw new NetlinkError(NLE.NOMEM, what, { op: "rtnl_link_vxlan_alloc" });
    try {
      route.rtnl_link_set_name(link, cString(spec.name));
      unwrap(route.rtnl_link_vxlan_set_id(link, spec.vni), what, "rtnl_link_vxlan_set_id");
      unwrap(route.rtnl_link_vxlan_set_port(link, spec.port), what, "rtnl_link_vxlan_set_port");
      unwrap(route.rtnl_link_vxlan_set_learning(link, 0), what, "rtnl_link_vxlan_set_learning");
      if (spec.underlayIfindex !== undefined) {
        unwrap(
          route.rtnl_link_vxlan_set_link(link, spec.underlayIfindex),
          what,
          "rtnl_link_vxlan_set_link",
        );
      }
      if (local !== undefined) {
        const addr = nl.nl_addr_build(AF_INET, local, BigInt(local.length));
        if (addr === null) throw new NetlinkError(NLE.NOMEM, what, { op: "nl_addr_build" });
        try {
          unwrap(route.rtnl_link_vxlan_set_local(link, addr), what, "rtnl_link_vxlan_set_local");
        } finally {
          nl.nl_addr_put(addr);
        }
      }
      // ifi_change = IFF_UP only, as `ip link add ... up` sends.
      route.rtnl_link_set_flags(link, IFF_UP);
      unwrap(
        route.rtnl_link_add(this.#sk(), link, NLM_F_CREATE | NLM_F_EXCL),
        what,
        "rtnl_link_add",
      );
    } finally {
      route.rtnl_link_put(link);
    }
    const created = this.getLink(spec.name);
    if (created === undefined) {
      throw new NetlinkError(NLE.NODEV, `${what}: it vanished right after creation`, {
        op: "rtnl_link_get_kernel",
      });
    }
    return created.ifindex;
  }

  /** Sets a link administratively up, like `ip link set dev D up`. */
  setUp(ifindex: number, name?: string): void {
    checkIfindex(ifindex);
    const { route } = this.#lib;
    const what = `Cannot set link ${this.#describe(ifindex, name)} up`;
    const orig = route.rtnl_link_alloc();
    const changes = route.rtnl_link_alloc();
    try {
      if (orig === null || changes === null) {
        throw new NetlinkError(NLE.NOMEM, what, { op: "rtnl_link_alloc" });
      }
      route.rtnl_link_set_ifindex(orig, ifindex);
      route.rtnl_link_set_flags(changes, IFF_UP);
      unwrap(route.rtnl_link_change(this.#sk(), orig, changes, 0), what, "rtnl_link_change");
    } finally {
      if (orig !== null) route.rtnl_link_put(orig);
      if (changes !== null) route.rtnl_link_put(changes);
    }
  }

  /**
   * Deletes a link, like `ip link del dev D`. The caller decides whether the
   * link is its own to delete. `name` only improves error messages.
   */
  deleteLink(ifindex: number, name?: string): void {
    checkIfindex(ifindex);
    const { route } = this.#lib;
    const link = route.rtnl_link_alloc();
    if (link === null) {
      throw new NetlinkError(NLE.NOMEM, `Cannot delete link ${this.#describe(ifindex, name)}`, {
        op: "rtnl_link_alloc",
      });
    }
    try {
      route.rtnl_link_set_ifindex(link, ifindex);
      const rc = route.rtnl_link_delete(this.#sk(), link);
      if (rc < 0) {
        throw new NetlinkError(-rc, `Cannot delete link ${this.#describe(ifindex, name)}`, {
          op: "rtnl_link_delete",
        });
      }
      this.#vxlan.delete(ifindex);
    } finally {
      route.rtnl_link_put(link);
    }
  }

  // ---- flood entries -----------------------------------------------------

  /**
   * The remote IPv4 destinations of the flood entries on one device, like the
   * `dst` column of `bridge fdb show dev D | grep 00:00:00:00:00:00`.
   * Unicast MAC entries are never listed. A device that does not exist has none.
   */
  listFlood(ifindex: number): string[] {
    checkIfindex(ifindex);
    return this.#dumpFlood(ifindex).get(ifindex) ?? [];
  }

  /** Every flood entry of every device in one dump, grouped by ifindex. */
  listFloodAll(): Map<number, string[]> {
    return this.#dumpFlood(0);
  }

  /**
   * One RTM_GETNEIGH dump of family AF_BRIDGE, parsed by libnl's neighbour
   * cache. A non-zero `ifindex` asks the kernel to dump only that device
   * (`ifi_index` of the legacy request header, as `bridge fdb show dev` does).
   */
  #dumpFlood(ifindex: number): Map<number, string[]> {
    const { nl, route } = this.#lib;
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
        nl.nl_send_simple(this.#sk(), RTM_GETNEIGH, NLM_F_DUMP, req, BigInt(req.length)),
        what,
        "nl_send_simple",
      );
      unwrap(nl.nl_cache_pickup(this.#sk(), cache), what, "nl_cache_pickup");
      for (let obj = nl.nl_cache_get_first(cache); obj !== null; obj = nl.nl_cache_get_next(obj)) {
        if (route.rtnl_neigh_get_family(obj) !== AF_BRIDGE) continue;
        const dev = route.rtnl_neigh_get_ifindex(obj);
        if (ifindex !== 0 && dev !== ifindex) continue;
        const mac = readAddr(this.#lib, route.rtnl_neigh_get_lladdr(obj));
        if (mac === undefined || mac.bytes.length !== 6 || !isZeroMac(mac.bytes)) continue;
        const dst = readAddr(this.#lib, route.rtnl_neigh_get_dst(obj));
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
      const rc = this.#lib.route.rtnl_neigh_add(this.#sk(), neigh, NLM_F_CREATE | NLM_F_APPEND);
      if (rc < 0) {
        throw new NetlinkError(-rc, `${action} on ${this.#describe(ifindex, name)}`, {
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
      const rc = this.#lib.route.rtnl_neigh_delete(this.#sk(), neigh, 0);
      if (rc < 0 && rc !== -NLE.OBJ_NOTFOUND) {
        throw new NetlinkError(-rc, `${action} on ${this.#describe(ifindex, name)}`, {
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
    if (this.#vxlan.has(ifindex)) return;
    const link = this.#getKernelLink(
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
    const { nl, route } = this.#lib;
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

  /** `"vxlan10010" (ifindex 7)`, resolving the name if the caller gave none. */
  #describe(ifindex: number, name: string | undefined): string {
    if (name !== undefined || this.#handle === null) return quoteDevice(ifindex, name);
    try {
      return quoteDevice(ifindex, this.getLinkByIndex(ifindex)?.name);
    } catch {
      return quoteDevice(ifindex, undefined);
    }
  }
}

/** IPv4 only, as the kernel calls here are built for AF_INET. */
function ipv4Bytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  const bytes = ipBytes(text);
  return bytes?.length === 4 ? bytes : undefined;
}

function quoteDevice(ifindex: number, name: string | undefined): string {
  return name === undefined ? `ifindex ${ifindex}` : `"${name}" (ifindex ${ifindex})`;
}

function checkIfindex(ifindex: number): void {
  if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0x7fffffff) {
    throw new RangeError(`Invalid ifindex ${ifindex}: expected a positive integer`);
  }
}
