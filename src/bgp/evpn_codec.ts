/**
 * Pure conversions between GoBGP `apipb.Path` messages of the L2VPN EVPN
 * family (AFI 25, SAFI 70) and the agent's EVPN routes
 * (`overlay/evpn_route.ts`): Type 3 (IMET) and Type 2 (MAC/IP) both ways;
 * Types 1, 4 and 5 are recognised, counted and skipped.
 *
 * Encoding follows what FRR 8.4 sends and gobgpd 3.10 accepts
 * (`EVPN.md`): ORIGIN IGP; MP_REACH_NLRI repeating the NLRI (gobgpd
 * rejects the path otherwise); extended communities RT(s) and
 * encapsulation VXLAN; Type 3: PMSI tunnel ingress replication, label = VNI,
 * tunnel id = the VTEP; Type 2: ESI type 0 with nine zero bytes always
 * (gobgpd 3.10 crashes without it), labels = [VNI], MAC mobility when set.
 *
 * `decodeEvpnPath` never throws: a path that does not decode becomes a skip
 * with reason `malformed`. Each encode/decode pair is round-tripped through
 * real protobuf encoding in `evpn_codec_test.ts`.
 *
 * @module
 */
import { formatIp, type IpAddress, ipBytes, parseIp } from "../net/ip.ts";
import { formatMac, parseMac } from "../net/mac.ts";
import type { RouteDistinguisher } from "../net/route_distinguisher.ts";
import { formatRouteTarget, type RouteTarget } from "../net/route_target.ts";
import {
  type Esi,
  type EvpnRouteType,
  type ImetRoute,
  type MacIpRoute,
  type MacMobility,
  PMSI_INGRESS_REPLICATION,
  type PmsiTunnel,
  singleHomedEsi,
  TUNNEL_TYPE_VXLAN,
} from "../overlay/evpn_route.ts";
import type { DecodedEvpn } from "../overlay/route.ts";
import {
  type AnyMessage,
  message,
  ORIGIN_IGP,
  packAny,
  type PathMessage,
  typeName,
  unpackAny,
} from "./path_codec.ts";

export const AFI_L2VPN = 25;
export const SAFI_EVPN = 70;
/** The L2VPN EVPN family as `apipb.Family`. */
export const EVPN_FAMILY = { afi: AFI_L2VPN, safi: SAFI_EVPN } as const;

/** True for a path of the L2VPN EVPN family. */
export function isEvpnFamily(family: PathMessage["family"]): boolean {
  return family?.afi === AFI_L2VPN && family?.safi === SAFI_EVPN;
}

/** Extended community sub-type "route target" (RFC 4360). */
const SUBTYPE_ROUTE_TARGET = 2;

const NLRI_TYPES: Record<string, EvpnRouteType> = {
  EVPNEthernetAutoDiscoveryRoute: "ethernet_ad",
  EVPNMACIPAdvertisementRoute: "mac_ip",
  EVPNInclusiveMulticastEthernetTagRoute: "inclusive_multicast",
  EVPNEthernetSegmentRoute: "ethernet_segment",
  EVPNIPPrefixRoute: "ip_prefix",
};

const ROUTE_TYPE_NAMES: Record<EvpnRouteType, string> = {
  ethernet_ad: "Type 1 (Ethernet auto-discovery)",
  mac_ip: "Type 2 (MAC/IP)",
  inclusive_multicast: "Type 3 (inclusive multicast)",
  ethernet_segment: "Type 4 (Ethernet segment)",
  ip_prefix: "Type 5 (IP prefix)",
  other: "of an unknown EVPN route type",
};

// ---------------------------------------------------------------------------
// Route distinguishers, route targets

/** Packs an RD into the Any gobgpd expects (`RouteDistinguisher{TwoOctetASN,IPAddress,FourOctetASN}`). */
export function encodeRd(rd: RouteDistinguisher): AnyMessage {
  switch (rd.kind) {
    case "as2":
      return packAny("RouteDistinguisherTwoOctetASN", { admin: rd.admin, assigned: rd.assigned });
    case "ipv4":
      return packAny("RouteDistinguisherIPAddress", { admin: rd.admin, assigned: rd.assigned });
    case "as4":
      return packAny("RouteDistinguisherFourOctetASN", { admin: rd.admin, assigned: rd.assigned });
  }
}

