/**
 * Links through libnl-route-3: list, get, create a VXLAN device, set up,
 * delete. Every libnl object allocated here is freed before the method
 * returns (try/finally); no method keeps a cache of links.
 *
 * @module
 */

import { cString } from "./_addr.ts";
import { ipBytes } from "../net/ip.ts";
import {
  AF_UNSPEC,
  IFF_UP,
  NLM_F_CREATE,
  NLM_F_EXCL,
  outPointer,
  pointerIn,
  readLink,
  toNlAddr,
} from "./_objects.ts";
import { checkIfindex, quoteDevice, type RtnlSocket } from "./_socket.ts";
import { NetlinkError, NLE, unwrap } from "./errors.ts";
import type { LinkInfo, VxlanSpec } from "./types.ts";

const VNI_MAX = 0xffffff;
const IFNAMSIZ = 16;

/**
 * Link requests on one rtnetlink socket. Methods are synchronous and named
 * after the iproute2 command they match.
 */
export class Links {
  #socket: RtnlSocket;
  /** Ifindexes already seen to be VXLAN devices (the kernel hands out ifindexes cyclically). */
  #vxlan = new Set<number>();

  constructor(socket: RtnlSocket) {
    this.#socket = socket;
  }

  /** All links, like `ip -d link show`; VXLAN links carry vni, local, port, underlay. */
  listLinks(): LinkInfo[] {
    const { nl, route } = this.#socket.lib;
    const out = outPointer();
    unwrap(
      route.rtnl_link_alloc_cache(this.#socket.sk(), AF_UNSPEC, out),
      "Cannot list links",
      "rtnl_link_alloc_cache",
    );
    const cache = pointerIn(out);
    const links: LinkInfo[] = [];
    try {
      for (let obj = nl.nl_cache_get_first(cache); obj !== null; obj = nl.nl_cache_get_next(obj)) {
        links.push(readLink(this.#socket.lib, obj));
      }
    } finally {
      nl.nl_cache_free(cache);
    }
    return links;
  }

  /** The link called `name`, like `ip -d link show NAME`; `undefined` if there is none. */
  getLink(name: string): LinkInfo | undefined {
    if (name === "" || new TextEncoder().encode(name).length >= IFNAMSIZ) return undefined;
    return this.getKernelLink(0, name, `Cannot get link "${name}"`);
  }

  /** The link with this ifindex; `undefined` if there is none. */
  getLinkByIndex(ifindex: number): LinkInfo | undefined {
    checkIfindex(ifindex);
    return this.getKernelLink(ifindex, null, `Cannot get link with ifindex ${ifindex}`);
  }

  /** `rtnl_link_get_kernel` by ifindex or name; `what` starts the error message. */
  getKernelLink(ifindex: number, name: string | null, what: string): LinkInfo | undefined {
    const { route } = this.#socket.lib;
    const out = outPointer();
    const rc = route.rtnl_link_get_kernel(
      this.#socket.sk(),
      ifindex,
      name === null ? null : cString(name),
      out,
    );
    if (rc === -NLE.NODEV || rc === -NLE.OBJ_NOTFOUND) return undefined;
    unwrap(rc, what, "rtnl_link_get_kernel");
    const link = pointerIn(out);
    if (link === null) return undefined;
    try {
      const info = readLink(this.#socket.lib, link);
      if (info.kind === "vxlan") this.#vxlan.add(info.ifindex);
      return info;
    } finally {
      route.rtnl_link_put(link);
    }
  }

  /**
   * Creates a VXLAN device and sets it up, like
   * `ip link add NAME up type vxlan id VNI local A dstport P dev U nolearning`;
   * an IPv6 `local` is sent as IFLA_VXLAN_LOCAL6, which makes an IPv6 device.
   * Fails with `NLE_EXIST` if a link of that name exists.
   *
   * @returns the new device's ifindex.
   */
  createVxlan(spec: VxlanSpec): number {
    const { nl, route } = this.#socket.lib;
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
    const local = spec.local === undefined || spec.local === "" ? undefined : ipBytes(spec.local);
    if (spec.local !== undefined && spec.local !== "" && local === undefined) {
      throw new TypeError(`${what}: invalid local address "${spec.local}"`);
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
        const addr = toNlAddr(this.#socket.lib, local);
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
        route.rtnl_link_add(this.#socket.sk(), link, NLM_F_CREATE | NLM_F_EXCL),
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
    const { route } = this.#socket.lib;
    const what = `Cannot set link ${this.describe(ifindex, name)} up`;
    const orig = route.rtnl_link_alloc();
    const changes = route.rtnl_link_alloc();
    try {
      if (orig === null || changes === null) {
        throw new NetlinkError(NLE.NOMEM, what, { op: "rtnl_link_alloc" });
      }
      route.rtnl_link_set_ifindex(orig, ifindex);
      route.rtnl_link_set_flags(changes, IFF_UP);
      unwrap(route.rtnl_link_change(this.#socket.sk(), orig, changes, 0), what, "rtnl_link_change");
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
    const { route } = this.#socket.lib;
    const link = route.rtnl_link_alloc();
    if (link === null) {
      throw new NetlinkError(NLE.NOMEM, `Cannot delete link ${this.describe(ifindex, name)}`, {
        op: "rtnl_link_alloc",
      });
    }
    try {
      route.rtnl_link_set_ifindex(link, ifindex);
      const rc = route.rtnl_link_delete(this.#socket.sk(), link);
      if (rc < 0) {
        throw new NetlinkError(-rc, `Cannot delete link ${this.describe(ifindex, name)}`, {
          op: "rtnl_link_delete",
        });
      }
      this.#vxlan.delete(ifindex);
    } finally {
      route.rtnl_link_put(link);
    }
  }

  /** True when `ifindex` was already seen to be a VXLAN device. */
  knownVxlan(ifindex: number): boolean {
    return this.#vxlan.has(ifindex);
  }

  /** `"vxlan10010" (ifindex 7)`, resolving the name if the caller gave none. */
  describe(ifindex: number, name: string | undefined): string {
    if (name !== undefined || this.#socket.closed) return quoteDevice(ifindex, name);
    try {
      return quoteDevice(ifindex, this.getLinkByIndex(ifindex)?.name);
    } catch {
      return quoteDevice(ifindex, undefined);
    }
  }
}
