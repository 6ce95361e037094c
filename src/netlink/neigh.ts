/**
 * Permanent ARP (IPv4) and ND (IPv6) neighbour entries through
 * libnl-route-3: list, replace, delete, like `ip neigh show / replace / del
 * ... dev D`.
 *
 * Ownership mark: the entries the agent writes carry NTF_EXT_LEARNED, which
 * `ip neigh` shows as `extern_learn PERMANENT`. Checked on kernel 6.x: the
 * flag is stored and reported in dumps and notifications; a hand `ip neigh
 * replace` without it clears it (the entry is then the user's), and a replace
 * carrying it sets it on any entry (so the agent never replaces a permanent
 * entry it did not write: see `app/unicast_entries.ts`). `proto N`
 * (NDA_PROTOCOL) is stored too, but libnl 3.7 can neither set nor read it.
 * The kernel removes every neighbour of a device, permanent ones included,
 * when the device's MAC changes or it goes down: the RTM_DELNEIGH
 * notifications let the reconciler put ours back.
 *
 * @module
 */

import { cString } from "./_addr.ts";
import { ipBytes } from "../net/ip.ts";
import { formatMac, isZeroMac, parseMac } from "../net/mac.ts";
import {
  AF_INET,
  AF_INET6,
  AF_LLC,
  formatAddr,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REPLACE,
  NTF_EXT_LEARNED,
  NUD_PERMANENT,
  outPointer,
  pointerIn,
  readAddr,
  RTM_GETNEIGH,
} from "./_objects.ts";
import { checkIfindex, quoteDevice, type RtnlSocket } from "./_socket.ts";
import { NetlinkError, NLE, unwrap } from "./errors.ts";
import type { NeighEntry } from "./types.ts";

/** ARP/ND requests on one rtnetlink socket. */
export class Neighbours {
  #socket: RtnlSocket;

  constructor(socket: RtnlSocket) {
    this.#socket = socket;
  }

