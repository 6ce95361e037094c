/**
 * Route targets (RFC 4360 extended communities, as EVPN uses them, RFC
 * 7432): `ASN:VALUE` with a 2-byte ASN and 4-byte value, a 4-byte ASN and
 * 2-byte value, or `IPv4:VALUE` with a 2-byte value.
 *
 * @module
 */
import { type IpAddress, parseIpv4 } from "./ip.ts";

export type RouteTarget =
  | { readonly kind: "as2"; readonly asn: number; readonly value: number }
  | { readonly kind: "as4"; readonly asn: number; readonly value: number }
  | { readonly kind: "ipv4"; readonly address: IpAddress; readonly value: number };

const U16 = 0xffff;
const U32 = 0xffffffff;

/** Parses "65000:10010", "4200000000:7" or "192.0.2.1:7"; undefined otherwise. */
export function parseRouteTarget(text: string): RouteTarget | undefined {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return undefined;
  const head = text.slice(0, colon);
  const tail = text.slice(colon + 1);
  if (!/^\d{1,10}$/.test(tail)) return undefined;
  const value = Number(tail);
  const address = parseIpv4(head);
  if (address !== undefined) return value <= U16 ? { kind: "ipv4", address, value } : undefined;
  if (!/^\d{1,10}$/.test(head)) return undefined;
  const asn = Number(head);
  if (asn <= U16 && value <= U32) return { kind: "as2", asn, value };
  if (asn <= U32 && value <= U16) return { kind: "as4", asn, value };
  return undefined;
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

/** The route target FRR derives for a VNI under a two-octet AS: `<asn>:<vni>`. */
export function defaultRouteTarget(asn: number, vni: number): RouteTarget {
  return { kind: "as2", asn, value: vni };
}
