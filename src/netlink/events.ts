/**
 * Link, neighbour and address notifications (RTNLGRP_LINK, RTNLGRP_NEIGH,
 * RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR) from a dedicated rtnetlink
 * socket. FDB (AF_BRIDGE) neighbours always; ARP/ND neighbours and
 * addresses only for handlers that take them (`onIpNeigh`, `onAddr`), so a
 * busy host's ARP churn is not parsed for nothing.
 *
 * How the loop waits: libc `poll` (declared `nonblocking`, so it runs on a
 * Deno worker thread) on two fds with an infinite timeout: the netlink socket
 * and an eventfd. When poll reports the socket readable, the main thread
 * drains it with `nl_recvmsgs_default` (the socket is non-blocking); libnl
 * calls back synchronously, on the main thread, into an `UnsafeCallback` that
 * parses each message with `nl_msg_parse` and queues plain events; the queue
 * is delivered to the handlers after each receive. No timer, no periodic
 * wake-up.
 *
 * Process lifetime: a pending nonblocking FFI call is a pending op and keeps
 * Deno's event loop alive (checked: a script whose only work is a pending
 * `poll` never exits). So a started `NetlinkEvents` keeps the process alive
 * until `close()`, which writes to the eventfd; poll returns at once, the loop
 * frees the socket, the eventfd and the callbacks, and nothing is left
 * pending. {@linkcode NetlinkEvents.closed} settles when that is done.
 *
 * @module
 */

import { type Libnl, openLibnl } from "./_ffi.ts";
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  formatAddr,
  formatLladdr,
  NETLINK_ROUTE,
  NL_CB_CUSTOM,
  NL_CB_VALID,
  NL_OK,
  NTF_EXT_LEARNED,
  NUD_PERMANENT,
  readAddr,
  readLink,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_LINK,
  RTNLGRP_NEIGH,
} from "./_objects.ts";
import { NetlinkError, NLE, unwrap } from "./errors.ts";
import type { AddrEvent, IpNeighEvent, LinkEvent, NeighEvent } from "./types.ts";

/** What a {@linkcode NetlinkEvents} reports to. Handlers run on the main thread. */
export interface NetlinkEventHandlers {
  /** A link appeared, changed (`"new"`) or was deleted (`"del"`). */
  onLink(ev: LinkEvent): void;
  /** An AF_BRIDGE (FDB) entry was added, changed or deleted. */
  onNeigh(ev: NeighEvent): void;
  /** An ARP/ND entry was added, changed or deleted. Without it, none are parsed. */
  onIpNeigh?(ev: IpNeighEvent): void;
  /** An address was added to or removed from a device. Without it, none are parsed. */
  onAddr?(ev: AddrEvent): void;
  /** The kernel dropped notifications (ENOBUFS): resynchronise from a full dump. */
  onOverrun(): void;
  /**
   * A receive or parse failed, or a handler threw. Without it such errors go
   * to `reportError` (an uncaught error). The loop carries on either way.
   */
  onError?(err: Error): void;
}

/** Options for {@linkcode NetlinkEvents}. */
export interface NetlinkEventsOptions {
  /**
   * Socket receive buffer in bytes (SO_RCVBUF, capped by `net.core.rmem_max`).
   * A larger buffer makes overruns rarer during bursts.
   * @default {4194304}
   */
  receiveBufferBytes?: number;
}

const POLLIN = 0x1;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** Datagrams read per wake-up before yielding to the event loop again. */
const MAX_RECV_PER_WAKE = 64;
/** Consecutive failed wake-ups after which the loop gives up. */
const MAX_FAILED_WAKES = 100;

const VALID_CB = { parameters: ["pointer", "pointer"], result: "i32" } as const;
const OBJECT_CB = { parameters: ["pointer", "pointer"], result: "void" } as const;

type Queued =
  | { kind: "link"; ev: LinkEvent }
  | { kind: "neigh"; ev: NeighEvent }
  | { kind: "ipNeigh"; ev: IpNeighEvent }
  | { kind: "addr"; ev: AddrEvent }
  | { kind: "error"; err: Error };