  /**
   * The permanent IPv4 and IPv6 neighbours of one device, like `ip neigh
   * show dev D nud permanent`, each with whether this agent wrote it.
   * A device that does not exist has none.
   */
  list(ifindex: number): NeighEntry[] {
    checkIfindex(ifindex);
    const { nl, route } = this.#socket.lib;
    const what = `Cannot list neighbours on ifindex ${ifindex}`;
    const out = outPointer();
    unwrap(nl.nl_cache_alloc_name(cString("route/neigh"), out), what, "nl_cache_alloc_name");
    const cache = pointerIn(out);
    const entries: NeighEntry[] = [];
    try {
      // struct ndmsg { u8 family; u8 pad1; u16 pad2; i32 ifindex; u16 state; u8 flags; u8 type; }
      // AF_UNSPEC: the ARP and the ND tables (not the bridge FDB, which is AF_BRIDGE).
      const req = new Uint8Array(12);
      unwrap(
        nl.nl_send_simple(this.#socket.sk(), RTM_GETNEIGH, NLM_F_DUMP, req, BigInt(req.length)),
        what,
        "nl_send_simple",
      );
      unwrap(nl.nl_cache_pickup(this.#socket.sk(), cache), what, "nl_cache_pickup");
      for (let obj = nl.nl_cache_get_first(cache); obj !== null; obj = nl.nl_cache_get_next(obj)) {
        const family = route.rtnl_neigh_get_family(obj);
        if (family !== AF_INET && family !== AF_INET6) continue;
        if (route.rtnl_neigh_get_ifindex(obj) !== ifindex) continue;
        if ((route.rtnl_neigh_get_state(obj) & NUD_PERMANENT) === 0) continue;
        const mac = readAddr(this.#socket.lib, route.rtnl_neigh_get_lladdr(obj));
        if (mac === undefined || mac.bytes.length !== 6) continue;
        const dst = readAddr(this.#socket.lib, route.rtnl_neigh_get_dst(obj));
        const ip = dst === undefined ? undefined : formatAddr(dst);
        if (ip === undefined) continue;
        const ours = (route.rtnl_neigh_get_flags(obj) & NTF_EXT_LEARNED) !== 0;
        entries.push({ ip, mac: formatMac(mac.bytes), ours });
      }
    } finally {
      nl.nl_cache_free(cache);
    }
    return entries;
  }

  /**
   * Sets `IP lladdr MAC` on a device, permanent and marked as the agent's,
   * like `ip neigh replace IP lladdr MAC dev D nud permanent extern_learn`:
   * an entry for IP with another MAC is changed in place. `name` only
   * improves error messages.
   */
  replace(ifindex: number, ip: string, mac: string, name?: string): void {
    const action = `Cannot replace neighbour "${ip} lladdr ${mac}"`;
    const macBytes = parseMac(mac);
    if (macBytes === undefined || isZeroMac(macBytes)) {
      throw new TypeError(`${action}: "${mac}" is not a unicast MAC address`);
    }
    this.#withNeigh(ifindex, ip, macBytes, action, name, (neigh) => {
      const { route } = this.#socket.lib;
      route.rtnl_neigh_set_state(neigh, NUD_PERMANENT);
      route.rtnl_neigh_set_flags(neigh, NTF_EXT_LEARNED);
      const rc = route.rtnl_neigh_add(this.#socket.sk(), neigh, NLM_F_CREATE | NLM_F_REPLACE);
      if (rc < 0) {
        throw new NetlinkError(-rc, `${action} on ${quoteDevice(ifindex, name)}`, {
          op: "rtnl_neigh_add",
        });
      }
    });
  }

  /**
   * Removes the neighbour entry for IP on a device, like `ip neigh del IP dev
   * D`. An entry that is not there is not an error. `name` only improves
   * error messages.
   */
  delete(ifindex: number, ip: string, name?: string): void {
    const action = `Cannot delete neighbour "${ip}"`;
    this.#withNeigh(ifindex, ip, undefined, action, name, (neigh) => {
      const rc = this.#socket.lib.route.rtnl_neigh_delete(this.#socket.sk(), neigh, 0);
      if (rc < 0 && rc !== -NLE.OBJ_NOTFOUND) {
        throw new NetlinkError(-rc, `${action} on ${quoteDevice(ifindex, name)}`, {
          op: "rtnl_neigh_delete",
        });
      }
    });
  }

  #withNeigh(
    ifindex: number,
    ip: string,
    macBytes: Uint8Array<ArrayBuffer> | undefined,
    action: string,
    name: string | undefined,
    use: (neigh: Deno.PointerObject) => void,
  ): void {
    if (!Number.isInteger(ifindex) || ifindex <= 0) {
      throw new RangeError(`${action}: invalid ifindex ${ifindex}`);
    }
    const bytes = ipBytes(ip);
    if (bytes === undefined) throw new TypeError(`${action}: "${ip}" is not an IP address`);
    const { nl, route } = this.#socket.lib;
    const family = bytes.length === 4 ? AF_INET : AF_INET6;
    const neigh = route.rtnl_neigh_alloc();
    const dst = nl.nl_addr_build(family, bytes, BigInt(bytes.length));
    const mac = macBytes === undefined
      ? null
      : nl.nl_addr_build(AF_LLC, macBytes, BigInt(macBytes.length));
    try {
      if (neigh === null || dst === null || (macBytes !== undefined && mac === null)) {
        throw new NetlinkError(NLE.NOMEM, `${action} on ${quoteDevice(ifindex, name)}`, {
          op: "rtnl_neigh_alloc",
        });
      }
      route.rtnl_neigh_set_ifindex(neigh, ifindex);
      unwrap(route.rtnl_neigh_set_dst(neigh, dst), action, "rtnl_neigh_set_dst");
      if (mac !== null) route.rtnl_neigh_set_lladdr(neigh, mac);
      use(neigh);
    } finally {
      if (mac !== null) nl.nl_addr_put(mac);
      if (dst !== null) nl.nl_addr_put(dst);
      if (neigh !== null) route.rtnl_neigh_put(neigh);
    }
  }
}
