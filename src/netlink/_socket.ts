/**
 * One rtnetlink request socket in the caller's netns, shared by the link
 * and FDB requests. Opened lazily through {@linkcode RtnlSocket.open}, so
 * importing this module loads no library.
 *
 * @module
 */

import { type Libnl, openLibnl } from "./_ffi.ts";
import { NETLINK_ROUTE } from "./_objects.ts";
import { NetlinkError, NLE, unwrap } from "./errors.ts";

const sockets = new FinalizationRegistry<{ lib: Libnl; sk: Deno.PointerObject }>(
  // Fallback only: a socket that was never closed is given back when collected.
  ({ lib, sk }) => lib.nl.nl_socket_free(sk),
);

export class RtnlSocket implements Disposable {
  readonly lib: Libnl;
  #handle: Deno.PointerObject | null;

  private constructor(lib: Libnl, handle: Deno.PointerObject) {
    this.lib = lib;
    this.#handle = handle;
    sockets.register(this, { lib, sk: handle }, this);
  }

  /** Loads libnl (once per process) and connects an rtnetlink socket. */
  static open(): RtnlSocket {
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
    return new RtnlSocket(lib, sk);
  }

  /** True once `close()` ran. */
  get closed(): boolean {
    return this.#handle === null;
  }

  /** The `struct nl_sock *`; throws once closed. */
  sk(): Deno.PointerObject {
    if (this.#handle === null) throw new TypeError("Cannot use a closed Netlink handle");
    return this.#handle;
  }

  /** Closes the socket. Calling it again does nothing. */
  close(): void {
    if (this.#handle === null) return;
    sockets.unregister(this);
    this.lib.nl.nl_socket_free(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** `"vxlan10010" (ifindex 7)`, or `ifindex 7` without a name. */
export function quoteDevice(ifindex: number, name: string | undefined): string {
  return name === undefined ? `ifindex ${ifindex}` : `"${name}" (ifindex ${ifindex})`;
}

/** Throws a RangeError unless `ifindex` is a positive 32-bit integer. */
export function checkIfindex(ifindex: number): void {
  if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0x7fffffff) {
    throw new RangeError(`Invalid ifindex ${ifindex}: expected a positive integer`);
  }
}