/**
 * A subscription to link and FDB notifications in the caller's netns.
 *
 * The constructor already joins the multicast groups; `start()` begins
 * delivering. So the race-free order is: construct, list (links, FDB), then
 * `start()`: whatever changed during the listing is queued in the socket.
 *
 * ```ts ignore
 * using events = new NetlinkEvents({ onLink, onNeigh, onOverrun: resync });
 * const links = nl.links.listLinks();
 * events.start();
 * ```
 */
export class NetlinkEvents implements Disposable {
  #lib: Libnl;
  #handlers: NetlinkEventHandlers;
  #handle: Deno.PointerObject | null = null;
  #wakeFd = -1;
  #validCb: Deno.UnsafeCallback<typeof VALID_CB>;
  #objectCb: Deno.UnsafeCallback<typeof OBJECT_CB>;
  /** Two `struct pollfd { int fd; short events; short revents; }`; referenced while poll runs. */
  #pollfds = new ArrayBuffer(16);
  #queue: Queued[] = [];
  /** The type of the message being parsed, for the object callback. */
  #msgType = 0;
  #state: "idle" | "running" | "closing" | "closed" = "idle";
  #closed: Promise<void>;
  #freed = false;
  #resolveClosed: () => void;

  /**
   * Opens the socket and joins RTNLGRP_LINK, RTNLGRP_NEIGH and (with
   * `onAddr`) the address groups; nothing is delivered before `start()`.
   */
  constructor(handlers: NetlinkEventHandlers, options: NetlinkEventsOptions = {}) {
    this.#lib = openLibnl();
    this.#handlers = handlers;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#closed = promise;
    this.#resolveClosed = resolve;
    this.#validCb = new Deno.UnsafeCallback(VALID_CB, (msg) => this.#onMessage(msg));
    this.#objectCb = new Deno.UnsafeCallback(OBJECT_CB, (obj) => this.#onObject(obj));
    try {
      this.#open(options.receiveBufferBytes ?? 4 * 1024 * 1024);
    } catch (err) {
      this.#free();
      throw err;
    }
  }

