/**
 * The libnl symbol tables and the lazy loader. Nothing else in the project
 * calls `Deno.dlopen`: importing this module loads no library; the first
 * {@linkcode openLibnl} call does.
 *
 * C names are verbatim; each symbol carries its C prototype. Pointers to
 * opaque libnl objects are `"pointer"`; strings and out-pointers the caller
 * owns are `"buffer"` (a NUL-terminated `Uint8Array`, or a `BigUint64Array(1)`
 * that receives the pointer).
 *
 * @module
 */

/** Symbols from libnl-3 (`libnl-3.so.200`): sockets, messages, addresses, caches. */
export const LIBNL_SYMBOLS = {
  // struct nl_sock *nl_socket_alloc(void);
  nl_socket_alloc: { parameters: [], result: "pointer" },
  // void nl_socket_free(struct nl_sock *sk);
  nl_socket_free: { parameters: ["pointer"], result: "void" },
  // int nl_connect(struct nl_sock *sk, int protocol);
  nl_connect: { parameters: ["pointer", "i32"], result: "i32" },
  // int nl_socket_get_fd(const struct nl_sock *sk);
  nl_socket_get_fd: { parameters: ["pointer"], result: "i32" },
  // int nl_socket_set_nonblocking(const struct nl_sock *sk);
  nl_socket_set_nonblocking: { parameters: ["pointer"], result: "i32" },
  // int nl_socket_set_buffer_size(struct nl_sock *sk, int rxbuf, int txbuf);
  nl_socket_set_buffer_size: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  // int nl_socket_add_membership(struct nl_sock *sk, int group);
  nl_socket_add_membership: { parameters: ["pointer", "i32"], result: "i32" },
  // void nl_socket_disable_seq_check(struct nl_sock *sk);
  nl_socket_disable_seq_check: { parameters: ["pointer"], result: "void" },
  // int nl_socket_modify_cb(struct nl_sock *sk, enum nl_cb_type type, enum nl_cb_kind kind,
  //                         nl_recvmsg_msg_cb_t func, void *arg);
  nl_socket_modify_cb: {
    parameters: ["pointer", "i32", "i32", "function", "pointer"],
    result: "i32",
  },
  // int nl_recvmsgs_default(struct nl_sock *sk);
  nl_recvmsgs_default: { parameters: ["pointer"], result: "i32" },
  // int nl_send_simple(struct nl_sock *sk, int type, int flags, void *buf, size_t size);
  nl_send_simple: { parameters: ["pointer", "i32", "i32", "buffer", "usize"], result: "i32" },
  // const char *nl_geterror(int error);
  nl_geterror: { parameters: ["i32"], result: "pointer" },

  // struct nlmsghdr *nlmsg_hdr(struct nl_msg *msg);
  nlmsg_hdr: { parameters: ["pointer"], result: "pointer" },
  // int nl_msg_parse(struct nl_msg *msg, void (*cb)(struct nl_object *, void *), void *arg);
  nl_msg_parse: { parameters: ["pointer", "function", "pointer"], result: "i32" },

  // struct nl_addr *nl_addr_build(int family, const void *buf, size_t size);
  nl_addr_build: { parameters: ["i32", "buffer", "usize"], result: "pointer" },
  // void nl_addr_put(struct nl_addr *addr);
  nl_addr_put: { parameters: ["pointer"], result: "void" },
  // int nl_addr_get_family(const struct nl_addr *addr);
  nl_addr_get_family: { parameters: ["pointer"], result: "i32" },
  // unsigned int nl_addr_get_len(const struct nl_addr *addr);
  nl_addr_get_len: { parameters: ["pointer"], result: "u32" },
  // void *nl_addr_get_binary_addr(const struct nl_addr *addr);
  nl_addr_get_binary_addr: { parameters: ["pointer"], result: "pointer" },

  // int nl_cache_alloc_name(const char *kind, struct nl_cache **result);
  nl_cache_alloc_name: { parameters: ["buffer", "buffer"], result: "i32" },
  // int nl_cache_pickup(struct nl_sock *sk, struct nl_cache *cache);
  nl_cache_pickup: { parameters: ["pointer", "pointer"], result: "i32" },
  // void nl_cache_free(struct nl_cache *cache);
  nl_cache_free: { parameters: ["pointer"], result: "void" },
  // struct nl_object *nl_cache_get_first(struct nl_cache *cache);
  nl_cache_get_first: { parameters: ["pointer"], result: "pointer" },
  // struct nl_object *nl_cache_get_next(struct nl_object *obj);
  nl_cache_get_next: { parameters: ["pointer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols from libnl-route-3 (`libnl-route-3.so.200`): links, VXLAN, neighbours. */
export const LIBNL_ROUTE_SYMBOLS = {
  // struct rtnl_link *rtnl_link_alloc(void);
  rtnl_link_alloc: { parameters: [], result: "pointer" },
  // void rtnl_link_put(struct rtnl_link *link);
  rtnl_link_put: { parameters: ["pointer"], result: "void" },
  // int rtnl_link_alloc_cache(struct nl_sock *sk, int family, struct nl_cache **result);
  rtnl_link_alloc_cache: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  // int rtnl_link_get_kernel(struct nl_sock *sk, int ifindex, const char *name,
  //                          struct rtnl_link **result);
  rtnl_link_get_kernel: { parameters: ["pointer", "i32", "buffer", "buffer"], result: "i32" },
  // int rtnl_link_add(struct nl_sock *sk, struct rtnl_link *link, int flags);
  rtnl_link_add: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
  // int rtnl_link_change(struct nl_sock *sk, struct rtnl_link *orig,
  //                      struct rtnl_link *changes, int flags);
  rtnl_link_change: { parameters: ["pointer", "pointer", "pointer", "i32"], result: "i32" },
  // int rtnl_link_delete(struct nl_sock *sk, const struct rtnl_link *link);
  rtnl_link_delete: { parameters: ["pointer", "pointer"], result: "i32" },
  // int rtnl_link_get_ifindex(struct rtnl_link *link);
  rtnl_link_get_ifindex: { parameters: ["pointer"], result: "i32" },
  // void rtnl_link_set_ifindex(struct rtnl_link *link, int ifindex);
  rtnl_link_set_ifindex: { parameters: ["pointer", "i32"], result: "void" },
  // char *rtnl_link_get_name(struct rtnl_link *link);
  rtnl_link_get_name: { parameters: ["pointer"], result: "pointer" },
  // void rtnl_link_set_name(struct rtnl_link *link, const char *name);
  rtnl_link_set_name: { parameters: ["pointer", "buffer"], result: "void" },
  // char *rtnl_link_get_type(struct rtnl_link *link);
  rtnl_link_get_type: { parameters: ["pointer"], result: "pointer" },
  // unsigned int rtnl_link_get_flags(struct rtnl_link *link);
  rtnl_link_get_flags: { parameters: ["pointer"], result: "u32" },
  // void rtnl_link_set_flags(struct rtnl_link *link, unsigned int flags);
  rtnl_link_set_flags: { parameters: ["pointer", "u32"], result: "void" },

  // struct rtnl_link *rtnl_link_vxlan_alloc(void);
  rtnl_link_vxlan_alloc: { parameters: [], result: "pointer" },
  // int rtnl_link_is_vxlan(struct rtnl_link *link);
  rtnl_link_is_vxlan: { parameters: ["pointer"], result: "i32" },
  // int rtnl_link_vxlan_set_id(struct rtnl_link *link, uint32_t id);
  rtnl_link_vxlan_set_id: { parameters: ["pointer", "u32"], result: "i32" },
  // int rtnl_link_vxlan_get_id(struct rtnl_link *link, uint32_t *id);
  rtnl_link_vxlan_get_id: { parameters: ["pointer", "buffer"], result: "i32" },
  // int rtnl_link_vxlan_set_local(struct rtnl_link *link, struct nl_addr *addr);
  rtnl_link_vxlan_set_local: { parameters: ["pointer", "pointer"], result: "i32" },
  // int rtnl_link_vxlan_get_local(struct rtnl_link *link, struct nl_addr **addr);
  rtnl_link_vxlan_get_local: { parameters: ["pointer", "buffer"], result: "i32" },
  // int rtnl_link_vxlan_set_port(struct rtnl_link *link, uint32_t port);
  rtnl_link_vxlan_set_port: { parameters: ["pointer", "u32"], result: "i32" },
  // int rtnl_link_vxlan_get_port(struct rtnl_link *link, uint32_t *port);
  rtnl_link_vxlan_get_port: { parameters: ["pointer", "buffer"], result: "i32" },
  // int rtnl_link_vxlan_set_link(struct rtnl_link *link, uint32_t index);
  rtnl_link_vxlan_set_link: { parameters: ["pointer", "u32"], result: "i32" },
  // int rtnl_link_vxlan_get_link(struct rtnl_link *link, uint32_t *index);
  rtnl_link_vxlan_get_link: { parameters: ["pointer", "buffer"], result: "i32" },
  // int rtnl_link_vxlan_set_learning(struct rtnl_link *link, uint8_t learning);
  rtnl_link_vxlan_set_learning: { parameters: ["pointer", "u8"], result: "i32" },

  // struct rtnl_neigh *rtnl_neigh_alloc(void);
  rtnl_neigh_alloc: { parameters: [], result: "pointer" },
  // void rtnl_neigh_put(struct rtnl_neigh *neigh);
  rtnl_neigh_put: { parameters: ["pointer"], result: "void" },
  // int rtnl_neigh_add(struct nl_sock *sk, struct rtnl_neigh *tmpl, int flags);
  rtnl_neigh_add: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
  // int rtnl_neigh_delete(struct nl_sock *sk, struct rtnl_neigh *neigh, int flags);
  rtnl_neigh_delete: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
  // void rtnl_neigh_set_ifindex(struct rtnl_neigh *neigh, int ifindex);
  rtnl_neigh_set_ifindex: { parameters: ["pointer", "i32"], result: "void" },
  // int rtnl_neigh_get_ifindex(struct rtnl_neigh *neigh);
  rtnl_neigh_get_ifindex: { parameters: ["pointer"], result: "i32" },
  // void rtnl_neigh_set_lladdr(struct rtnl_neigh *neigh, struct nl_addr *addr);
  rtnl_neigh_set_lladdr: { parameters: ["pointer", "pointer"], result: "void" },
  // struct nl_addr *rtnl_neigh_get_lladdr(struct rtnl_neigh *neigh);
  rtnl_neigh_get_lladdr: { parameters: ["pointer"], result: "pointer" },
  // int rtnl_neigh_set_dst(struct rtnl_neigh *neigh, struct nl_addr *addr);
  rtnl_neigh_set_dst: { parameters: ["pointer", "pointer"], result: "i32" },
  // struct nl_addr *rtnl_neigh_get_dst(struct rtnl_neigh *neigh);
  rtnl_neigh_get_dst: { parameters: ["pointer"], result: "pointer" },
  // void rtnl_neigh_set_family(struct rtnl_neigh *neigh, int family);
  rtnl_neigh_set_family: { parameters: ["pointer", "i32"], result: "void" },
  // int rtnl_neigh_get_family(struct rtnl_neigh *neigh);
  rtnl_neigh_get_family: { parameters: ["pointer"], result: "i32" },
  // void rtnl_neigh_set_state(struct rtnl_neigh *neigh, int state);
  rtnl_neigh_set_state: { parameters: ["pointer", "i32"], result: "void" },
  // void rtnl_neigh_set_flags(struct rtnl_neigh *neigh, unsigned int flags);
  rtnl_neigh_set_flags: { parameters: ["pointer", "u32"], result: "void" },
  // unsigned int rtnl_neigh_get_flags(struct rtnl_neigh *neigh);
  rtnl_neigh_get_flags: { parameters: ["pointer"], result: "u32" },
  // int rtnl_neigh_get_state(struct rtnl_neigh *neigh);
  rtnl_neigh_get_state: { parameters: ["pointer"], result: "i32" },

  // struct nl_addr *rtnl_link_get_addr(struct rtnl_link *link);
  rtnl_link_get_addr: { parameters: ["pointer"], result: "pointer" },

  // int rtnl_addr_alloc_cache(struct nl_sock *sk, struct nl_cache **result);
  rtnl_addr_alloc_cache: { parameters: ["pointer", "buffer"], result: "i32" },
  // int rtnl_addr_get_ifindex(struct rtnl_addr *addr);
  rtnl_addr_get_ifindex: { parameters: ["pointer"], result: "i32" },
  // int rtnl_addr_get_family(struct rtnl_addr *addr);
  rtnl_addr_get_family: { parameters: ["pointer"], result: "i32" },
  // struct nl_addr *rtnl_addr_get_local(struct rtnl_addr *addr);
  rtnl_addr_get_local: { parameters: ["pointer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols from libc, for waiting on the notification socket without a busy loop. */
export const LIBC_SYMBOLS = {
  // int poll(struct pollfd *fds, nfds_t nfds, int timeout);
  // Runs on a worker thread; the pollfd buffer must stay referenced until it settles.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // int eventfd(unsigned int initval, int flags);
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // ssize_t write(int fd, const void *buf, size_t count);
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // int close(int fd);
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libraries' symbols. */
export interface Libnl {
  readonly nl: Deno.DynamicLibrary<typeof LIBNL_SYMBOLS>["symbols"];
  readonly route: Deno.DynamicLibrary<typeof LIBNL_ROUTE_SYMBOLS>["symbols"];
  readonly libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];
}

/** Default soname of libnl-route-3; override with `EVPN_AGENT_LIBNL_ROUTE`. */
export const DEFAULT_LIBNL_ROUTE = "libnl-route-3.so.200";
/** Default soname of libnl-3; override with `EVPN_AGENT_LIBNL`. */
export const DEFAULT_LIBNL = "libnl-3.so.200";
const LIBC = "libc.so.6";

let cached: Libnl | undefined;

function envOr(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) || fallback;
  } catch {
    // No --allow-env: use the default soname.
    return fallback;
  }
}

function open<S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
  envVar: string | undefined,
): Deno.DynamicLibrary<S> {
  try {
    return Deno.dlopen(path, symbols);
  } catch (cause) {
    const hint = envVar === undefined ? "" : ` (set ${envVar} to its path)`;
    throw new Error(`Cannot load "${path}"${hint}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Opens libnl-3, libnl-route-3 and libc once and returns their symbols.
 * libnl-3 is opened first so that libnl-route-3 resolves against the same copy.
 * The libraries stay loaded for the life of the process.
 */
export function openLibnl(): Libnl {
  if (cached !== undefined) return cached;
  const nl = open(envOr("EVPN_AGENT_LIBNL", DEFAULT_LIBNL), LIBNL_SYMBOLS, "EVPN_AGENT_LIBNL");
  const route = open(
    envOr("EVPN_AGENT_LIBNL_ROUTE", DEFAULT_LIBNL_ROUTE),
    LIBNL_ROUTE_SYMBOLS,
    "EVPN_AGENT_LIBNL_ROUTE",
  );
  const libc = open(LIBC, LIBC_SYMBOLS, undefined);
  cached = { nl: nl.symbols, route: route.symbols, libc: libc.symbols };
  return cached;
}
