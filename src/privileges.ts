/**
 * Start-up check for the one capability the agent needs.
 *
 * @module
 */

/** Bit of CAP_NET_ADMIN in the capability sets (linux/capability.h). */
const CAP_NET_ADMIN = 12n;

/**
 * Whether the effective capability set of this process (from
 * /proc/self/status `CapEff`) holds CAP_NET_ADMIN; undefined when it cannot
 * be read.
 */
export function hasNetAdmin(statusText?: string): boolean | undefined {
  let text = statusText;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/self/status");
    } catch {
      return undefined;
    }
  }
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  if (hex === undefined) return undefined;
  return ((BigInt(`0x${hex}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}
