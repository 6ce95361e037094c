/**
 * The benchmark's address plan and the routes it writes. Pure.
 *
 * - VNIs `10001..10000+M`, community `65000:<VNI>`, device `vxlan<VNI>`;
 * - steady remote VTEPs: 198.18.0.1 onwards (K ≤ 60,000);
 * - churn VTEPs: 198.19.0.1 onwards (≤ 40,000);
 * - latency probes: 198.19.192.1 onwards (≤ 16,000).
 *
 * Every address sits in 198.18.0.0/15 and only ever appears in BGP paths
 * and FDB entries inside the benchmark's namespaces; no packet is sent to it.
 * Paths are encoded with the project's own codec: a remote VTEP announces
 * exactly what the agent's membership path carries (IPv4 /32, ORIGIN IGP,
 * NEXT_HOP = the VTEP, one community per VNI).
 *
 * @module
 */
import {
  encodeMembershipKey,
  encodeMembershipPath,
  type PathMessage,
} from "../src/bgp/path_codec.ts";
import { encodeImetPath } from "../src/bgp/evpn_codec.ts";
import type { IpAddress } from "../src/net/ip.ts";
import { makeCommunity } from "../src/net/community.ts";
import { FLOOD_MAC } from "../src/net/mac.ts";

/** The ASN of every VNI community (`communityAsn` in the agent's config). */
export const COMMUNITY_ASN = 65000;
const FIRST_VNI = 10001;

const STEADY_BASE = ipToInt("198.18.0.1");
const CHURN_BASE = ipToInt("198.19.0.1");
const PROBE_BASE = ipToInt("198.19.192.1");
const STEADY_MAX = 60_000;
const CHURN_MAX = 40_000;
const PROBE_MAX = 16_000;

function ipToInt(text: string): number {
  return text.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** Dotted quad of a 32-bit value. */
export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join(".");
}

function pick(base: number, max: number, i: number, what: string): string {
  if (!Number.isInteger(i) || i < 0 || i >= max) {
    throw new RangeError(`No ${what} address for index ${i}: the plan has ${max}`);
  }
  return intToIp(base + i);
}

/** The i-th steady remote VTEP (0-based). */
export function steadyVtep(i: number): string {
  return pick(STEADY_BASE, STEADY_MAX, i, "steady VTEP");
}

/** The i-th churn VTEP (0-based). */
export function churnVtep(i: number): string {
  return pick(CHURN_BASE, CHURN_MAX, i, "churn VTEP");
}

/** The i-th latency probe VTEP (0-based). */
export function probeVtep(i: number): string {
  return pick(PROBE_BASE, PROBE_MAX, i, "probe VTEP");
}

/** The first `m` VNIs of the plan. */
export function vniList(m: number): number[] {
  if (!Number.isInteger(m) || m < 1 || m > 1000) throw new RangeError(`Cannot plan ${m} VNIs`);
  return Array.from({ length: m }, (_, i) => FIRST_VNI + i);
}

/** `vxlan<VNI>`, the device discovery mode maps to community 65000:<VNI>. */
export function deviceName(vni: number): string {
  return `vxlan${vni}`;
}

/** The community `65000:<vni>` as a 32-bit value. */
export function vniCommunity(vni: number): number {
  return makeCommunity(COMMUNITY_ASN, vni);
}

/** A remote VTEP's path: `<vtep>/32` with one community per VNI. */
export function vtepPath(vtep: string, vnis: readonly number[]): PathMessage {
  return encodeMembershipPath({ address: vtep, communities: vnis.map(vniCommunity) });
}

/** The EVPN Type 3 route of `vtep` for `vni`, as FRR would send it (RT `65000:<VNI>`). */
export function imetPath(vtep: string, vni: number): PathMessage {
  const address = vtep as IpAddress;
  return encodeImetPath({
    rd: { kind: "ipv4", admin: address, assigned: vni & 0xffff },
    vtep: address,
    vni,
    routeTargets: [{ kind: "as2", asn: COMMUNITY_ASN, value: vni }],
  });
}

/** The withdrawal of `<vtep>/32`. */
export function withdrawPath(vtep: string): PathMessage {
  return encodeMembershipKey(vtep);
}

/** Expected flood lists: device name → set of remote VTEPs. */
export type FloodState = Map<string, Set<string>>;

/** The flood lists that K steady VTEPs, each a member of every VNI, produce. */
export function steadyState(vnis: readonly number[], k: number): FloodState {
  const vteps = Array.from({ length: k }, (_, i) => steadyVtep(i));
  return new Map(vnis.map((vni) => [deviceName(vni), new Set(vteps)]));
}

/** Number of entries in a flood state. */
export function entryCount(state: FloodState): number {
  let n = 0;
  for (const set of state.values()) n += set.size;
  return n;
}

/**
 * A `bridge -batch` script that appends every entry of `state`, as
 * `bridge fdb append 00:00:00:00:00:00 dev D dst X self permanent` would.
 */
export function bridgeBatch(state: FloodState): string {
  const lines: string[] = [];
  for (const [device, dsts] of state) {
    for (const dst of dsts) {
      lines.push(`fdb append ${FLOOD_MAC} dev ${device} dst ${dst} self permanent`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * An `ip -batch` script that creates the VXLAN devices the way
 * `Topology.addVxlan` does (`local <address> dev eth0 dstport 4789
 * nolearning`, then up), many at once.
 */
export function createDevicesBatch(vnis: readonly number[], local: string, port: number): string {
  return vnis.map((vni) =>
    `link add ${deviceName(vni)} up type vxlan id ${vni} local ${local} dev eth0 ` +
    `dstport ${port} nolearning`
  ).join("\n") + "\n";
}

/** An `ip -batch` script that deletes the devices. */
export function deleteDevicesBatch(vnis: readonly number[]): string {
  return vnis.map((vni) => `link del ${deviceName(vni)}`).join("\n") + "\n";
}
