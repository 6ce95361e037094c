/**
 * BGP communities: standard (RFC 1997, `ASN:VALUE`, one 32-bit value) and
 * large (RFC 8092, `GLOBAL:LOCAL1:LOCAL2`, three 32-bit values).
 *
 * @module
 */

/** A standard community as its 32-bit value, `ASN << 16 | VALUE`. */
export type StandardCommunity = number;

/**
 * A large community in canonical form, `"GLOBAL:LOCAL1:LOCAL2"` (three
 * unsigned 32-bit parts in decimal, no leading zeros). A branded string,
 * like `IpAddress`: sets and maps keyed by community need no interning.
 */
export type LargeCommunity = string & { readonly __brand: "LargeCommunity" };

/** Either kind; a number is a standard community, a string a large one. */
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
  return `${global}:${local1}:${local2}` as LargeCommunity;
}

/** Builds the large community `global:local1:local2`; each part must be in 0..4294967295. */
export function makeLargeCommunity(global: number, local1: number, local2: number): LargeCommunity {
  for (const part of [global, local1, local2]) {
    if (!Number.isInteger(part) || part < 0 || part > U32) {
      throw new RangeError(`Cannot build large community: ${part} is not in 0..4294967295`);
    }
  }
  return `${global}:${local1}:${local2}` as LargeCommunity;
}

/** The three parts of a large community. */
export function largeCommunityParts(
  community: LargeCommunity,
): { global: number; local1: number; local2: number } {
  const [global = 0, local1 = 0, local2 = 0] = community.split(":").map(Number);
  return { global, local1, local2 };
}

/** True for a large community (a string), false for a standard one (a number). */
export function isLargeCommunity(community: Community): community is LargeCommunity {
  return typeof community === "string";
}

/** Orders communities: standard ones by value first, then large ones part by part. */
export function compareCommunities(a: Community, b: Community): number {
  if (typeof a === "number") return typeof b === "number" ? a - b : -1;
  if (typeof b === "number") return 1;
  const [x, y] = [largeCommunityParts(a), largeCommunityParts(b)];
  return x.global - y.global || x.local1 - y.local1 || x.local2 - y.local2;
}

/** The communities sorted (see `compareCommunities`), each once. */
export function sortedCommunities(communities: Iterable<Community>): Community[] {
  return [...new Set(communities)].sort(compareCommunities);
}

/** Parses either kind: two parts are a standard community, three a large one. */
export function parseCommunity(text: string): Community | undefined {
  return parseStandardCommunity(text) ?? parseLargeCommunity(text);
}

/** Formats a community as "ASN:VALUE" or "GLOBAL:LOCAL1:LOCAL2". */
export function formatCommunity(community: Community): string {
  if (typeof community === "number") return `${community >>> 16}:${community & U16}`;
  return community;
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

/** The ASN half of a standard community; a large community's global part. */
export function communityAsn(community: Community): number {
  return typeof community === "number" ? community >>> 16 : largeCommunityParts(community).global;
}

/**
 * How VNIs derive their community from `communityAsn`: `auto` uses the
 * standard `ASN:VNI` up to VNI 65535 and the large `ASN:0:VNI` above it;
 * `large` uses `ASN:0:VNI` for every VNI.
 */
export type CommunityFormat = "auto" | "large";

/** The largest VNI that fits into the VALUE half of an `ASN:VNI` community. */
export const MAX_STANDARD_VNI = 0xffff;

/**
 * The community of VNI `vni` derived from `asn` in `format`. Throws a
 * RangeError when the standard form is asked of an ASN above 65535.
 */
export function vniCommunity(asn: number, vni: number, format: CommunityFormat): Community {
  if (format === "large" || vni > MAX_STANDARD_VNI) return makeLargeCommunity(asn, 0, vni);
  return makeCommunity(asn, vni);
}

/**
 * True when `community` has the shape `vniCommunity(asn, *, format)` gives:
 * discovery mode keeps the routes of such communities (their VNI may come
 * online later).
 */
export function isVniCommunityOf(
  community: Community,
  asn: number,
  format: CommunityFormat,
): boolean {
  if (typeof community === "number") return format === "auto" && community >>> 16 === asn;
  const { global, local1, local2 } = largeCommunityParts(community);
  return global === asn && local1 === 0 && local2 >= 1 && local2 <= 0xffffff &&
    (format === "large" || local2 > MAX_STANDARD_VNI);
}
