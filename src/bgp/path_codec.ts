/**
 * Pure conversions between GoBGP `apipb.Path` messages (as delivered by
 * proto-loader: plain objects whose `google.protobuf.Any` fields are
 * `{ type_url, value }`) and the agent's domain `Route`.
 *
 * `decodePath` / `encodeMembershipPath` are a pair: the round trip is tested
 * through real protobuf encoding in `path_codec_test.ts`.
 *
 * @module
 */
import type { Decoded } from "../overlay/route.ts";
import { hostPrefixLength, type IpAddress, ipFamily } from "../net/ip.ts";
import { admitVtep } from "../overlay/admit.ts";
import { apipbType } from "./proto.ts";

/** `google.protobuf.Any` as proto-loader hands it over. */
export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** The `apipb.Path` fields the agent reads and writes. */
export interface PathMessage {
  nlri?: AnyMessage | null;
  pattrs?: AnyMessage[];
  isWithdraw?: boolean;
  best?: boolean;
  family?: { afi?: number; safi?: number } | null;
  neighborIp?: string;
  sourceId?: string;
  uuid?: Uint8Array;
}

export const AFI_IP = 1;
export const SAFI_UNICAST = 1;
const TYPE_PREFIX = "type.googleapis.com/apipb.";

/** ORIGIN attribute value IGP (RFC 4271). */
export const ORIGIN_IGP = 0;

/** The `apipb.<name>` of an Any; "" for another package. */
export function typeName(any: AnyMessage): string {
  return any.type_url.startsWith(TYPE_PREFIX) ? any.type_url.slice(TYPE_PREFIX.length) : "";
}

/** Wraps a message of `apipb.<name>` into an Any. */
export function packAny(name: string, fields: Record<string, unknown>): AnyMessage {
  const type = apipbType(name);
  return { type_url: TYPE_PREFIX + name, value: type.encode(type.fromObject(fields)).finish() };
}

/** Decodes an Any whose type is `apipb.<name>`; throws on malformed bytes. */
export function unpackAny<T>(name: string, any: AnyMessage): T {
  const type = apipbType(name);
  return type.toObject(type.decode(any.value), { longs: Number, defaults: true }) as T;
}

/**
 * Decodes one path into a `Route`, or says why it is skipped. Never throws:
 * malformed payloads become `{ ok: false, reason: "malformed" }`.
 */
export function decodePath(path: PathMessage): Decoded {
  const family = path.family;
  if (!family || family.afi !== AFI_IP || family.safi !== SAFI_UNICAST) {
    return {
      ok: false,
      reason: "family",
      detail: `family afi=${family?.afi ?? "?"} safi=${family?.safi ?? "?"} is not IPv4 unicast`,
    };
  }
  const nlri = path.nlri;
  if (!nlri || typeName(nlri) !== "IPAddressPrefix") {
    return {
      ok: false,
      reason: "malformed",
      detail: `NLRI type "${nlri?.type_url ?? "(none)"}" is not apipb.IPAddressPrefix`,
    };
  }
  let prefix: { prefixLen: number; prefix: string };
  try {
    prefix = unpackAny("IPAddressPrefix", nlri);
  } catch (error) {
    return { ok: false, reason: "malformed", detail: `NLRI does not decode: ${message(error)}` };
  }
  const text = `${prefix.prefix}/${prefix.prefixLen}`;
  if (prefix.prefixLen !== hostPrefixLength(4)) {
    return { ok: false, reason: "not_host_route", detail: `prefix ${text} is not a /32` };
  }
  const vtep = admitVtep(prefix.prefix, text);
  if (!("vtep" in vtep)) return { ok: false, ...vtep };
  const communities: number[] = [];
  for (const attr of path.pattrs ?? []) {
    if (typeName(attr) !== "CommunitiesAttribute") continue;
    try {
      const decoded = unpackAny<{ communities: number[] }>("CommunitiesAttribute", attr);
      for (const community of decoded.communities) communities.push(community >>> 0);
    } catch (error) {
      return {
        ok: false,
        reason: "malformed",
        detail: `prefix ${text}: communities do not decode: ${message(error)}`,
      };
    }
  }
  return {
    ok: true,
    route: { vtep: vtep.vtep, communities, withdraw: path.isWithdraw === true },
  };
}

/** The node's own membership announcement. */
export interface Membership {
  /** Local VTEP address; the path is its host route with this next hop. */
  address: IpAddress | string;
  /** Communities of every online VNI, as 32-bit values. */
  communities: readonly number[];
}

/**
 * Encodes the membership path: IPv4 unicast `<address>/32`, ORIGIN IGP,
 * NEXT_HOP = address, COMMUNITIES (sorted, de-duplicated). With no
 * communities the attribute is left out.
 */
export function encodeMembershipPath(membership: Membership): PathMessage {
  const pattrs = [
    packAny("OriginAttribute", { origin: ORIGIN_IGP }),
    packAny("NextHopAttribute", { nextHop: membership.address }),
  ];
  const communities = [...new Set(membership.communities)].sort((a, b) => a - b);
  if (communities.length > 0) {
    pattrs.push(packAny("CommunitiesAttribute", { communities }));
  }
  return {
    nlri: packAny("IPAddressPrefix", {
      prefixLen: hostPrefixLength(ipFamily(membership.address)),
      prefix: membership.address,
    }),
    pattrs,
    family: { afi: AFI_IP, safi: SAFI_UNICAST },
  };
}

/**
 * The path that `DeletePath` needs to remove a membership: NLRI, family and
 * `isWithdraw` (gobgpd insists on a next hop for anything not marked as a
 * withdrawal). Never send a DeletePath without a path: gobgpd would then
 * delete every local path of the family.
 */
export function encodeMembershipKey(address: IpAddress | string): PathMessage {
  return {
    nlri: packAny("IPAddressPrefix", {
      prefixLen: hostPrefixLength(ipFamily(address)),
      prefix: address,
    }),
    pattrs: [],
    family: { afi: AFI_IP, safi: SAFI_UNICAST },
    isWithdraw: true,
  };
}

/** The message of an error, for a skip detail. */
export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
