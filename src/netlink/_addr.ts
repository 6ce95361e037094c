/**
 * Pure helpers for the byte forms libnl wants: C strings, IPv4 addresses and
 * MAC addresses. No FFI here.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 copy of `s`, for `const char *` parameters. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The 4 network-order bytes of a dotted quad, or `undefined` if `s` is not one. */
export function parseIPv4(s: string): Uint8Array<ArrayBuffer> | undefined {
  if (!IPV4.test(s)) return undefined;
  return new Uint8Array(s.split(".").map(Number));
}

/** `192.0.2.12` from 4 network-order bytes. */
export function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join(".");
}

/** Lower-case `aa:bb:cc:dd:ee:ff` from 6 bytes. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** True when every byte is zero (the flood MAC `00:00:00:00:00:00`). */
export function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}
