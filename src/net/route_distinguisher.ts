/**
 * Route distinguishers (RFC 4364 section 4.2, as EVPN uses them, RFC 7432):
 * type 0 `ASN:N` (2-byte ASN, 4-byte N), type 1 `IPv4:N` (2-byte N), type 2
 * `ASN:N` (4-byte ASN, 2-byte N). Text as FRR and `gobgp` print them.
 *
 * @module
 */
import type { IpAddress } from "./ip.ts";
import { parseAdminValue } from "./_admin_value.ts";

export type RouteDistinguisher =
  | { readonly kind: "as2"; readonly admin: number; readonly assigned: number }
  | { readonly kind: "ipv4"; readonly admin: IpAddress; readonly assigned: number }
  | { readonly kind: "as4"; readonly admin: number; readonly assigned: number };

/**
 * Parses "65000:7" (type 0), "192.0.2.11:7" (type 1) or "4200000000:7"
 * (type 2); undefined otherwise. An ASN up to 65535 is type 0 (its number
 * holds 32 bits); above, type 2 (its number holds 16 bits).
 */
export function parseRouteDistinguisher(text: string): RouteDistinguisher | undefined {
  const parsed = parseAdminValue(text);
  if (parsed === undefined) return undefined;
  return parsed.kind === "ipv4"
    ? { kind: "ipv4", admin: parsed.address, assigned: parsed.value }
    : { kind: parsed.kind, admin: parsed.asn, assigned: parsed.value };
}

/** Formats a route distinguisher back to text ("192.0.2.11:10010"). */
export function formatRouteDistinguisher(rd: RouteDistinguisher): string {
  return `${rd.admin}:${rd.assigned}`;
}

/**
 * The number of the default type 1 RD `<localAddress>:<n>` of a VNI: the VNI
 * itself when it fits into 16 bits, else the VNI modulo 65536. It depends on
 * nothing but the VNI, so it is the same after every restart and on every
 * reading of the configuration; two VNIs 65536 apart collide, which the
 * configuration refuses (set `rd` on one of them).
 */
export function defaultRdNumber(vni: number): number {
  return vni & 0xffff;
}

/** The default RD of a VNI on the VTEP `local`: type 1 `<local>:<defaultRdNumber(vni)>`. */
export function defaultRouteDistinguisher(local: IpAddress, vni: number): RouteDistinguisher {
  return { kind: "ipv4", admin: local, assigned: defaultRdNumber(vni) };
}
