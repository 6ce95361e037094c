/**
 * Standard BGP communities (RFC 1997) as `ASN:VALUE` text and 32-bit values.
 *
 * @module
 */

/** Parses "65000:10010" into `65000 << 16 | 10010`; undefined if not ASN:VALUE in 0..65535. */
export function parseCommunity(text: string): number | undefined {
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const asn = Number(match[1]);
  const value = Number(match[2]);
  if (asn > 0xffff || value > 0xffff) return undefined;
  return (asn * 0x10000 + value) >>> 0;
}

/** Formats a 32-bit community as "ASN:VALUE". */
export function formatCommunity(community: number): string {
  return `${community >>> 16}:${community & 0xffff}`;
}

/** Builds the community `asn:value`; both must be in 0..65535. */
export function makeCommunity(asn: number, value: number): number {
  if (!Number.isInteger(asn) || asn < 0 || asn > 0xffff) {
    throw new RangeError(`Cannot build community: ASN ${asn} is not in 0..65535`);
  }
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`Cannot build community: value ${value} is not in 0..65535`);
  }
  return (asn * 0x10000 + value) >>> 0;
}
