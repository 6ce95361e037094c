/**
 * The one entry point from a gobgpd path to a decoded route: every family
 * arrives on the WatchEvent stream, and each goes to its codec (IPv4
 * unicast: the community membership codec; L2VPN EVPN: the EVPN codec);
 * any other family is a `family` skip.
 *
 * @module
 */
import type { DecodedPath } from "../overlay/route.ts";
import { decodeEvpnPath, isEvpnFamily } from "./evpn_codec.ts";
import { decodePath, type PathMessage } from "./path_codec.ts";

/** Decodes a path of any family; never throws. */
export function decodeAnyPath(path: PathMessage): DecodedPath {
  return isEvpnFamily(path.family) ? decodeEvpnPath(path) : decodePath(path);
}
