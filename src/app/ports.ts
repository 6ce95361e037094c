/**
 * Every port to the outside world, in one place: what the agent needs from
 * the kernel (links, flood entries, notifications) and from gobgpd. The
 * edges implement them (`netlink/`, `bgp/client.ts`), the dry-run
 * decorators wrap them (`dry_run.ts`), tests fake them. Pure modules state
 * their own smaller needs (`WatchSource`, `MembershipPort`, `DevicePort`,
 * the reconciler's `EntryPort`), which these ports satisfy or are
 * adapted to (`flood_entries.ts`).
 *
 * @module
 */
import type { PeerInfo } from "../bgp/client.ts";
import type { MembershipPort } from "../bgp/membership.ts";
import type { WatchSource } from "../bgp/watcher.ts";
import type { MacIpSink } from "../overlay/desired.ts";
import type { Vni } from "../overlay/vnis.ts";
import type { Target } from "../reconcile/reconciler.ts";
import type { MembershipEffects } from "./bgp_side.ts";
import type { IpAddress } from "../net/ip.ts";
import type {
  AddrEvent,
  IpNeighEvent,
  LinkEvent,
  LinkInfo,
  NeighEntry,
  NeighEvent,
  UnicastEntry,
  VxlanSpec,
} from "../netlink/types.ts";

/** Links; `Netlink.links` implements it. */
export interface LinkPort {
  listLinks(): LinkInfo[];
  getLink(name: string): LinkInfo | undefined;
  getLinkByIndex(ifindex: number): LinkInfo | undefined;
  /** The new device's ifindex; undefined when nothing was created (a dry run). */
  createVxlan(spec: VxlanSpec): number | undefined;
  deleteLink(ifindex: number, name?: string): void;
}

/** Flood entries (`00:00:00:00:00:00 dst X`); `Netlink.fdb` implements it. */
export interface FdbPort {
  listFlood(ifindex: number): string[];
  /** Every device's flood destinations in one dump, by ifindex (optional). */
  listFloodAll?(): Map<number, string[]>;
  appendFlood(ifindex: number, dst: string, name?: string): void;
  delFlood(ifindex: number, dst: string, name?: string): void;
}

/** Unicast FDB entries (`MAC dst VTEP`, marked); `Netlink.fdb` implements it. */
export interface UnicastFdbPort {
  listUnicast(ifindex: number): UnicastEntry[];
  replaceUnicast(ifindex: number, mac: string, dst: string, name?: string): void;
  delUnicast(ifindex: number, mac: string, dst: string, name?: string): void;
}

/** Permanent ARP/ND entries (marked); `Netlink.neighbours` implements it. */
export interface NeighbourPort {
  list(ifindex: number): NeighEntry[];
  replace(ifindex: number, ip: string, mac: string, name?: string): void;
  delete(ifindex: number, ip: string, name?: string): void;
}

/** Interface addresses; `Netlink.addresses` implements it. */
export interface AddressPort {
  listAddresses(): Map<number, IpAddress[]>;
}

/** Kernel notifications; `NetlinkEvents` implements it. */
export interface EventsPort {
  start(): void;
  close(): void;
}

export interface EventHandlers {
  onLink(event: LinkEvent): void;
  onNeigh(event: NeighEvent): void;
  /** ARP/ND notifications; left out when nothing needs them (community-only mode). */
  onIpNeigh?(event: IpNeighEvent): void;
  /** Address notifications; left out when nothing needs them (community-only mode). */
  onAddr?(event: AddrEvent): void;
  onOverrun(): void;
  onError(error: Error): void;
}

/** Opens the kernel notification socket (subscribed at once, delivering after `start()`). */
export type OpenEvents = (handlers: EventHandlers) => EventsPort;

/** gobgpd; `GobgpClient` implements it. */
export interface BgpPort extends WatchSource, MembershipPort {
  /** gobgpd's neighbours and their families (for the EVPN start-up check). @default not asked */
  listPeers?(): Promise<PeerInfo[]>;
  close(): void;
}

/** Everything the agent is wired to; `run()` builds it, tests fake it. */
export interface AgentDeps {
  links: LinkPort;
  fdb: FdbPort;
  /** Unicast FDB entries; needed in `mode: evpn`. @default none: no Type 2 routes are installed */
  unicast?: UnicastFdbPort;
  /** ARP/ND entries; needed in `mode: evpn`. @default none */
  neighbours?: NeighbourPort;
  /** Interface addresses, for our own Type 2 routes. @default none: MAC-only routes */
  addresses?: AddressPort;
  openEvents: OpenEvents;
  bgp: BgpPort;
  /**
   * Where received EVPN Type 2 (MAC/IP) routes go (unicast FDB and
   * neighbour entries). @default none: they are counted and skipped
   */
  macIp?: MacIpSink;
  observers?: AgentObservers;
  /** Observers of effects that happened; a dry run passes its own (none happen). */
  effects?: Effects;
  /** How the views are labelled and what they show as programmed. */
  views?: ViewOptions;
}

/** Histograms for metrics; all optional. */
export interface AgentObservers {
  /** Seconds from a route's arrival on the stream to the FDB write it caused. */
  eventToKernel?(seconds: number): void;
  /** Duration of one reconcile flush, in seconds. */
  reconcile?(seconds: number): void;
}

export interface Effects {
  /** An FDB write was made. @default count, time and log it */
  fdbWritten?(target: Target, op: "append" | "del", dst: string): void;
  /** @default count and log membership changes */
  membership?: MembershipEffects;
}

export interface ViewOptions {
  /** `/status` says "dry run". @default false */
  dryRun?: boolean;
  /** The programmed entries shown for an online VNI. @default the reconciler's view */
  programmed?(vni: Vni): readonly string[] | undefined;
  /** False: metrics do not claim to know what gobgpd holds. @default true */
  membershipKnown?: boolean;
}
