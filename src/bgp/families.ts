/**
 * Whether gobgpd's neighbours can carry the family of this node's
 * membership route: an IPv6 underlay needs `afi-safi-name = "ipv6-unicast"`
 * on gobgpd's neighbours (and on the route reflector's), else the /128
 * paths never leave the node and no remote VTEP is learnt. Pure.
 *
 * @module
 */

/** One neighbour as `ListPeer` reports it (the client's `PeerInfo` fits): its configured families. */
export interface PeerFamilies {
  address: string;
  families: { afi: number; safi: number }[];
}

/** GoBGP's `afi-safi-name` of a unicast family. */
export function afiSafiName(family: { afi: number; safi: number }): string {
  const afi = family.afi === 1 ? "ipv4" : family.afi === 2 ? "ipv6" : `afi${family.afi}`;
  const safi = family.safi === 1 ? "unicast" : `safi${family.safi}`;
  return `${afi}-${safi}`;
}

/**
 * The warning to log when gobgpd has neighbours and none is configured for
 * `family`; undefined when one is, or when gobgpd has no neighbour yet
 * (a route reflector with dynamic neighbours lists them only once
 * connected).
 */
export function missingFamilyWarning(
  peers: readonly PeerFamilies[],
  family: { afi: number; safi: number },
): string | undefined {
  if (peers.length === 0) return undefined;
  const has = (p: PeerFamilies) =>
    p.families.some((f) => f.afi === family.afi && f.safi === family.safi);
  if (peers.some(has)) return undefined;
  const name = afiSafiName(family);
  const list = peers.map((p) =>
    `${p.address} (${p.families.map(afiSafiName).join(", ") || "no family"})`
  ).join(", ");
  return `No BGP neighbour of gobgpd carries ${name}, the family of this node's membership ` +
    `route: ${list}. Add afi-safi-name = "${name}" to gobgpd's neighbours (and the route ` +
    `reflector's), or no remote VTEP will learn this node and it will learn none`;
}
