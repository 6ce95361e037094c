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
import {
  type Community,
  isLargeCommunity,
  largeCommunityParts,
  makeLargeCommunity,
  sortedCommunities,
} from "../net/community.ts";
import { hostPrefixLength, type IpAddress, type IpFamily, ipFamily } from "../net/ip.ts";
import { admitVtep } from "../overlay/admit.ts";
import { apipbType, LOADER_OPTIONS } from "./proto.ts";

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
  /** Kept by gobgpd while its peer restarts under graceful restart. */
  stale?: boolean;
  family?: { afi?: number; safi?: number } | null;
  neighborIp?: string;
  sourceId?: string;
  uuid?: Uint8Array;
}

export const AFI_IP = 1;
export const AFI_IP6 = 2;
export const SAFI_UNICAST = 1;

/** The unicast family of host routes for VTEPs of `family`. */
function unicastFamily(family: IpFamily): { afi: number; safi: number } {
  return { afi: family === 4 ? AFI_IP : AFI_IP6, safi: SAFI_UNICAST };
}
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
  const afi = family?.afi;
  if (!family || (afi !== AFI_IP && afi !== AFI_IP6) || family.safi !== SAFI_UNICAST) {
    return {
      ok: false,
      reason: "family",
      detail: `family afi=${afi ?? "?"} safi=${family?.safi ?? "?"} is neither IPv4 nor ` +
        `IPv6 unicast`,
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
  const ipFamilyOfAfi = afi === AFI_IP ? 4 : 6;
  if (prefix.prefix.includes(":") !== (ipFamilyOfAfi === 6)) {
    return {
      ok: false,
      reason: "malformed",
      detail: `prefix ${text} is not an IPv${ipFamilyOfAfi} prefix, as its family says`,
    };
  }
  const hostLength = hostPrefixLength(ipFamilyOfAfi);
  if (prefix.prefixLen !== hostLength) {
    return {
      ok: false,
      reason: "not_host_route",
      detail: `prefix ${text} is not a /${hostLength}`,
    };
  }
  const vtep = admitVtep(prefix.prefix, text);
  if (!("vtep" in vtep)) return { ok: false, ...vtep };
  const communities: Community[] = [];
  for (const attr of path.pattrs ?? []) {
    const name = typeName(attr);
    if (name !== "CommunitiesAttribute" && name !== "LargeCommunitiesAttribute") continue;
    try {
      if (name === "CommunitiesAttribute") {
        const decoded = unpackAny<{ communities: number[] }>(name, attr);
        for (const community of decoded.communities) communities.push(community >>> 0);
      } else {
        const decoded = unpackAny<{ communities: LargeCommunityMessage[] }>(name, attr);
        for (const c of decoded.communities) {
          communities.push(makeLargeCommunity(c.globalAdmin, c.localData1, c.localData2));
        }
      }
    } catch (error) {
      const what = name === "CommunitiesAttribute" ? "communities" : "large communities";
      return {
        ok: false,
        reason: "malformed",
        detail: `prefix ${text}: ${what} do not decode: ${message(error)}`,
      };
    }
  }
  return {
    ok: true,
    route: {
      vtep: vtep.vtep,
      communities,
      withdraw: path.isWithdraw === true,
      ...(path.stale === true ? { stale: true } : {}),
    },
  };
}

/** The node's own membership announcement. */
export interface Membership {
  /** Local VTEP address; the path is its host route with this next hop. */
  address: IpAddress | string;
  /** Communities of every online VNI: standard (numbers) and large (strings). */
  communities: readonly Community[];
}

/** `apipb.LargeCommunity` as proto-loader hands it over. */
interface LargeCommunityMessage {
  globalAdmin: number;
  localData1: number;
  localData2: number;
}

/**
 * Encodes the membership path: unicast `<address>/32` (IPv4) or
 * `<address>/128` (IPv6), ORIGIN IGP, the address as next hop, COMMUNITIES
 * and LARGE_COMMUNITY (each sorted, de-duplicated; an attribute with no
 * communities is left out). The IPv4 next hop is a NEXT_HOP attribute; an
 * IPv6 one travels in MP_REACH_NLRI (RFC 4760), as `gobgp global rib add -a
 * ipv6` sends it (gobgpd's API also takes a NEXT_HOP holding an IPv6 address
 * and builds the MP_REACH_NLRI itself).
 */
export function encodeMembershipPath(membership: Membership): PathMessage {
  const family = unicastFamily(ipFamily(membership.address));
  const nlri = hostPrefixNlri(membership.address);
  const pattrs = [
    packAny("OriginAttribute", { origin: ORIGIN_IGP }),
    family.afi === AFI_IP
      ? packAny("NextHopAttribute", { nextHop: membership.address })
      : packAny("MpReachNLRIAttribute", { family, nextHops: [membership.address], nlris: [nlri] }),
  ];
  const sorted = sortedCommunities(membership.communities);
  const standard = sorted.filter((c) => !isLargeCommunity(c));
  const large = sorted.filter(isLargeCommunity).map((c) => {
    const { global, local1, local2 } = largeCommunityParts(c);
    return { globalAdmin: global, localData1: local1, localData2: local2 };
  });
  if (standard.length > 0) pattrs.push(packAny("CommunitiesAttribute", { communities: standard }));
  if (large.length > 0) pattrs.push(packAny("LargeCommunitiesAttribute", { communities: large }));
  return { nlri, pattrs, family };
}

function hostPrefixNlri(address: IpAddress | string): AnyMessage {
  return packAny("IPAddressPrefix", {
    prefixLen: hostPrefixLength(ipFamily(address)),
    prefix: address,
  });
}

/**
 * The path that `DeletePath` needs to remove a membership: NLRI, family and
 * `isWithdraw` (gobgpd insists on a next hop for anything not marked as a
 * withdrawal). Never send a DeletePath without a path: gobgpd would then
 * delete every local path of the family.
 */
export function encodeMembershipKey(address: IpAddress | string): PathMessage {
  return {
    nlri: hostPrefixNlri(address),
    pattrs: [],
    family: unicastFamily(ipFamily(address)),
    isWithdraw: true,
  };
}

/**
 * Runs the codecs of the agent's hot path once, in memory, with a
 * membership path of `address`: the gRPC messages of `AddPath` (encode) and
 * of a `WatchEvent` table (decode), every path attribute, `decodePath`.
 * protobufjs generates each type's `fromObject`/`encode`/`decode`/`toObject`
 * on first use (with `new Function`), 5–30 ms of CPU per agent: an agent
 * started before its devices would otherwise pay it when the first device
 * appears, in every node of a fabric at once, competing with the device
 * creation and with gobgpd. Returns the VTEP read back (its own address).
 */
export function warmCodecs(address: IpAddress): string | undefined {
  const path = encodeMembershipPath({ address, communities: [0] });
  const request = apipbType("AddPathRequest");
  request.encode(request.fromObject({ tableType: 0, path })).finish();
  const response = apipbType("WatchEventResponse");
  const bytes = response.encode(response.fromObject({ table: { paths: [path] } })).finish();
  const event = response.toObject(response.decode(bytes), LOADER_OPTIONS) as {
    table?: { paths?: PathMessage[] };
  };
  const decoded = decodePath(event.table?.paths?.[0] ?? path);
  return decoded.ok ? decoded.route.vtep : undefined;
}

/** The message of an error, for a skip detail. */
export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
