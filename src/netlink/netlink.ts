/**
 * The kernel edge for requests: one rtnetlink socket with its link requests
 * ({@linkcode Links}, `links.ts`), FDB requests ({@linkcode Fdb}, `fdb.ts`),
 * ARP/ND requests ({@linkcode Neighbours}, `neigh.ts`) and address listings
 * ({@linkcode Addresses}, `addrs.ts`).
 *
 * @module
 */

import { RtnlSocket } from "./_socket.ts";
import { Addresses } from "./addrs.ts";
import { Fdb } from "./fdb.ts";
import { Links } from "./links.ts";
import { Neighbours } from "./neigh.ts";

/**
 * One rtnetlink request socket. Create with {@linkcode Netlink.open};
 * release with `close()` or `using`.
 *
 * ```ts ignore
 * using nl = Netlink.open();
 * const vx = nl.links.getLink("vxlan10010");
 * if (vx) nl.fdb.appendFlood(vx.ifindex, "192.0.2.12", vx.name);
 * ```
 */
export class Netlink implements Disposable {
  readonly links: Links;
  readonly fdb: Fdb;
  readonly neighbours: Neighbours;
  readonly addresses: Addresses;
  #socket: RtnlSocket;

  private constructor(socket: RtnlSocket) {
    this.#socket = socket;
    this.links = new Links(socket);
    this.fdb = new Fdb(socket, this.links);
    this.neighbours = new Neighbours(socket);
    this.addresses = new Addresses(socket);
  }

  /** Loads libnl (once per process) and connects an rtnetlink socket in the caller's netns. */
  static open(): Netlink {
    return new Netlink(RtnlSocket.open());
  }

  /** Closes the socket. Calling it again does nothing. */
  close(): void {
    this.#socket.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
