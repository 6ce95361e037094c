/**
 * Start-up check for the one capability the agent needs.
 *
 * The effective set comes from capget(2) through libc, because Deno lets a
 * process read `/proc/self/*` only with `--allow-all`: the compiled agent
 * (`--allow-ffi --allow-read ...`, scripts/build.sh) cannot read its own
 * `/proc/self/status`. `/proc/self/status` is the fallback without
 * `--allow-ffi`.
 *
 * @module
 */

/** Bit of CAP_NET_ADMIN in the capability sets (linux/capability.h). */
const CAP_NET_ADMIN = 12n;

/** `_LINUX_CAPABILITY_VERSION_3` (linux/capability.h): two 32-bit words per set. */
const _CAPABILITY_VERSION_3 = 0x20080522;

const _LIBC_SYMBOLS = {
  // int capget(cap_user_header_t hdrp, cap_user_data_t datap);
  capget: { parameters: ["buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The effective capability set of this process from capget(2), as a bit
 * mask; undefined when libc cannot be opened (no `--allow-ffi`) or the call
 * fails.
 */
export function effectiveCapabilities(): bigint | undefined {
  let libc: Deno.DynamicLibrary<typeof _LIBC_SYMBOLS>;
  try {
    libc = Deno.dlopen("libc.so.6", _LIBC_SYMBOLS);
  } catch {
    return undefined;
  }
  try {
    // struct __user_cap_header_struct { __u32 version; int pid; } (pid 0: this thread)
    const header = new Uint32Array([_CAPABILITY_VERSION_3, 0]);
    // struct __user_cap_data_struct { __u32 effective, permitted, inheritable; }[2]
    const data = new Uint32Array(6);
    if (libc.symbols.capget(header, data) !== 0) return undefined;
    return (BigInt(data[3] ?? 0) << 32n) | BigInt(data[0] ?? 0);
  } finally {
    libc.close();
  }
}

/** `CapEff` of a /proc/<pid>/status text as a bit mask; undefined when absent. */
function _capEffFromStatus(text: string): bigint | undefined {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

/**
 * Whether the effective capability set of this process holds CAP_NET_ADMIN
 * (capget(2), else /proc/self/status `CapEff`), or of the process whose
 * /proc/<pid>/status text is `statusText`; undefined when it cannot be read.
 */
export function hasNetAdmin(statusText?: string): boolean | undefined {
  let mask: bigint | undefined;
  if (statusText !== undefined) mask = _capEffFromStatus(statusText);
  else {
    mask = effectiveCapabilities();
    if (mask === undefined) {
      try {
        mask = _capEffFromStatus(Deno.readTextFileSync("/proc/self/status"));
      } catch {
        return undefined;
      }
    }
  }
  return mask === undefined ? undefined : ((mask >> CAP_NET_ADMIN) & 1n) === 1n;
}