  #open(rcvbuf: number): void {
    const { nl, libc } = this.#lib;
    const what = "Cannot subscribe to link and neighbour notifications";
    const sk = nl.nl_socket_alloc();
    if (sk === null) throw new NetlinkError(NLE.NOMEM, what, { op: "nl_socket_alloc" });
    this.#handle = sk;
    nl.nl_socket_disable_seq_check(sk);
    unwrap(
      nl.nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, this.#validCb.pointer, null),
      what,
      "nl_socket_modify_cb",
    );
    unwrap(nl.nl_connect(sk, NETLINK_ROUTE), what, "nl_connect");
    unwrap(nl.nl_socket_set_buffer_size(sk, rcvbuf, 32768), what, "nl_socket_set_buffer_size");
    unwrap(nl.nl_socket_add_membership(sk, RTNLGRP_LINK), what, "nl_socket_add_membership");
    unwrap(nl.nl_socket_add_membership(sk, RTNLGRP_NEIGH), what, "nl_socket_add_membership");
    if (this.#handlers.onAddr !== undefined) {
      for (const group of [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR]) {
        unwrap(nl.nl_socket_add_membership(sk, group), what, "nl_socket_add_membership");
      }
    }
    unwrap(nl.nl_socket_set_nonblocking(sk), what, "nl_socket_set_nonblocking");
    const fd = nl.nl_socket_get_fd(sk);
    this.#wakeFd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#wakeFd < 0) {
      throw new Error(`${what}: eventfd() failed`);
    }
    const ints = new Int32Array(this.#pollfds);
    const shorts = new Int16Array(this.#pollfds);
    ints[0] = fd;
    shorts[2] = POLLIN;
    ints[2] = this.#wakeFd;
    shorts[6] = POLLIN;
  }

  /**
   * A promise that settles once the loop has stopped and every native
   * resource is freed (after `close()`).
   */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Begins delivering notifications. Throws if closed; a second call does nothing. */
  start(): void {
    if (this.#state === "running") return;
    if (this.#state !== "idle") throw new TypeError("Cannot start closed NetlinkEvents");
    this.#state = "running";
    this.#loop().catch((err) => this.#report(asError(err)));
  }

  /**
   * Stops delivery at once: no handler runs after `close()` returns. Native
   * resources are freed when the pending poll wakes (immediately, through the
   * eventfd); see {@linkcode NetlinkEvents.closed}. Calling it again does nothing.
   */
  close(): void {
    if (this.#state === "closing" || this.#state === "closed") return;
    if (this.#state === "idle") {
      this.#state = "closed";
      this.#free();
      return;
    }
    this.#state = "closing";
    this.#queue.length = 0;
    // Wake the poll thread: the eventfd counter goes from 0 to 1.
    const one = new BigUint64Array([1n]);
    this.#lib.libc.write(this.#wakeFd, one, 8n);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #loop(): Promise<void> {
    const { libc } = this.#lib;
    const shorts = new Int16Array(this.#pollfds);
    const pollfds = new Uint8Array(this.#pollfds);
    let failedWakes = 0;
    try {
      while (this.#state === "running") {
        shorts[3] = 0;
        shorts[7] = 0;
        // `pollfds` stays referenced by this frame until the promise settles.
        const rc = await libc.poll(pollfds, 2n, -1);
        if (this.#state !== "running") break;
        const revents = shorts[3] ?? 0;
        if (rc < 0 || (revents & POLLNVAL) !== 0) {
          // EINTR is the only expected failure; anything persistent ends the loop.
          if (++failedWakes >= MAX_FAILED_WAKES) {
            throw new Error(`Cannot wait for netlink notifications: poll() keeps failing`);
          }
          continue;
        }
        if ((revents & (POLLIN | POLLERR | POLLHUP)) !== 0) {
          failedWakes = this.#drain() ? 0 : failedWakes + 1;
          if (failedWakes >= MAX_FAILED_WAKES) {
            throw new Error("Cannot receive netlink notifications: every receive fails");
          }
        }
      }
    } finally {
      this.#state = "closed";
      this.#free();
    }
  }

  /** Reads what the socket holds, delivering as it goes. False if nothing could be read. */
  #drain(): boolean {
    const { nl } = this.#lib;
    let progressed = false;
    for (let i = 0; i < MAX_RECV_PER_WAKE && this.#state === "running"; i++) {
      const rc = nl.nl_recvmsgs_default(this.#handle!);
      this.#deliver();
      if (rc === -NLE.AGAIN) break;
      if (rc === -NLE.NOMEM) {
        // ENOBUFS: the kernel dropped notifications for this socket.
        progressed = true;
        if (this.#state === "running") this.#call(() => this.#handlers.onOverrun());
        continue;
      }
      if (rc < 0) {
        this.#report(
          new NetlinkError(-rc, "Cannot receive netlink notifications", {
            op: "nl_recvmsgs_default",
          }),
        );
        break;
      }
      progressed = true;
    }
    return progressed;
  }

  #deliver(): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) {
      if (this.#state !== "running") return;
      if (item.kind === "link") this.#call(() => this.#handlers.onLink(item.ev));
      else if (item.kind === "neigh") this.#call(() => this.#handlers.onNeigh(item.ev));
      else if (item.kind === "ipNeigh") this.#call(() => this.#handlers.onIpNeigh?.(item.ev));
      else if (item.kind === "addr") this.#call(() => this.#handlers.onAddr?.(item.ev));
      else this.#report(item.err);
    }
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#report(asError(err));
    }
  }

  #report(err: Error): void {
    if (this.#handlers.onError === undefined) {
      reportError(err);
      return;
    }
    try {
      this.#handlers.onError(err);
    } catch (inner) {
      reportError(inner);
    }
  }

  /** NL_CB_VALID: called by libnl, synchronously, on the main thread. Never throws. */
  #onMessage(msg: Deno.PointerValue): number {
    try {
      const hdr = this.#lib.nl.nlmsg_hdr(msg);
      if (hdr === null) return NL_OK;
      const view = new Deno.UnsafePointerView(hdr);
      // struct nlmsghdr (16 bytes), then ifinfomsg / ndmsg: family is the first byte.
      if (view.getUint32(0) < 17) return NL_OK;
      const type = view.getUint16(4);
      const family = view.getUint8(16);
      const isLink = type === RTM_NEWLINK || type === RTM_DELLINK;
      const isNeigh = type === RTM_NEWNEIGH || type === RTM_DELNEIGH;
      const isAddr = type === RTM_NEWADDR || type === RTM_DELADDR;
      const isIp = family === AF_INET || family === AF_INET6;
      // AF_BRIDGE link messages are bridge-port notifications: RTM_DELLINK of
      // that family means "left the bridge", not "deleted". Skip them, and
      // ARP/ND neighbours and addresses nobody asked for.
      const wanted = (isLink && family === AF_UNSPEC) ||
        (isNeigh && family === AF_BRIDGE) ||
        (isNeigh && isIp && this.#handlers.onIpNeigh !== undefined) ||
        (isAddr && isIp && this.#handlers.onAddr !== undefined);
      if (!wanted) return NL_OK;
      this.#msgType = type;
      const rc = this.#lib.nl.nl_msg_parse(msg, this.#objectCb.pointer, null);
      if (rc < 0) {
        this.#queue.push({
          kind: "error",
          err: new NetlinkError(-rc, `Cannot parse netlink notification (type ${type})`, {
            op: "nl_msg_parse",
          }),
        });
      }
    } catch (err) {
      this.#queue.push({ kind: "error", err: asError(err) });
    }
    return NL_OK;
  }

  /** nl_msg_parse's callback: the object is libnl's, valid for this call only. */
  #onObject(obj: Deno.PointerValue): void {
    if (obj === null) return;
    const type = this.#msgType;
    try {
      if (type === RTM_NEWLINK || type === RTM_DELLINK) {
        const link = readLink(this.#lib, obj);
        this.#queue.push({
          kind: "link",
          ev: { type: type === RTM_NEWLINK ? "new" : "del", link },
        });
        return;
      }
      const { route } = this.#lib;
      if (type === RTM_NEWADDR || type === RTM_DELADDR) {
        const local = readAddr(this.#lib, route.rtnl_addr_get_local(obj));
        const ip = local === undefined ? undefined : formatAddr(local);
        if (ip === undefined) return;
        this.#queue.push({
          kind: "addr",
          ev: {
            type: type === RTM_NEWADDR ? "new" : "del",
            ifindex: route.rtnl_addr_get_ifindex(obj),
            ip,
          },
        });
        return;
      }
      const neighType = type === RTM_NEWNEIGH ? "new" : "del";
      const family = route.rtnl_neigh_get_family(obj);
      const mac = formatLladdr(readAddr(this.#lib, route.rtnl_neigh_get_lladdr(obj)));
      const dstAddr = readAddr(this.#lib, route.rtnl_neigh_get_dst(obj));
      const ours = (route.rtnl_neigh_get_flags(obj) & NTF_EXT_LEARNED) !== 0;
      if (family === AF_INET || family === AF_INET6) {
        const ip = dstAddr === undefined ? undefined : formatAddr(dstAddr);
        if (ip === undefined) return;
        this.#queue.push({
          kind: "ipNeigh",
          ev: {
            type: neighType,
            ifindex: route.rtnl_neigh_get_ifindex(obj),
            ip,
            mac,
            permanent: (route.rtnl_neigh_get_state(obj) & NUD_PERMANENT) !== 0,
            ours,
          },
        });
        return;
      }
      if (family !== AF_BRIDGE || mac === undefined) return;
      this.#queue.push({
        kind: "neigh",
        ev: {
          type: neighType,
          ifindex: route.rtnl_neigh_get_ifindex(obj),
          mac,
          dst: dstAddr === undefined ? undefined : formatAddr(dstAddr),
          ours,
        },
      });
    } catch (err) {
      this.#queue.push({ kind: "error", err: asError(err) });
    }
  }

  #free(): void {
    if (this.#freed) return;
    this.#freed = true;
    const { nl, libc } = this.#lib;
    if (this.#handle !== null) {
      nl.nl_socket_free(this.#handle);
      this.#handle = null;
    }
    if (this.#wakeFd >= 0) {
      libc.close(this.#wakeFd);
      this.#wakeFd = -1;
    }
    // Only after the socket is gone: libnl can no longer call these.
    this.#validCb.close();
    this.#objectCb.close();
    this.#resolveClosed();
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
