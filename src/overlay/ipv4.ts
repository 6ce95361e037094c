/**
 * IPv4 helpers without allocation-heavy parsing.
 *
 * @module
 */

/** Parses a strict dotted quad ("192.0.2.1"); returns the 32-bit value or undefined. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** True for a strict IPv4 dotted quad. */
export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

/**
 * Why an address cannot be a unicast VTEP, or undefined when it can:
 * unspecified, broadcast, loopback, multicast, link-local, reserved (240/4),
 * and "this network" (0/8).
 */
export function vtepProblem(text: string): string | undefined {
  const value = parseIpv4(text);
  if (value === undefined) return "not an IPv4 address";
  const first = value >>> 24;
  if (value === 0) return "unspecified address";
  if (value === 0xffffffff) return "broadcast address";
  if (first === 0) return "in 0.0.0.0/8";
  if (first === 127) return "loopback address";
  if (first >= 224 && first <= 239) return "multicast address";
  if (first >= 240) return "reserved address (240.0.0.0/4)";
  if (first === 169 && ((value >>> 16) & 0xff) === 254) return "link-local address";
  return undefined;
}