/** Unpacks an RD Any; throws (caught by the decoder) on anything else. */
export function decodeRd(any: AnyMessage | null | undefined): RouteDistinguisher {
  if (!any) throw new TypeError("no route distinguisher");
  const name = typeName(any);
  if (name === "RouteDistinguisherIPAddress") {
    const rd = unpackAny<{ admin: string; assigned: number }>(name, any);
    const admin = parseIp(rd.admin);
    if (admin === undefined || admin.includes(":")) {
      throw new TypeError(`RD admin ${JSON.stringify(rd.admin)} is not IPv4`);
    }
    return { kind: "ipv4", admin, assigned: rd.assigned };
  }
  if (name === "RouteDistinguisherTwoOctetASN" || name === "RouteDistinguisherFourOctetASN") {
    const rd = unpackAny<{ admin: number; assigned: number }>(name, any);
    return { kind: name === "RouteDistinguisherTwoOctetASN" ? "as2" : "as4", ...rd };
  }
  throw new TypeError(`route distinguisher type "${any.type_url}" is unknown`);
}

/** A route target as an extended community Any (transitive, sub-type 2). */
export function encodeRouteTarget(rt: RouteTarget): AnyMessage {
  const common = { isTransitive: true, subType: SUBTYPE_ROUTE_TARGET, localAdmin: rt.value };
  switch (rt.kind) {
    case "as2":
      return packAny("TwoOctetAsSpecificExtended", { ...common, asn: rt.asn });
    case "as4":
      return packAny("FourOctetAsSpecificExtended", { ...common, asn: rt.asn });
    case "ipv4":
      return packAny("IPv4AddressSpecificExtended", { ...common, address: rt.address });
  }
}

interface _Extended {
  routeTargets: RouteTarget[];
  encapsulations: number[];
  mobility: MacMobility | undefined;
}

