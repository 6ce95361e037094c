/**
 * BGP communities: standard (RFC 1997, `ASN:VALUE`, one 32-bit value) and
 * large (RFC 8092, `GLOBAL:LOCAL1:LOCAL2`, three 32-bit values).
 *
 * @module
 */

/** A standard community as its 32-bit value, `ASN << 16 | VALUE`. */
export type StandardCommunity = number;

/** A large community: three unsigned 32-bit parts. */
export interface LargeCommunity {
  readonly global: number;
  readonly local1: number;
  readonly local2: number;
}

/** Either kind; a number is a standard community. */
export type Community = StandardCommunity | LargeCommunity;

const U16 = 0xffff;
const U32 = 0xffffffff;

/** Parses "65000:10010" into `65000 << 16 | 10010`; undefined if not ASN:VALUE in 0..65535. */
export function parseStandardCommunity(text: string): StandardCommunity | undefined {
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const asn = Number(match[1]);
  const value = Number(match[2]);
  if (asn > U16 || value > U16) return undefined;
  return (asn * 0x10000 + value) >>> 0;
}

/** Parses "4200000000:1:2"; undefined unless three parts in 0..4294967295. */
export function parseLargeCommunity(text: string): LargeCommunity | undefined {
  const match = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text.trim());
  if (!match) return undefined;
  const [global, local1, local2] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (global > U32 || local1 > U32 || local2 > U32) return undefined;
  return { global, local1, local2 };
}

/** Parses either kind: two parts are a standard community, three a large one. */
export function parseCommunity(text: string): Community | undefined {
  return parseStandardCommunity(text) ?? parseLargeCommunity(text);
}

/** Formats a community as "ASN:VALUE" or "GLOBAL:LOCAL1:LOCAL2". */
export function formatCommunity(community: Community): string {
  if (typeof community === "number") return `${community >>> 16}:${community & U16}`;
  return `${community.global}:${community.local1}:${community.local2}`;
}

/** Builds the standard community `asn:value`; both must be in 0..65535. */
export function makeCommunity(asn: number, value: number): StandardCommunity {
  if (!Number.isInteger(asn) || asn < 0 || asn > U16) {
    throw new RangeError(`Cannot build community: ASN ${asn} is not in 0..65535`);
  }
  if (!Number.isInteger(value) || value < 0 || value > U16) {
    throw new RangeError(`Cannot build community: value ${value} is not in 0..65535`);
  }
  return (asn * 0x10000 + value) >>> 0;
}

/** The ASN half of a standard community. */
export function communityAsn(community: StandardCommunity): number {
  return community >>> 16;
}
