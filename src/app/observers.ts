/**
 * What watches the pipeline without steering it: counters for `/metrics`,
 * the route-to-kernel latency, and the FDB write log. The composition root
 * attaches them; a dry run leaves the write observers out, since nothing is
 * written.
 *
 * @module
 */
import type { ResolvedConfig } from "../config/types.ts";
import { FLOOD_MAC } from "../net/mac.ts";
import { logger } from "../log.ts";
import { EVPN_ROUTE_TYPES, type EvpnRouteType } from "../overlay/evpn_route.ts";
import { SKIP_REASONS, type SkipReason } from "../overlay/route.ts";
import type { Target, WriteOp } from "../reconcile/reconciler.ts";
import {
  type AgentStats,
  GOBGP_RPCS,
  type GobgpRpc,
  RESYNC_TRIGGERS,
  type ResyncTrigger,
} from "../status/types.ts";
import type { BgpPort } from "./ports.ts";
import { loggedImetEffects, loggedMembershipEffects, type MembershipEffects } from "./bgp_side.ts";

const log = {
  agent: logger("agent"),
  bgp: logger("bgp"),
  fdb: logger("fdb"),
  link: logger("link"),
};

/** Fresh counters, all zero. */
export function newStats(): AgentStats {
  return {
    routeEvents: { add: 0, withdraw: 0 },
    skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>,
    evpnRoutes: Object.fromEntries(EVPN_ROUTE_TYPES.map((t) => [t, 0])) as Record<
      EvpnRouteType,
      number
    >,
    type3Updates: 0,
    fdbWrites: { append: 0, del: 0 },
    fdbErrors: { append: 0, del: 0 },
    membershipUpdates: 0,
    streamDowns: 0,
    resyncs: Object.fromEntries(RESYNC_TRIGGERS.map((t) => [t, 0])) as Record<
      ResyncTrigger,
      number
    >,
    netlinkOverruns: 0,
    gobgpErrors: Object.fromEntries(GOBGP_RPCS.map((r) => [r, 0])) as Record<GobgpRpc, number>,
  };
}

/** `bgp` with every failed gobgpd API call counted in `stats.gobgpErrors` by RPC. */
export function countedBgp(bgp: BgpPort, stats: AgentStats): BgpPort {
  const counted = <T>(rpc: GobgpRpc, call: Promise<T>): Promise<T> =>
    call.catch((error: unknown) => {
      if (isGrpcError(error)) stats.gobgpErrors[rpc]++;
      throw error;
    });
  return {
    addPath: (path) => counted("add_path", bgp.addPath(path)),
    deletePath: (path) => counted("delete_path", bgp.deletePath(path)),
    ...(bgp.listPeers ? { listPeers: bgp.listPeers.bind(bgp) } : {}),
    watchBest: (handlers) =>
      bgp.watchBest({
        ...handlers,
        onEnd: (error) => {
          if (isGrpcError(error)) stats.gobgpErrors.watch_event++;
          handlers.onEnd(error);
        },
      }),
    close: () => bgp.close(),
  };
}

/** A gRPC status error (grpc-js `ServiceError`: a numeric `code`), not a local refusal. */
function isGrpcError(error: unknown): boolean {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "number";
}

/**
 * Counts skipped paths and logs why at debug level; a `family_mismatch` (a
 * fabric mixing IPv4 and IPv6 VTEPs in one VNI, a configuration error) is
 * logged at warning level the first time each path is seen (up to 1,024).
 */
export function skipNotes(stats: AgentStats): (reason: SkipReason, detail: string) => void {
  const warned = new Set<string>();
  return (reason, detail) => {
    stats.skipped[reason]++;
    if (reason === "family_mismatch" && !warned.has(detail) && warned.size < 1_024) {
      warned.add(detail);
      log.bgp.warning("Skipped path ({reason}): {detail}", { reason, detail });
      return;
    }
    log.bgp.debug("Skipped path ({reason}): {detail}", { reason, detail });
  };
}

/** FDB writes and failures: counted, timed from the route change, logged per pass. */
export class FdbObservers {
  #stats: AgentStats;
  #eventToKernel: ((seconds: number) => void) | undefined;
  #latency = new Latency();
  #log = new WriteLog();
  #lastErrors = new Map<number, { message: string; at: string }>();

  constructor(stats: AgentStats, eventToKernel?: (seconds: number) => void) {
    this.#stats = stats;
    this.#eventToKernel = eventToKernel;
  }

  /** A route change for `vtep` arrived that changes an online VNI. */
  arrived(vtep: string): void {
    this.#latency.arrived(vtep);
  }

  written(target: Target, op: WriteOp, dst: string): void {
    this.#stats.fdbWrites[op]++;
    const seconds = this.#latency.written(dst);
    if (seconds !== undefined) this.#eventToKernel?.(seconds);
    this.#log.note(target.device, target.vni, op, dst);
  }