/** Reads the extended communities this agent uses; others are left alone. */
function decodeExtended(communities: readonly AnyMessage[]): _Extended {
  const out: _Extended = { routeTargets: [], encapsulations: [], mobility: undefined };
  for (const any of communities) {
    const name = typeName(any);
    switch (name) {
      case "TwoOctetAsSpecificExtended":
      case "FourOctetAsSpecificExtended": {
        const c = unpackAny<{ subType: number; asn: number; localAdmin: number }>(name, any);
        if (c.subType !== SUBTYPE_ROUTE_TARGET) break;
        const kind = name === "TwoOctetAsSpecificExtended" ? "as2" : "as4";
        out.routeTargets.push({ kind, asn: c.asn, value: c.localAdmin });
        break;
      }
      case "IPv4AddressSpecificExtended": {
        const c = unpackAny<{ subType: number; address: string; localAdmin: number }>(name, any);
        const address = parseIp(c.address);
        if (c.subType !== SUBTYPE_ROUTE_TARGET || address === undefined) break;
        out.routeTargets.push({ kind: "ipv4", address, value: c.localAdmin });
        break;
      }
      case "EncapExtended":
        out.encapsulations.push(unpackAny<{ tunnelType: number }>(name, any).tunnelType);
        break;
      case "MacMobilityExtended": {
        const c = unpackAny<{ isSticky: boolean; sequenceNum: number }>(name, any);
        out.mobility = { sequence: c.sequenceNum, sticky: c.isSticky };
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Encode

/** What our own Type 3 route says. */
export interface ImetSpec {
  rd: RouteDistinguisher;
  /** The local VTEP: originating IP, next hop and PMSI tunnel id. */
  vtep: IpAddress;
  /** The VNI: the PMSI label. */
  vni: number;
  routeTargets: readonly RouteTarget[];
}

/** What our own Type 2 route says (`ip` undefined: MAC-only). */
export interface MacIpSpec {
  rd: RouteDistinguisher;
  vtep: IpAddress;
  vni: number;
  mac: string;
  ip: IpAddress | undefined;
  routeTargets: readonly RouteTarget[];
  mobility?: MacMobility | undefined;
}

function extendedCommunities(
  routeTargets: readonly RouteTarget[],
  more: AnyMessage[] = [],
): AnyMessage {
  return packAny("ExtendedCommunitiesAttribute", {
    communities: [
      ...routeTargets.map(encodeRouteTarget),
      packAny("EncapExtended", { tunnelType: TUNNEL_TYPE_VXLAN }),
      ...more,
    ],
  });
}

function evpnPath(nlri: AnyMessage, nextHop: IpAddress, pattrs: AnyMessage[]): PathMessage {
  return {
    nlri,
    pattrs: [
      packAny("OriginAttribute", { origin: ORIGIN_IGP }),
      packAny("MpReachNLRIAttribute", { family: EVPN_FAMILY, nextHops: [nextHop], nlris: [nlri] }),
      ...pattrs,
    ],
    family: { ...EVPN_FAMILY },
  };
}

/** The NLRI of a Type 3 route, ethernet tag 0. */
function imetNlri(spec: Pick<ImetSpec, "rd" | "vtep">): AnyMessage {
  return packAny("EVPNInclusiveMulticastEthernetTagRoute", {
    rd: encodeRd(spec.rd),
    ethernetTag: 0,
    ipAddress: spec.vtep,
  });
}

/**
 * Our Type 3 path: RD, ethernet tag 0, originating IP = next hop = PMSI
 * tunnel id = the VTEP (an IPv6 VTEP: a 16-byte tunnel id, RFC 6514 §5);
 * RT(s) and encapsulation VXLAN; PMSI ingress replication with label =
 * VNI. Send it to AddPath; send the same to DeletePath to withdraw it.
 */
export function encodeImetPath(spec: ImetSpec): PathMessage {
  const id = ipBytes(spec.vtep);
  if (id === undefined) {
    throw new TypeError(`Cannot encode a Type 3 route for VTEP ${spec.vtep}: not an IP address`);
  }
  return evpnPath(imetNlri(spec), spec.vtep, [
    extendedCommunities(spec.routeTargets),
    packAny("PmsiTunnelAttribute", {
      flags: 0,
      type: PMSI_INGRESS_REPLICATION,
      label: spec.vni,
      id,
    }),
  ]);
}

/**
 * A Type 2 path: ESI type 0 with nine zero bytes, ethernet tag 0, labels
 * [VNI], next hop = the VTEP; RT(s), encapsulation VXLAN and, when given,
 * MAC mobility. `ip` undefined makes the MAC-only route (a separate path).
 */
export function encodeMacIpPath(spec: MacIpSpec): PathMessage {
  if (parseMac(spec.mac) === undefined) {
    throw new TypeError(`Cannot encode a Type 2 route for MAC ${JSON.stringify(spec.mac)}`);
  }
  if (spec.ip !== undefined && macIpAddress(spec.ip) === undefined) {
    throw new TypeError(`Cannot encode a Type 2 route for ${spec.ip}: leave ip unset for MAC-only`);
  }
  const esi = singleHomedEsi();
  const nlri = packAny("EVPNMACIPAdvertisementRoute", {
    rd: encodeRd(spec.rd),
    esi: { type: esi.type, value: esi.value },
    ethernetTag: 0,
    macAddress: spec.mac.toLowerCase(),
    ipAddress: spec.ip ?? "",
    labels: [spec.vni],
  });
  const mobility = spec.mobility
    ? [packAny("MacMobilityExtended", {
      isSticky: spec.mobility.sticky,
      sequenceNum: spec.mobility.sequence,
    })]
    : [];
  return evpnPath(nlri, spec.vtep, [extendedCommunities(spec.routeTargets, mobility)]);
}

// ---------------------------------------------------------------------------
// Decode

function skip(reason: "malformed" | "route_type", detail: string, type?: EvpnRouteType) {
  return { ok: false as const, reason, detail, ...(type ? { evpnType: type } : {}) };
}

function rdText(rd: RouteDistinguisher): string {
  return `${rd.admin}:${rd.assigned}`;
}

/** MAC-only routes arrive with an empty IP (gobgpd prints Go's nil IP as "<nil>"). */
function macIpAddress(text: string): IpAddress | undefined | null {
  if (text === "" || text === "<nil>" || text === "0.0.0.0" || text === "::") return undefined;
  return parseIp(text) ?? null;
}

/**
 * Decodes one path of the EVPN family. Never throws: a payload that does
 * not decode is `malformed`; Types 1, 4, 5 and unknown NLRIs are
 * `route_type` skips carrying their type, for the counters.
 */
export function decodeEvpnPath(path: PathMessage): DecodedEvpn {
  const nlri = path.nlri;
  if (!nlri) return skip("malformed", "EVPN path without an NLRI", "other");
  const name = typeName(nlri);
  const type = NLRI_TYPES[name] ?? "other";
  if (type !== "mac_ip" && type !== "inclusive_multicast") {
    return skip(
      "route_type",
      `EVPN route ${ROUTE_TYPE_NAMES[type]} ${
        type === "other" ? `("${nlri.type_url}") ` : ""
      }is not used by this agent`,
      type,
    );
  }
  try {
    return type === "inclusive_multicast" ? decodeImet(path, nlri) : decodeMacIp(path, nlri);
  } catch (error) {
    return skip("malformed", `EVPN ${ROUTE_TYPE_NAMES[type]}: ${message(error)}`, type);
  }
}

interface _Attributes extends _Extended {
  nextHop: string;
  pmsi: PmsiTunnel | undefined;
}

function decodeAttributes(pattrs: readonly AnyMessage[]): _Attributes {
  let nextHop = "";
  let pmsi: PmsiTunnel | undefined;
  const communities: AnyMessage[] = [];
  for (const attr of pattrs) {
    const name = typeName(attr);
    if (name === "MpReachNLRIAttribute") {
      nextHop = unpackAny<{ nextHops: string[] }>(name, attr).nextHops[0] ?? nextHop;
    } else if (name === "NextHopAttribute" && nextHop === "") {
      nextHop = unpackAny<{ nextHop: string }>(name, attr).nextHop;
    } else if (name === "ExtendedCommunitiesAttribute") {
      communities.push(...unpackAny<{ communities: AnyMessage[] }>(name, attr).communities);
    } else if (name === "PmsiTunnelAttribute") {
      const p = unpackAny<{ flags: number; type: number; label: number; id: Uint8Array }>(
        name,
        attr,
      );
      pmsi = { flags: p.flags, type: p.type, label: p.label, id: formatIp(p.id) };
    }
  }
  return { nextHop, pmsi, ...decodeExtended(communities) };
}

function common(path: PathMessage) {
  // gobgpd sends Go's nil IP ("<nil>") for a path added through its API.
  const neighbor = path.neighborIp === "<nil>" ? "" : path.neighborIp ?? "";
  return { neighbor, withdraw: path.isWithdraw === true };
}

function decodeImet(path: PathMessage, nlri: AnyMessage): DecodedEvpn {
  const name = "EVPNInclusiveMulticastEthernetTagRoute";
  const n = unpackAny<{ rd: AnyMessage | null; ethernetTag: number; ipAddress: string }>(
    name,
    nlri,
  );
  const rd = decodeRd(n.rd);
  const a = decodeAttributes(path.pattrs ?? []);
  const route: ImetRoute = {
    type: 3,
    key: `3:${rdText(rd)}:${n.ethernetTag}:${n.ipAddress}`,
    rd,
    ethernetTag: n.ethernetTag,
    originator: n.ipAddress,
    routeTargets: a.routeTargets,
    encapsulations: a.encapsulations,
    nextHop: a.nextHop,
    pmsi: a.pmsi,
    ...common(path),
  };
  return { ok: true, evpn: route };
}

function decodeMacIp(path: PathMessage, nlri: AnyMessage): DecodedEvpn {
  const name = "EVPNMACIPAdvertisementRoute";
  const n = unpackAny<{
    rd: AnyMessage | null;
    esi: { type: number; value: Uint8Array } | null;
    ethernetTag: number;
    macAddress: string;
    ipAddress: string;
    labels: number[];
  }>(name, nlri);
  const rd = decodeRd(n.rd);
  const macBytes = parseMac(n.macAddress);
  if (macBytes === undefined) throw new TypeError(`MAC ${JSON.stringify(n.macAddress)}`);
  const mac = formatMac(macBytes);
  const ip = macIpAddress(n.ipAddress);
  if (ip === null) throw new TypeError(`IP address ${JSON.stringify(n.ipAddress)}`);
  const esi: Esi = n.esi
    ? { type: n.esi.type, value: new Uint8Array(n.esi.value) }
    : singleHomedEsi();
  const a = decodeAttributes(path.pattrs ?? []);
  const route: MacIpRoute = {
    type: 2,
    key: `2:${rdText(rd)}:${n.ethernetTag}:${mac}:${ip ?? ""}`,
    rd,
    ethernetTag: n.ethernetTag,
    esi,
    mac,
    ip,
    labels: [...n.labels],
    routeTargets: a.routeTargets,
    encapsulations: a.encapsulations,
    nextHop: a.nextHop,
    mobility: a.mobility,
    ...common(path),
  };
  return { ok: true, evpn: route };
}

/** The route targets of a route as text ("65000:10010 192.0.2.1:7"), for logs. */
export function routeTargetsText(rts: readonly RouteTarget[]): string {
  return rts.map(formatRouteTarget).join(" ") || "none";
}
