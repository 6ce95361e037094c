/**
 * MAC addresses as lower-case `aa:bb:cc:dd:ee:ff` text.
 *
 * @module
 */

/** The all-zero MAC that marks a VXLAN flood (BUM) entry. */
export const FLOOD_MAC = "00:00:00:00:00:00";

/** Lower-case `aa:bb:cc:dd:ee:ff` from 6 bytes. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The 6 bytes of `aa:bb:cc:dd:ee:ff` (either case), or undefined. */
export function parseMac(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(text)) return undefined;
  return new Uint8Array(text.split(":").map((h) => parseInt(h, 16)));
}

/** True when every byte is zero (the flood MAC `00:00:00:00:00:00`). */
export function isZeroMac(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}