  failed(target: Target, op: WriteOp, dst: string, error: unknown): void {
    this.#stats.fdbErrors[op]++;
    const message = error instanceof Error ? error.message : String(error);
    this.#lastErrors.set(target.vni, { message, at: new Date().toISOString() });
    log.fdb.error("{error}; will retry", { error: message, op, dst, device: target.device });
  }

  /** A reconcile pass ended; `synced`: every VNI is in sync. */
  flushed(synced: boolean): void {
    this.#log.emit();
    if (synced) this.#latency.clear();
  }

  /** The last write error on `vni`'s device, if any. */
  lastError(vni: number): { message: string; at: string } | null {
    return this.#lastErrors.get(vni) ?? null;
  }
}

/** When a route change for a VTEP arrived, until the write it causes. */
class Latency {
  #since = new Map<string, number>();

  /** A change of `vtep` arrived (the first one counts until it is written). */
  arrived(vtep: string): void {
    if (!this.#since.has(vtep)) this.#since.set(vtep, performance.now());
  }

  /** Seconds since the change of `dst` arrived, once; undefined when none is pending. */
  written(dst: string): number | undefined {
    const since = this.#since.get(dst);
    if (since === undefined) return undefined;
    this.#since.delete(dst);
    return (performance.now() - since) / 1000;
  }

  clear(): void {
    this.#since.clear();
  }
}

/**
 * FDB write log lines, gathered per reconcile pass: up to `PER_ENTRY` writes
 * of one kind on one device are logged one line each at info; more (a cold
 * start, a peer with many VNIs) become one summary line at info, with every
 * entry at debug. Keeps the story readable and a 100,000-entry start cheap.
 */
class WriteLog {
  static readonly PER_ENTRY = 8;
  #pending = new Map<
    string,
    { device: string; vni: number; op: "append" | "del"; dsts: string[] }
  >();

  note(device: string, vni: number, op: "append" | "del", dst: string): void {
    const key = `${op} ${device}`;
    let item = this.#pending.get(key);
    if (!item) this.#pending.set(key, item = { device, vni, op, dsts: [] });
    item.dsts.push(dst);
  }

  emit(): void {
    for (const { device, vni, op, dsts } of this.#pending.values()) {
      const verb = op === "append" ? "Added" : "Removed";
      if (dsts.length <= WriteLog.PER_ENTRY) {
        for (const dst of dsts) entryLine("info", verb, dst, device, vni);
        continue;
      }
      log.fdb.info(
        `${verb} {count} flood entries on {device} (first: {first}; each at debug level)`,
        {
          count: dsts.length,
          device,
          vni,
          first: dsts.slice(0, 3).join(", "),
        },
      );
      if (log.fdb.isEnabledFor("debug")) {
        for (const dst of dsts) entryLine("debug", verb, dst, device, vni);
      }
    }
    this.#pending.clear();
  }
}

/** One FDB write's log line. */
function entryLine(
  level: "info" | "debug",
  verb: string,
  dst: string,
  device: string,
  vni: number,
): void {
  log.fdb[level](`${verb} flood entry {mac} dst {dst} on {device}`, {
    mac: FLOOD_MAC,
    dst,
    device,
    vni,
  });
}

/** Membership changes counted for metrics and logged. */
export function countedMembership(stats: AgentStats, prefix: string): MembershipEffects {
  const logged = loggedMembershipEffects(prefix);
  return {
    applied: (communities) => {
      stats.membershipUpdates++;
      logged.applied(communities);
    },
    withdrawnAtStop: logged.withdrawnAtStop,
    imetApplied: (op, path) => {
      stats.type3Updates++;
      loggedImetEffects.imetApplied(op, path);
    },
    imetWithdrawnAtStop: loggedImetEffects.imetWithdrawnAtStop,
  };
}

/** The start line: the VTEP, gobgpd and the mode; a warning for a setting that does nothing. */
export function logStart(cfg: ResolvedConfig): void {
  const routes = [
    ...(cfg.mode.community ? ["community"] : []),
    ...(cfg.mode.evpn ? ["evpn"] : []),
  ].join(" + ");
  log.agent.info("Starting: VTEP {address}, gobgpd {gobgp}, {routes} routes, {mode}", {
    address: cfg.node.localAddress,
    gobgp: cfg.gobgp.address,
    routes,
    mode: cfg.vnis.length > 0
      ? `static VNIs ${cfg.vnis.map((v) => v.id).join(", ")}`
      : `discovering vxlan devices with communities ${
        cfg.communityFormat === "large"
          ? `${cfg.communityAsn}:0:<VNI>`
          : `${cfg.communityAsn}:<VNI> (${cfg.communityAsn}:0:<VNI> above 65535)`
      }`,
  });
  for (const warning of cfg.warnings) {
    log.agent.warning("Configuration: {path}: {message}", { ...warning });
  }
  if (cfg.node.autoRecreateVxlan && cfg.vnis.length === 0) {
    log.link.warning(
      "node.autoRecreateVxlan has no effect without a vnis list: there is nothing to create",
    );
  }
}
