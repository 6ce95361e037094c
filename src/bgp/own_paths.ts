/**
 * Our own EVPN paths as {@linkcode OwnPath}s for the advertiser: the
 * Type 3 route of each online VNI and the Type 2 routes of its device (its
 * MAC, and its MAC with each address), and the same read back from gobgpd's
 * table (after an agent restart), with one fingerprint for both so that a
 * path of the previous run that says the same is adopted, not re-sent.
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";
import { formatRouteDistinguisher, type RouteDistinguisher } from "../net/route_distinguisher.ts";
import { type RouteTarget, routeTargetKey } from "../net/route_target.ts";
import type { ImetRoute, MacIpRoute } from "../overlay/evpn_route.ts";
import { PMSI_INGRESS_REPLICATION, TUNNEL_TYPE_VXLAN } from "../overlay/evpn_route.ts";
import type { DecodedPath } from "../overlay/route.ts";
import type { OwnPath } from "./advertiser.ts";
import { encodeImetPath, encodeMacIpPath } from "./evpn_codec.ts";

/** The Type 3 route of VNI `id` on VTEP `vtep`. */
export interface ImetPathSpec {
  id: number;
  rd: RouteDistinguisher;
  routeTargets: readonly RouteTarget[];
  vtep: IpAddress;
}

/** The key of a Type 3 NLRI, as the EVPN codec decodes it (ethernet tag 0). */
export function imetKey(rd: RouteDistinguisher, vtep: string): string {
  return `3:${formatRouteDistinguisher(rd)}:0:${vtep}`;
}

function fingerprint(
  rts: readonly RouteTarget[],
  encaps: readonly number[],
  pmsi: { type: number; label: number; id: string | undefined } | undefined,
  nextHop: string,
): string {
  const rt = [...new Set(rts.map(routeTargetKey))].sort().join(" ");
  const encap = [...new Set(encaps)].sort().join(" ");
  const tunnel = pmsi ? `${pmsi.type}/${pmsi.label}/${pmsi.id ?? "-"}` : "none";
  return `rt ${rt}; encap ${encap}; pmsi ${tunnel}; nh ${nextHop}`;
}

/** Our Type 3 path for one VNI. */
export function imetOwnPath(spec: ImetPathSpec): OwnPath {
  const path = encodeImetPath({
    rd: spec.rd,
    vtep: spec.vtep,
    vni: spec.id,
    routeTargets: spec.routeTargets,
  });
  return {
    key: imetKey(spec.rd, spec.vtep),
    fingerprint: fingerprint(
      spec.routeTargets,
      [TUNNEL_TYPE_VXLAN],
      { type: PMSI_INGRESS_REPLICATION, label: spec.id, id: spec.vtep },
      spec.vtep,
    ),
    path,
    withdrawal: path,
  };
}

/** True for a Type 3 route that this node added through gobgpd's API. */
export function isOwnImet(route: ImetRoute, local: IpAddress): boolean {
  return route.originator === local && route.neighbor === "" && !route.withdraw;
}

/**
 * Our own Type 3 paths in a complete table (added by this or an earlier
 * run of the agent on this node), as the advertiser's held state.
 */
export function heldImetPaths(decoded: readonly DecodedPath[], local: IpAddress): OwnPath[] {
  const out: OwnPath[] = [];
  for (const item of decoded) {
    if (!item.ok || !("evpn" in item) || item.evpn.type !== 3) continue;
    const route = item.evpn;
    if (!isOwnImet(route, local)) continue;
    const withdrawal = encodeImetPath({
      rd: route.rd,
      vtep: local,
      vni: route.pmsi?.label ?? 0,
      routeTargets: route.routeTargets,
    });
    out.push({
      key: imetKey(route.rd, route.originator),
      fingerprint: fingerprint(route.routeTargets, route.encapsulations, route.pmsi, route.nextHop),
      path: withdrawal,
      withdrawal,
    });
  }
  return out;
}

/** One Type 2 route of VNI `id`'s device: `ip` undefined is the MAC-only route. */
export interface MacIpPathSpec {
  id: number;
  rd: RouteDistinguisher;
  routeTargets: readonly RouteTarget[];
  vtep: IpAddress;
  mac: string;
  ip: IpAddress | undefined;
}

/** The key of a Type 2 NLRI, as the EVPN codec decodes it (ethernet tag 0). */
export function macIpKey(rd: RouteDistinguisher, mac: string, ip: string | undefined): string {
  return `2:${formatRouteDistinguisher(rd)}:0:${mac}:${ip ?? ""}`;
}

function macIpFingerprint(
  rts: readonly RouteTarget[],
  encaps: readonly number[],
  labels: readonly number[],
  nextHop: string,
): string {
  const rt = [...new Set(rts.map(routeTargetKey))].sort().join(" ");
  const encap = [...new Set(encaps)].sort().join(" ");
  return `rt ${rt}; encap ${encap}; label ${labels.join(",")}; nh ${nextHop}`;
}

/** Our Type 2 path for one MAC (and IP): ESI 0, ethernet tag 0, label = VNI. */
export function macIpOwnPath(spec: MacIpPathSpec): OwnPath {
  const path = encodeMacIpPath({
    rd: spec.rd,
    vtep: spec.vtep,
    vni: spec.id,
    mac: spec.mac,
    ip: spec.ip,
    routeTargets: spec.routeTargets,
  });
  return {
    key: macIpKey(spec.rd, spec.mac, spec.ip),
    fingerprint: macIpFingerprint(spec.routeTargets, [TUNNEL_TYPE_VXLAN], [spec.id], spec.vtep),
    path,
    withdrawal: path,
  };
}

/** True for a Type 2 route that this node added through gobgpd's API. */
export function isOwnMacIp(route: MacIpRoute, local: IpAddress): boolean {
  return route.nextHop === local && route.neighbor === "" && !route.withdraw;
}

/**
 * Our own Type 2 paths in a complete table (of this or an earlier run: an
 * old MAC's routes among them), as the advertiser's held state.
 */
export function heldMacIpPaths(decoded: readonly DecodedPath[], local: IpAddress): OwnPath[] {
  const out: OwnPath[] = [];
  for (const item of decoded) {
    if (!item.ok || !("evpn" in item) || item.evpn.type !== 2) continue;
    const route = item.evpn;
    if (!isOwnMacIp(route, local)) continue;
    const withdrawal = encodeMacIpPath({
      rd: route.rd,
      vtep: local,
      vni: route.labels[0] ?? 0,
      mac: route.mac,
      ip: route.ip,
      routeTargets: route.routeTargets,
    });
    out.push({
      key: macIpKey(route.rd, route.mac, route.ip),
      fingerprint: macIpFingerprint(
        route.routeTargets,
        route.encapsulations,
        route.labels,
        route.nextHop,
      ),
      path: withdrawal,
      withdrawal,
    });
  }
  return out;
}
