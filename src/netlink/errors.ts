/**
 * The one error type of the kernel edge, and the funnel every libnl return
 * code goes through.
 *
 * @module
 */

import { openLibnl } from "./_ffi.ts";

/** libnl's error codes (`<netlink/errno.h>`), by number. */
const NLE_NAMES = [
  "NLE_SUCCESS",
  "NLE_FAILURE",
  "NLE_INTR",
  "NLE_BAD_SOCK",
  "NLE_AGAIN",
  "NLE_NOMEM",
  "NLE_EXIST",
  "NLE_INVAL",
  "NLE_RANGE",
  "NLE_MSGSIZE",
  "NLE_OPNOTSUPP",
  "NLE_AF_NOSUPPORT",
  "NLE_OBJ_NOTFOUND",
  "NLE_NOATTR",
  "NLE_MISSING_ATTR",
  "NLE_AF_MISMATCH",
  "NLE_SEQ_MISMATCH",
  "NLE_MSG_OVERFLOW",
  "NLE_MSG_TRUNC",
  "NLE_NOADDR",
  "NLE_SRCRT_NOSUPPORT",
  "NLE_MSG_TOOSHORT",
  "NLE_MSGTYPE_NOSUPPORT",
  "NLE_OBJ_MISMATCH",
  "NLE_NOCACHE",
  "NLE_BUSY",
  "NLE_PROTO_MISMATCH",
  "NLE_NOACCESS",
  "NLE_PERM",
  "NLE_PKTLOC_FILE",
  "NLE_PARSE_ERR",
  "NLE_NODEV",
  "NLE_IMMUTABLE",
  "NLE_DUMP_INTR",
  "NLE_ATTRSIZE",
] as const;

/** The libnl error codes this project tests for. */
export const NLE = {
  AGAIN: 4,
  NOMEM: 5,
  EXIST: 6,
  INVAL: 7,
  OPNOTSUPP: 10,
  OBJ_NOTFOUND: 12,
  NODEV: 31,
} as const;

/** The symbolic name of a libnl error code, e.g. `nleName(6)` is `"NLE_EXIST"`. */
export function nleName(code: number): string {
  return NLE_NAMES[Math.abs(code)] ?? `NLE_${Math.abs(code)}`;
}

/** Options for {@linkcode NetlinkError}. */
export interface NetlinkErrorOptions extends ErrorOptions {
  /** The libnl (or libc) function that failed, e.g. `"rtnl_neigh_add"`. */
  op: string;
  /** libnl's own text for the code; looked up with `nl_geterror` when omitted. */
  reason?: string;
}

/**
 * A libnl call failed. The message names the action and quotes the value, then
 * gives libnl's reason and the code's name:
 * `Cannot append FDB entry "00:00:00:00:00:00 dst 192.0.2.12" on "vxlan10010" (ifindex 7): Object exists (NLE_EXIST)`.
 */
export class NetlinkError extends Error {
  /** The positive libnl error code (`NLE_*`), e.g. 6. */
  readonly code: number;
  /** The code's symbolic name, e.g. `"NLE_EXIST"`. */
  readonly errno: string;
  /** The libnl function that failed, e.g. `"rtnl_neigh_add"`. */
  readonly op: string;

  /**
   * @param code libnl error code, either sign.
   * @param what The action, e.g. `Cannot delete link "vxlan10010" (ifindex 7)`.
   */
  constructor(code: number, what: string, options: NetlinkErrorOptions) {
    const positive = Math.abs(code);
    const reason = options.reason ?? libnlReason(positive);
    const errno = nleName(positive);
    super(
      `${what}: ${reason} (${errno})`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.name = "NetlinkError";
    this.code = positive;
    this.errno = errno;
    this.op = options.op;
  }
}

function libnlReason(code: number): string {
  const ptr = openLibnl().nl.nl_geterror(code);
  return ptr === null ? "Unknown error" : Deno.UnsafePointerView.getCString(ptr);
}

/**
 * The error funnel: returns `rc` when it is not negative, otherwise throws a
 * {@linkcode NetlinkError} whose message is `what` plus `nl_geterror(-rc)`.
 *
 * ```ts ignore
 * unwrap(nl.rtnl_neigh_add(sk, neigh, flags), `Cannot append FDB entry "..." on "vxlan10010"`, "rtnl_neigh_add");
 * ```
 */
export function unwrap(rc: number, what: string, op = "libnl"): number {
  if (rc < 0) throw new NetlinkError(-rc, what, { op });
  return rc;
}
