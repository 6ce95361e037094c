/**
 * IP addresses, IPv4 and IPv6: parsed once into {@linkcode IpAddress}, a
 * string in canonical form (dotted quad without leading zeros; RFC 5952
 * text for IPv6) that only the parsers here hand out. Keeping the text as
 * the value keeps sets and maps keyed by address cheap; the brand says it
 * was checked.
 *
 * @module
 */

declare const _ip: unique symbol;

/** An IPv4 or IPv6 address in canonical text form, produced by this module only. */
export type IpAddress = string & { readonly [_ip]: true };

/** Address family: 4 or 6. */
export type IpFamily = 4 | 6;

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** The 32-bit value of a strict dotted quad ("192.0.2.1"), or undefined. */
export function ipv4Value(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Parses a strict IPv4 dotted quad (no leading zeros, like Go's `net.ParseIP`). */
export function parseIpv4(text: string): IpAddress | undefined {
  return ipv4Value(text) === undefined ? undefined : text as IpAddress;
}

/** True for a strict IPv4 dotted quad. */
export function isIpv4(text: string): boolean {
  return ipv4Value(text) !== undefined;
}

/** Parses an IPv6 address (no zone, optional trailing dotted quad) into canonical text. */
export function parseIpv6(text: string): IpAddress | undefined {
  const bytes = ipv6Bytes(text);
  return bytes === undefined ? undefined : formatIpv6(bytes);
}

/** Parses an IPv4 or IPv6 address. */
export function parseIp(text: string): IpAddress | undefined {
  return parseIpv4(text) ?? parseIpv6(text);
}

/** The family of an address (text that is one). */
export function ipFamily(ip: IpAddress | string): IpFamily {
  return ip.includes(":") ? 6 : 4;
}

/** Prefix length of a host route for `family`: 32 or 128. */
export function hostPrefixLength(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The host route of `ip`: `192.0.2.11/32`, `2001:db8::1/128`. */
export function hostPrefix(ip: IpAddress): string {
  return `${ip}/${hostPrefixLength(ipFamily(ip))}`;
}

/**
 * The network-order bytes (4 or 16) of an address given as text, or
 * undefined when it is none: edges that receive untyped input use this as
 * their guard.
 */
export function ipBytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  const v4 = ipv4Value(text);
  if (v4 !== undefined) {
    return new Uint8Array([v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff]);
  }
  return ipv6Bytes(text);
}

/** The address in 4 or 16 network-order bytes; undefined for other lengths. */
export function formatIp(bytes: Uint8Array): IpAddress | undefined {
  if (bytes.length === 4) return Array.from(bytes).join(".") as IpAddress;
  if (bytes.length === 16) return formatIpv6(bytes);
  return undefined;
}

/**
 * Parses a VTEP address: an IPv4 or IPv6 address that
 * {@linkcode vtepProblem} accepts, in canonical text.
 */
export function parseVtep(text: string): { vtep: IpAddress } | { problem: string } {
  const problem = vtepProblem(text);
  if (problem !== undefined) return { problem };
  return { vtep: (ipv4Value(text) !== undefined ? text : parseIpv6(text)) as IpAddress };
}

/**
 * Why an address cannot be a unicast VTEP, or undefined when it can.
 *
 * IPv4: unspecified, broadcast, loopback, multicast, link-local, reserved
 * (240/4), and "this network" (0/8).
 *
 * IPv6: unspecified (::), loopback (::1), IPv4-mapped (::ffff:0:0/96),
 * the rest of ::/8 (IPv4-compatible, NAT64 64:ff9b::/96 and other
 * IETF-reserved space), discard-only (100::/64), link-local (fe80::/10),
 * site-local (fec0::/10, deprecated) and multicast (ff00::/8). Unique local
 * (fc00::/7) and the documentation prefix (2001:db8::/32) are accepted:
 * private underlays and the tests use them.
 */
export function vtepProblem(text: string): string | undefined {
  const value = ipv4Value(text);
  if (value === undefined) {
    const bytes = ipv6Bytes(text);
    return bytes === undefined ? "not an IPv4 or IPv6 address" : ipv6VtepProblem(bytes);
  }
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

function ipv6VtepProblem(b: Uint8Array): string | undefined {
  const zeroUpTo = (n: number) => b.subarray(0, n).every((x) => x === 0);
  if (zeroUpTo(16)) return "unspecified address";
  if (zeroUpTo(15) && b[15] === 1) return "loopback address";
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) {
    return "IPv4-mapped address (::ffff:0:0/96)";
  }
  if (b[0] === 0) {
    return "reserved address (::/8: IPv4-compatible, NAT64 and other reserved addresses)";
  }
  if (b[0] === 0x01 && b.subarray(1, 8).every((x) => x === 0)) {
    return "discard-only address (100::/64)";
  }
  if (b[0] === 0xff) return "multicast address";
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return "link-local address";
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return "site-local address (fec0::/10, deprecated)";
  return undefined;
}

function ipv6Bytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!text.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let groups: number[] = [];
  let head = text;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = ipv4Value(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail4 = [v4 >>> 16, v4 & 0xffff];
    head = text.slice(0, lastColon + 1);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    for (const group of part.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(group)) return undefined;
      out.push(parseInt(group, 16));
    }
    return out;
  };
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  if (left === undefined || right === undefined) return undefined;
  const given = left.length + right.length + tail4.length;
  if (halves.length === 2) {
    if (given > 7) return undefined;
    groups = [...left, ...new Array<number>(8 - given).fill(0), ...right, ...tail4];
  } else {
    if (given !== 8) return undefined;
    groups = [...left, ...tail4];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >>> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run of 2+ zero groups as "::". */
function formatIpv6(bytes: Uint8Array): IpAddress {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups) as IpAddress;
  return `${hex(groups.slice(0, bestStart))}::${
    hex(groups.slice(bestStart + bestLength))
  }` as IpAddress;
}
