/**
 * `--dry-run` as decorators: the agent connects, watches and computes as
 * usual, but the kernel and BGP ports it is given pass reads through and
 * turn every write into a log line saying what would have been done. The
 * core never learns that it runs dry; the composition root wraps the ports,
 * observes no effects (none happen), and shows the kernel as it is.
 *
 * @module
 */
import { decodeAnyPath } from "../bgp/codec.ts";
import type { PathMessage } from "../bgp/path_codec.ts";
import { formatRouteTarget } from "../net/route_target.ts";
import { logger } from "../log.ts";
import { formatCommunity } from "../net/community.ts";
import { hostPrefix } from "../net/ip.ts";
import { FLOOD_MAC } from "../net/mac.ts";
import type { VxlanSpec } from "../netlink/types.ts";
import type { Vni } from "../overlay/vnis.ts";
import type {
  AgentDeps,
  BgpPort,
  Effects,
  FdbPort,
  LinkPort,
  NeighbourPort,
  OpenEvents,
  UnicastFdbPort,
  ViewOptions,
} from "./ports.ts";

const log = { fdb: logger("fdb"), link: logger("link"), membership: logger("membership") };

/**
 * Reads from `fdb`; logs appends and deletes instead of making them. Keeps
 * the kernel's flood lists as last listed and notified (`kernelView`), for
 * the status views: nothing was written, so that is what is programmed.
 */
export class DryRunFdb implements FdbPort {
  #fdb: FdbPort;
  #kernel = new Map<number, Set<string>>();

  constructor(fdb: FdbPort) {
    this.#fdb = fdb;
  }

  listFlood(ifindex: number): string[] {
    const list = this.#fdb.listFlood(ifindex);
    this.#kernel.set(ifindex, new Set(list));
    return list;
  }

  appendFlood(ifindex: number, dst: string, name?: string): void {
    log.fdb.info("Dry run: would add flood entry {mac} dst {dst} on {device}", {
      mac: FLOOD_MAC,
      dst,
      device: name ?? `ifindex ${ifindex}`,
    });
  }

  delFlood(ifindex: number, dst: string, name?: string): void {
    log.fdb.info("Dry run: would remove flood entry {mac} dst {dst} on {device}", {
      mac: FLOOD_MAC,
      dst,
      device: name ?? `ifindex ${ifindex}`,
    });
  }

  /** A flood entry notification (someone else changed the kernel). */
  observe(ifindex: number, dst: string, present: boolean): void {
    const set = this.#kernel.get(ifindex);
    if (present) set?.add(dst);
    else set?.delete(dst);
  }

  /** The device's flood list as the kernel has it, from memory. */
  kernelView(ifindex: number): string[] {
    return [...(this.#kernel.get(ifindex) ?? [])];
  }
}

/** Reads from `links`; logs link changes instead of making them. Creates nothing. */
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
      return undefined; // no device exists: nothing to look up, nothing to delete later
    },
    deleteLink(ifindex, name) {
      log.link.info("Dry run: would delete {device}", { device: name ?? `ifindex ${ifindex}` });
    },
  };
}

/** Reads unicast FDB entries from `fdb`; logs replaces and deletes instead of making them. */
export function dryRunUnicast(fdb: UnicastFdbPort): UnicastFdbPort {
  return {
    listUnicast: (ifindex) => fdb.listUnicast(ifindex),
    replaceUnicast(ifindex, mac, dst, name) {
      log.fdb.info("Dry run: would set FDB entry {mac} dst {dst} on {device}", {
        mac,
        dst,
        device: name ?? `ifindex ${ifindex}`,
      });
    },
    delUnicast(ifindex, mac, dst, name) {
      log.fdb.info("Dry run: would remove FDB entry {mac} dst {dst} on {device}", {
        mac,
        dst,
        device: name ?? `ifindex ${ifindex}`,
      });
    },
  };
}

/** Reads neighbours from `neighbours`; logs replaces and deletes instead of making them. */
export function dryRunNeighbours(neighbours: NeighbourPort): NeighbourPort {
  return {
    list: (ifindex) => neighbours.list(ifindex),
    replace(ifindex, ip, mac, name) {
      log.fdb.info("Dry run: would set neighbour {ip} lladdr {mac} on {device}", {
        ip,
        mac,
        device: name ?? `ifindex ${ifindex}`,
      });
    },
    delete(ifindex, ip, name) {
      log.fdb.info("Dry run: would remove neighbour {ip} on {device}", {
        ip,
        device: name ?? `ifindex ${ifindex}`,
      });
    },
  };
}

/** Notifications as they are; flood entries also go to `fdb`'s kernel view. */
export function dryRunEvents(open: OpenEvents, fdb: DryRunFdb): OpenEvents {
  return (handlers) =>
    open({
      ...handlers,
      onNeigh(event) {
        if (event.mac === FLOOD_MAC && event.dst !== undefined) {
          fdb.observe(event.ifindex, event.dst, event.type === "new");
        }
        handlers.onNeigh(event);
      },
    });
}

function describe(path: PathMessage): { prefix: string; communities: string } {
  const decoded = decodeAnyPath(path);
  if (!decoded.ok) return { prefix: "?", communities: "" };
  if ("evpn" in decoded) {
    return {
      prefix: `EVPN route ${decoded.evpn.key}`,
      communities: `route targets ${decoded.evpn.routeTargets.map(formatRouteTarget).join(" ")}`,
    };
  }
  return {
    prefix: hostPrefix(decoded.route.vtep),
    communities: decoded.route.communities.map(formatCommunity).join(" "),
  };
}

/** Watches through `bgp`; logs AddPath/DeletePath instead of sending them. */
export function dryRunBgp(bgp: BgpPort): BgpPort {
  return {
    watchBest: (handlers) => bgp.watchBest(handlers),
    ...(bgp.listPeers ? { listPeers: bgp.listPeers.bind(bgp) } : {}),
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

/** No effect happens in a dry run: none is counted or logged (the decorators logged it). */
export const DRY_RUN_EFFECTS: Effects = {
  fdbWritten: () => {},
  membership: { applied: () => {}, withdrawnAtStop: () => {} },
};

/** The views of a dry run: labelled, showing the kernel as it is. */
export function dryRunViews(fdb: DryRunFdb): ViewOptions {
  return {
    dryRun: true,
    programmed: (vni: Vni) => vni.ifindex === undefined ? undefined : fdb.kernelView(vni.ifindex),
    membershipKnown: false,
  };
}

/** The same edges, reading as usual and writing nothing (`--dry-run`). */
export function dryRunEdges(edges: AgentDeps): AgentDeps {
  const fdb = new DryRunFdb(edges.fdb);
  return {
    ...edges,
    links: dryRunLinks(edges.links),
    fdb,
    ...(edges.unicast ? { unicast: dryRunUnicast(edges.unicast) } : {}),
    ...(edges.neighbours ? { neighbours: dryRunNeighbours(edges.neighbours) } : {}),
    bgp: dryRunBgp(edges.bgp),
    openEvents: dryRunEvents(edges.openEvents, fdb),
    effects: DRY_RUN_EFFECTS,
    views: dryRunViews(fdb),
  };
}
