/**
 * The views operators read (`/status`, `/healthz`, `/metrics`,
 * `evpn-agent status`): plain data types, and the read-only source the
 * HTTP endpoint and metrics are built from. `http/` and `cli/` import these,
 * never the agent itself.
 *
 * @module
 */
import type { Community } from "../net/community.ts";
import type { EvpnRouteType } from "../overlay/evpn_route.ts";
import type { SkipReason } from "../overlay/route.ts";

/**
 * What started a full resync (links and every device's flood entries read
 * again): the periodic `resyncInterval`, lost kernel notifications (socket
 * overrun), or a failed notification socket. Metric label values.
 */
export type ResyncTrigger = "interval" | "netlink_overrun" | "netlink_error";

export const RESYNC_TRIGGERS: readonly ResyncTrigger[] = [
  "interval",
  "netlink_overrun",
  "netlink_error",
];

/** The gobgpd API calls the agent makes, as metric label values. */
export type GobgpRpc = "add_path" | "delete_path" | "watch_event";

export const GOBGP_RPCS: readonly GobgpRpc[] = ["add_path", "delete_path", "watch_event"];

/** Counters for `/metrics`. */
export interface AgentStats {
  routeEvents: { add: number; withdraw: number };
  skipped: Record<SkipReason, number>;
  /** EVPN paths received (taken or skipped), by route type. */
  evpnRoutes: Record<EvpnRouteType, number>;
  /** Our Type 3 route changes (adds and withdrawals) accepted by gobgpd. */
  type3Updates: number;
  fdbWrites: { append: number; del: number };
  fdbErrors: { append: number; del: number };
  membershipUpdates: number;
  streamDowns: number;
  /** Full resyncs, by what started them. */
  resyncs: Record<ResyncTrigger, number>;
  /**
   * gobgpd API calls that failed with a gRPC error, by RPC. For WatchEvent: a
   * stream that ended with one (a subset of `streamDowns`, which also counts
   * a server close and no initial table in time).
   */
  gobgpErrors: Record<GobgpRpc, number>;
  /** Times the kernel reported lost notifications (netlink socket overrun, ENOBUFS). */
  netlinkOverruns: number;
}

/** Desired (from BGP) against programmed (in the kernel) for one entry kind of a VNI. */
export interface EntriesStatus {
  desired: string[];
  programmed: string[];
  /** Desired but not programmed. */
  missing: string[];
  /** Programmed but not desired. */
  extra: string[];
  /**
   * MACs (FDB) or IPs (neighbours) that a user's own entry holds: left alone,
   * and left out of `desired`.
   */
  userHeld: number;
}

/** A VNI's EVPN Type 2 side (`mode: evpn`). */
export interface MacIpStatus {
  /** Our own Type 2 routes for the device: `MAC` (MAC-only) or `MAC IP`. */
  ownRoutes: string[];
  /** Unicast FDB entries `MAC VTEP` (`MAC dst VTEP self extern_learn permanent`). */
  remoteMacs: EntriesStatus;
  /** Neighbour entries `IP MAC` (`IP lladdr MAC extern_learn PERMANENT`). */
  neighbours: EntriesStatus;
}

/** Per-VNI state for `/status` and `evpn-agent status`. */
export interface VniStatus {
  vni: number;
  community: string;
  device: string;
  ifindex: number | null;
  online: boolean;
  /** The device's own local address (IFLA_VXLAN_LOCAL), when it has one. */
  localAddress: string | null;
  desired: string[];
  programmed: string[];
  /** Desired but not programmed. */
  missing: string[];
  /** Programmed but not desired. */
  extra: string[];
  /**
   * Remote VTEPs of the other address family carrying this VNI's community:
   * never programmed (skip reason `family_mismatch`).
   */
  familyMismatch: string[];
  lastError: { message: string; at: string } | null;
  /** Each desired remote VTEP with the route kinds that bring it (`community`, `evpn-type3`). */
  remoteVteps?: { vtep: string; via: string[] }[];
  /** EVPN mode: the VNI's RD and route targets, and our own Type 3 route. */
  evpn?: VniEvpnStatus;
  /** The EVPN Type 2 side; absent in community-only mode. */
  macIp?: MacIpStatus;
}

/** One VNI's EVPN side. */
export interface VniEvpnStatus {
  rd: string | null;
  routeTargets: string[];
  /**
   * Our Type 3 route while the VNI is online: its NLRI as `gobgp` prints it
   * and whether gobgpd holds it (`advertised`), not yet (`pending`), or that
   * is not known yet (`unknown`, before gobgpd's first table).
   */
  type3: { route: string; state: "advertised" | "pending" | "unknown" } | null;
}

export interface AgentStatus {
  version: string;
  dryRun: boolean;
  ready: boolean;
  node: {
    localAddress: string;
    /** The underlay's address family (`node.addressFamily`). */
    addressFamily: "ipv4" | "ipv6";
    mode: "static" | "discover";
    /** The route kinds advertised and read (`mode` in the file). @default ["community"] */
    routes?: ("community" | "evpn")[];
  };
  bgp: {
    address: string;
    stream: string;
    reconnects: number;
    remoteVteps: number;
    membership: { enabled: boolean; prefix: string; communities: string[] | null };
  };
  lastSync: string | null;
  vnis: VniStatus[];
}

/** Liveness of the agent's loops. */
export interface Health {
  ok: boolean;
  loops: Record<string, { ok: boolean; detail: string }>;
}

/** What `/metrics` reads on a scrape; the agent implements it. */
export interface MetricsSource {
  readonly stats: AgentStats;
  /** Number of VNIs whose device exists. */
  readonly vnisOnline: number;
  readonly watchState: string;
  /** The communities gobgpd holds for this node, if known. */
  readonly advertised: readonly Community[] | undefined;
  /** Our EVPN Type 3 routes gobgpd holds, if known (EVPN mode). @default not reported */
  readonly type3Advertised?: number | undefined;
  readonly lastSync: Date | undefined;
  readonly ready: boolean;
  status(): AgentStatus;
}
