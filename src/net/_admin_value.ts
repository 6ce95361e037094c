/**
 * The `ADMIN:NUMBER` text that route targets and route distinguishers share
 * (RFC 4360, RFC 4364): a 2-byte ASN with a 4-byte number, an IPv4 address
 * with a 2-byte number, or a 4-byte ASN with a 2-byte number.
 *
 * @module
 */
import { type IpAddress, parseIpv4 } from "./ip.ts";

export type AdminValue =
  | { kind: "as2"; asn: number; value: number }
  | { kind: "ipv4"; address: IpAddress; value: number }
  | { kind: "as4"; asn: number; value: number };

const U16 = 0xffff;
const U32 = 0xffffffff;

/** Parses "65000:7", "192.0.2.1:7" or "4200000000:7"; undefined when out of range or malformed. */
export function parseAdminValue(text: string): AdminValue | undefined {
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
