/**
 * `--dry-run`: the agent connects, watches and computes as usual, but writes
 * go nowhere. These wrappers pass reads through and turn every write into a
 * log line saying what would have been done.
 *
 * @module
 */
import type { BgpPort, LinkPort } from "./agent.ts";
import type { FdbPort } from "./reconcile/reconciler.ts";
import { decodePath, type PathMessage } from "./bgp/path_codec.ts";
import { formatCommunity } from "./net/community.ts";
import { FLOOD_MAC } from "./net/mac.ts";
import { hostPrefix } from "./net/ip.ts";
import type { VxlanSpec } from "./netlink/types.ts";
import { logger } from "./log.ts";

const log = { fdb: logger("fdb"), link: logger("link"), membership: logger("membership") };

/** Reads from `fdb`; logs appends and deletes instead of making them. */
export function dryRunFdb(fdb: FdbPort): FdbPort {
  return {
    listFlood: (ifindex) => fdb.listFlood(ifindex),
    appendFlood(ifindex, dst, name) {
      log.fdb.info("Dry run: would add flood entry {mac} dst {dst} on {device}", {
        mac: FLOOD_MAC,
        dst,
        device: name ?? `ifindex ${ifindex}`,
      });
    },
    delFlood(ifindex, dst, name) {
      log.fdb.info("Dry run: would remove flood entry {mac} dst {dst} on {device}", {
        mac: FLOOD_MAC,
        dst,
        device: name ?? `ifindex ${ifindex}`,
      });
    },
  };
}

/** Reads from `links`; logs link changes instead of making them. */
export function dryRunLinks(links: LinkPort): LinkPort {
  return {
    listLinks: () => links.listLinks(),
    getLink: (name) => links.getLink(name),
    getLinkByIndex: (ifindex) => links.getLinkByIndex(ifindex),
    createVxlan(spec: VxlanSpec) {
      log.link.info("Dry run: would create {device} (VNI {vni}, dstport {port}, nolearning)", {
        device: spec.name,
        vni: spec.vni,
        port: spec.port,
      });
      return -1;
    },
    deleteLink(ifindex, name) {
      log.link.info("Dry run: would delete {device}", { device: name ?? `ifindex ${ifindex}` });
    },
  };
}

function describe(path: PathMessage): { prefix: string; communities: string } {
  const decoded = decodePath(path);
  if (!decoded.ok) return { prefix: "?", communities: "" };
  return {
    prefix: hostPrefix(decoded.route.vtep),
    communities: decoded.route.communities.map(formatCommunity).join(" "),
  };
}

/** Watches through `bgp`; logs AddPath/DeletePath instead of sending them. */
export function dryRunBgp(bgp: BgpPort): BgpPort {
  return {
    watchBest: (handlers) => bgp.watchBest(handlers),
    addPath(path) {
      log.membership.info("Dry run: would advertise {prefix} with {communities}", describe(path));
      return Promise.resolve(new Uint8Array());
    },
    deletePath(path) {
      log.membership.info("Dry run: would withdraw {prefix}", describe(path));
      return Promise.resolve();
    },
    close: () => bgp.close(),
  };
}
