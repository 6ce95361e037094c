/**
 * Moves the calling thread between named network namespaces with `setns(2)`,
 * the way Go's `vishvananda/netns` and `netlink.NewHandleAt` do: only the
 * calling OS thread changes namespace, and everything that thread creates
 * afterwards (sockets, child processes) belongs to the new one.
 *
 * In Deno the calling thread is the main thread. It runs JavaScript,
 * synchronous FFI calls (libnl opens its sockets there) and the event loop,
 * which creates TCP sockets for `node:net` / grpc-js and spawns child
 * processes (checked with Deno 2.9.6: a grpc-js client and a libnl socket
 * opened after {@linkcode enterNetns} talk to the namespace's loopback and
 * kernel tables, and `Deno.Command` children start inside it). Worker threads
 * (nonblocking FFI calls such as `poll`) keep their namespace, which does not
 * matter for file descriptors already open.
 *
 * Two uses:
 * - {@linkcode enterNetns}: the main thread lives in a namespace until the
 *   returned handle is disposed (a benchmark that must sit in the node it
 *   measures);
 * - {@linkcode withNetns}: run a synchronous function inside a namespace and
 *   come straight back (open a netlink socket in another node). Nothing
 *   asynchronous may be started inside it: its sockets would be created after
 *   the thread has returned.
 *
 * Needs root (CAP_SYS_ADMIN) and `--allow-ffi`.
 *
 * @module
 */

const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

const LIBC_SYMBOLS = {
  // int open(const char *pathname, int flags);
  open: { parameters: ["buffer", "i32"], result: "i32" },
  // int close(int fd);
  close: { parameters: ["i32"], result: "i32" },
  // int setns(int fd, int nstype);
  setns: { parameters: ["i32", "i32"], result: "i32" },
  // int *__errno_location(void);
  __errno_location: { parameters: [], result: "pointer" },
  // char *strerror(int errnum);
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] | undefined;

function lib(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  libc ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libc;
}

function lastError(): string {
  const { __errno_location, strerror } = lib();
  const where = __errno_location();
  const errno = where === null ? 0 : new Deno.UnsafePointerView(where).getInt32();
  const text = strerror(errno);
  return text === null ? `errno ${errno}` : Deno.UnsafePointerView.getCString(text);
}

function openPath(path: string, what: string): number {
  const fd = lib().open(new TextEncoder().encode(`${path}\0`), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new Error(`Cannot ${what}: open("${path}") failed: ${lastError()}`);
  return fd;
}

function setns(fd: number, what: string): void {
  if (lib().setns(fd, CLONE_NEWNET) !== 0) {
    throw new Error(`Cannot ${what}: setns() failed: ${lastError()}`);
  }
}

/** The bind mount of a named namespace, as `ip netns add` creates it. */
function nsPath(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new TypeError(`Invalid network namespace name "${name}"`);
  }
  return `/run/netns/${name}`;
}

/** The main thread's stay in a namespace; disposing it moves the thread back. */
export interface NetnsStay extends Disposable {
  /** The namespace entered. */
  readonly name: string;
  /** Moves the thread back to the namespace it came from. Idempotent. */
  restore(): void;
}

/**
 * Moves the calling (main) thread into the named namespace (`ip netns`
 * name) until `restore()` or disposal.
 *
 * @throws {Error} naming the namespace and errno when it does not exist or setns fails
 */
export function enterNetns(name: string): NetnsStay {
  const what = `enter network namespace "${name}"`;
  const back = openPath("/proc/thread-self/ns/net", what);
  let target: number;
  try {
    target = openPath(nsPath(name), what);
  } catch (err) {
    lib().close(back);
    throw err;
  }
  try {
    setns(target, what);
  } catch (err) {
    lib().close(back);
    throw err;
  } finally {
    lib().close(target);
  }
  let done = false;
  const restore = () => {
    if (done) return;
    done = true;
    try {
      setns(back, `leave network namespace "${name}"`);
    } finally {
      lib().close(back);
    }
  };
  return { name, restore, [Symbol.dispose]: restore };
}

/**
 * Runs `fn` with the calling thread inside the named namespace and moves it
 * back before returning (also when `fn` throws). `fn` must be synchronous;
 * a returned promise is refused.
 */
export function withNetns<T>(name: string, fn: () => T): T {
  const stay = enterNetns(name);
  try {
    const value = fn();
    if (value instanceof Promise) {
      throw new TypeError("withNetns() takes a synchronous function; use enterNetns() instead");
    }
    return value;
  } finally {
    stay.restore();
  }
}
