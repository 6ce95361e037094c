/**
 * Route targets (RFC 4360 extended communities, as EVPN uses them, RFC
 * 7432): `ASN:VALUE` with a 2-byte ASN and 4-byte value, a 4-byte ASN and
 * 2-byte value, or `IPv4:VALUE` with a 2-byte value.
 *
 * @module
 */
import type { IpAddress } from "./ip.ts";
import { parseAdminValue } from "./_admin_value.ts";

export type RouteTarget =
  | { readonly kind: "as2"; readonly asn: number; readonly value: number }
  | { readonly kind: "as4"; readonly asn: number; readonly value: number }
  | { readonly kind: "ipv4"; readonly address: IpAddress; readonly value: number };

/** Parses "65000:10010", "4200000000:7" or "192.0.2.1:7"; undefined otherwise. */
export function parseRouteTarget(text: string): RouteTarget | undefined {
  return parseAdminValue(text);
}

/** Formats a route target back to text. */
export function formatRouteTarget(rt: RouteTarget): string {
  return rt.kind === "ipv4" ? `${rt.address}:${rt.value}` : `${rt.asn}:${rt.value}`;
}

/**
 * A key that tells route targets apart exactly as they travel (the kind and
 * the text): a four-octet-AS RT with a small ASN is not the two-octet one.
 */
export function routeTargetKey(rt: RouteTarget): string {
  return `${rt.kind === "as4" ? "as4:" : ""}${formatRouteTarget(rt)}`;
}

/**
 * The route target FRR derives for a VNI: `<asn>:<vni>` as a two-octet-AS
 * RT. Under a four-octet AS, FRR (bgpd's `form_auto_rt`) keeps only the low
 * 16 bits of the ASN, so `4200000001` derives `59905:<vni>`: the same here,
 * so that auto-RTs still match FRR's.
 */
export function defaultRouteTarget(asn: number, vni: number): RouteTarget {
  return { kind: "as2", asn: asn & 0xffff, value: vni };
}
