/**
 * The agent's core wiring and its start/stop order. A route flows
 * watcher -> overlay desired state -> reconciler -> FDB port without coming
 * back here; kernel notifications flow into the registry the same way
 * (`kernel_side.ts`, `bgp_side.ts`). Views for `/status`, `/healthz` and
 * `/metrics` are read from memory (`status/views.ts`).
 *
 * @module
 */
import type { ResolvedConfig } from "../config/types.ts";
import { logger } from "../log.ts";
import { warmCodecs } from "../bgp/path_codec.ts";
import { hostPrefix } from "../net/ip.ts";
import { type Community, formatCommunity } from "../net/community.ts";
import { formatRouteDistinguisher } from "../net/route_distinguisher.ts";
import { formatRouteTarget } from "../net/route_target.ts";
import { imetKey } from "../bgp/own_paths.ts";
import type { VtepSource } from "../overlay/desired.ts";
import { DesiredState } from "../overlay/desired.ts";
import type { Vni, VniRegistry } from "../overlay/vnis.ts";
import { ReconcilerGroup } from "../reconcile/group.ts";
import { Reconciler } from "../reconcile/reconciler.ts";
import type {
  AgentStats,
  AgentStatus,
  Health,
  MetricsSource,
  VniEvpnStatus,
} from "../status/types.ts";
import { loopHealth, vniStatus } from "../status/views.ts";
import { VERSION } from "../version.ts";
import { BgpSide } from "./bgp_side.ts";
import { floodEntries } from "./flood_entries.ts";
import { KernelSide } from "./kernel_side.ts";
import { MacIpHalf } from "./mac_side.ts";
import {
  countedBgp,
  countedMembership,
  FdbObservers,
  logStart,
  newStats,
  skipNotes,
} from "./observers.ts";
import type { AgentDeps, EventsPort } from "./ports.ts";

const log = logger("agent");

export class Agent implements MetricsSource {
  readonly stats: AgentStats = newStats();
  #config: ResolvedConfig;
  #deps: AgentDeps;
  #desired: DesiredState;
  #reconciler: Reconciler;
  /** The EVPN Type 2 half; undefined in community-only mode (or without its ports). */
  #macIp: MacIpHalf | undefined;
  #kernel: KernelSide;
  #bgp: BgpSide;
  #events: EventsPort | undefined;
  #fdbObservers: FdbObservers;
  #lastSync: Date | undefined;
  #syncedOnce = false;
  #lastFlushAt = 0;
  #eventsFailed: string | undefined;
  #stopped = false;

  constructor(config: ResolvedConfig, deps: AgentDeps) {
    this.#config = config;
    this.#deps = deps;
    const stats = this.stats;
    const skipped = skipNotes(stats);
    this.#fdbObservers = new FdbObservers(stats, deps.observers?.eventToKernel);
    if (config.mode.evpn && deps.unicast && deps.neighbours) {
      this.#macIp = new MacIpHalf({
        vnis: () => this.#desired.vnis,
        localAddress: config.node.localAddress,
        unicast: deps.unicast,
        neighbours: deps.neighbours,
        addresses: deps.addresses,
        onLocalChange: () => this.#bgp.updateMembership(),
        skipped,
        onFlush: ({ ok, done }) => {
          if (ok && done && this.#reconcilersIdle()) this.#inSync();
        },
      });
    }
    const macIp = this.#macIp?.remote ?? deps.macIp;
    this.#desired = new DesiredState({
      mode: config.vnis.length > 0
        ? { kind: "static", vnis: config.vnis }
        : { kind: "discover", asn: config.communityAsn ?? 0, format: config.communityFormat },
      localAddress: config.node.localAddress,
      rdAdmin: config.node.routerId,
      onDirty: (vni) => this.#reconciler.markDirty(vni),
      routes: config.mode,
      ...(macIp ? { macIp } : {}),
      observer: {
        skipped,
        route: (kind) => stats.routeEvents[kind]++,
        evpnRoute: (type) => stats.evpnRoutes[type]++,
        changed: (vtep) => this.#fdbObservers.arrived(vtep),
      },
    });
    const fdb = this.#fdbObservers;
    this.#reconciler = new Reconciler({
      port: floodEntries(deps.fdb),
      desired: (vni) => this.#desired.desired(vni),
      onWrite: deps.effects?.fdbWritten ?? ((...write) => fdb.written(...write)),
      onError: (...failure) => fdb.failed(...failure),
      onHold: () => log.debug("A burst of route changes: holding it until it goes quiet"),
      onFlush: ({ seconds, ok, done }) => {
        // Held deletes (a withdrawal's grace) are still to come: keep their arrival times.
        fdb.flushed(ok && done && this.#reconciler.heldCount === 0);
        deps.observers?.reconcile?.(seconds);
        this.#lastFlushAt = performance.now();
        if (ok && done && this.#reconcilersIdle()) this.#inSync();
      },
    });
    const half = this.#macIp;
    this.#bgp = new BgpSide({
      config,
      bgp: countedBgp(deps.bgp, stats),
      desired: this.#desired,
      reconciler: half
        ? new ReconcilerGroup([this.#reconciler, half.unicast, half.neighbours])
        : this.#reconciler,
      ...(half ? { macIpRoutes: (vni) => half.ownRoutes(vni) } : {}),
      onDown: () => stats.streamDowns++,
      onInSync: () => this.#inSync(),
      effects: deps.effects?.membership ??
        countedMembership(stats, hostPrefix(config.node.localAddress)),
    });
    this.#kernel = new KernelSide({
      links: deps.links,
      vnis: this.#desired.vnis,
      reconciler: this.#reconciler,
      ...(half ? { macs: half.kernel() } : {}),
      node: config.node,
      onMembership: () => this.#bgp.updateMembership(),
      onOverrun: () => stats.netlinkOverruns++,
      onResync: (trigger) => stats.resyncs[trigger]++,
    });
  }

  /** Starts: subscribe to the kernel, list links, then watch the RIB. */
  start(): void {
    logStart(this.#config);
    // Subscribe first, then list: a change between the two is seen twice, never missed.
    this.#events = this.#deps.openEvents(
      this.#kernel.handlers((error) => this.#eventsFailed = error.message),
    );
    this.#events.start();
    this.#kernel.resync();
    // Before any route or device: the protobuf codecs' one-time code generation.
    warmCodecs(this.#config.node.localAddress);
    this.#bgp.watcher.start();
  }

  /**
   * Stops: withdraw the membership route, delete only links this agent
   * created (unless `skipLinkCleanup`), leave FDB entries in place.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    log.info("Stopping");
    this.#bgp.stop();
    this.#events?.close();
    this.#reconciler.close();
    this.#macIp?.close();
    this.#kernel.stop();
    await this.#bgp.withdraw();
    if (!this.#config.node.skipLinkCleanup) this.#kernel.devices.deleteOwn();
    this.#deps.bgp.close();
  }

  /**
   * Applies a reloaded configuration whose changes are all live (see
   * `config/reload.ts`, `planReload`): the static VNIs, `advertiseSelf` and
   * the values read later (`node.skipLinkCleanup`). VNIs that stay keep
   * their entries untouched; a removed VNI's entries are removed; an added
   * VNI is brought online through the same kernel re-read as at start, and
   * the membership route follows with one update.
   */
  async reconfigure(next: ResolvedConfig): Promise<void> {
    if (this.#stopped) return;
    const old = this.#config;
    this.#config = next;
    if (old.vnis.length > 0 && next.vnis.length > 0) this.#reconfigureVnis(next);
    await this.#bgp.setAdvertise(next.advertiseSelf);
  }

  #reconfigureVnis(next: ResolvedConfig): void {
    const reconciler = this.#reconciler;
    const out = this.#desired.vnis.reconfigure(next.vnis);
    for (const vni of out.removed) {
      log.info("VNI {vni} is no longer configured: removing its flood entries on {device}", {
        vni: vni.id,
        device: vni.device,
      });
      if (vni.ifindex !== undefined) {
        reconciler.release(vni.id);
        this.#macIp?.unicast.release(vni.id);
        this.#macIp?.neighbours.release(vni.id);
      }
    }
    if (out.added.length > 0 || out.recommunitied.length > 0 || out.retargeted.length > 0) {
      // Routes of communities that were not configured were not kept: read
      // gobgpd's table again, keeping entries it may yet list meanwhile.
      reconciler.holdDeletes(next.gobgp.restartHoldMs);
      this.#macIp?.remote.invalidate();
      this.#macIp?.unicast.holdDeletes(next.gobgp.restartHoldMs);
      this.#macIp?.neighbours.holdDeletes(next.gobgp.restartHoldMs);
      this.#bgp.reread();
    }
    // The same path as at start: list links, bring VNIs online, create
    // missing devices, hand the online VNIs to the membership route.
    this.#kernel.resync(); // links only, as at start
  }

  /** Re-reads links and every managed device's flood entries (the periodic safety-net resync). */
  resync(): void {
    this.#kernel.resync("interval");
  }

  /** Read-only views for status output and tests. */
  get vnis(): VniRegistry {
    return this.#desired.vnis;
  }
  get reconciler(): Reconciler {
    return this.#reconciler;
  }
  get vnisOnline(): number {
    return this.#desired.vnis.online().length;
  }
  get watchState(): string {
    return this.#bgp.watcher.state;
  }
  /** The communities gobgpd holds for this node, if known. */
  get advertised(): readonly Community[] | undefined {
    return this.#deps.views?.membershipKnown === false
      ? undefined
      : this.#bgp.membership?.advertised;
  }
  /** Our Type 3 routes gobgpd holds, if known (undefined outside EVPN mode or in a dry run). */
  get type3Advertised(): number | undefined {
    if (this.#deps.views?.membershipKnown === false) return undefined;
    return this.#bgp.imet?.advertised?.length;
  }
  get lastSync(): Date | undefined {
    return this.#lastSync;
  }

  /** True once the stream is up, the initial table is in and the first reconcile succeeded. */
  get ready(): boolean {
    return this.#bgp.watcher.state === "up" && this.#syncedOnce && !this.#stopped;
  }

  /** Whether each loop makes progress; a stuck loop turns `ok` false. */
  health(): Health {
    const rec = this.#reconciler;
    return loopHealth({
      now: performance.now(),
      stuckAfterMs: 30_000 + this.#config.gobgp.reconnectMaxMs,
      reconcile: { active: rec.active, idle: rec.idle, lastFlushAt: this.#lastFlushAt },
      bgp: { state: this.#bgp.watcher.state, lastActivity: this.#bgp.watcher.lastActivity },
      kernelFailure: this.#eventsFailed,
      stopped: this.#stopped,
    });
  }

  /** The whole state, for `/status`, from memory only. */
  status(): AgentStatus {
    const cfg = this.#config;
    const views = this.#deps.views;
    const programmed = (vni: Vni) =>
      views?.programmed && vni.ifindex !== undefined
        ? views.programmed(vni)
        : this.#reconciler.programmed(vni.id);
    const advertised = this.#bgp.membership?.advertised;
    return {
      version: VERSION,
      dryRun: views?.dryRun ?? false,
      ready: this.ready,
      node: {
        localAddress: cfg.node.localAddress,
        addressFamily: cfg.node.addressFamily,
        mode: cfg.vnis.length > 0 ? "static" : "discover",
        routes: [
          ...(cfg.mode.community ? ["community" as const] : []),
          ...(cfg.mode.evpn ? ["evpn" as const] : []),
        ],
      },
      bgp: {
        address: cfg.gobgp.address,
        stream: this.#bgp.watcher.state,
        reconnects: this.#bgp.watcher.reconnects,
        remoteVteps: this.#desired.routes.size,
        membership: {
          enabled: this.#bgp.membership !== undefined,
          prefix: hostPrefix(cfg.node.localAddress),
          communities: advertised ? advertised.map(formatCommunity) : null,
        },
      },
      lastSync: this.#lastSync?.toISOString() ?? null,
      vnis: this.#desired.vnis.all().map((vni) => ({
        ...vniStatus(
          vni,
          this.#desired.desired(vni.id),
          programmed(vni),
          this.#fdbObservers.lastError(vni.id),
          this.#desired.mismatched(vni.id),
        ),
        remoteVteps: remoteVteps(this.#desired.sources(vni.id)),
        ...(cfg.mode.evpn ? { evpn: this.#evpnStatus(vni) } : {}),
        ...(this.#macIp ? { macIp: this.#macIp.status(vni, views?.dryRun === true) } : {}),
      })),
    };
  }

  /** A VNI's RD, route targets and own Type 3 route, for `/status`. */
  #evpnStatus(vni: Vni): VniEvpnStatus {
    const imet = this.#bgp.imet;
    const held = imet?.advertised;
    const key = vni.rd ? imetKey(vni.rd, this.#config.node.localAddress) : undefined;
    const state = held === undefined
      ? "unknown"
      : held.some((p) => p.key === key) && imet?.settled
      ? "advertised"
      : "pending";
    return {
      rd: vni.rd ? formatRouteDistinguisher(vni.rd) : null,
      routeTargets: vni.routeTargets.map(formatRouteTarget),
      type3: vni.ifindex === undefined || !imet || !vni.rd ? null : {
        route: `[type:multicast][rd:${
          formatRouteDistinguisher(vni.rd)
        }][etag:0][ip:${this.#config.node.localAddress}]`,
        state: this.#deps.views?.dryRun ? "pending" : state,
      },
    };
  }

  /** True when no reconciler (flood, and the Type 2 ones) waits for a write. */
  #reconcilersIdle(): boolean {
    const half = this.#macIp;
    return this.#reconciler.idle && (!half || (half.unicast.idle && half.neighbours.idle));
  }

  #inSync(): void {
    this.#syncedOnce = true;
    this.#lastSync = new Date();
  }
}

/**
 * Each remote VTEP with its sources, in the order of the VNI's `desired`
 * list (plain string order). Not `localeCompare` with options: that builds a
 * collator per comparison, and at 20 VNIs of 1,000 VTEPs it made every
 * `/status` and `/metrics` cost 1.5 s of CPU (the endpoint benchmark starved).
 */
function remoteVteps(sources: Map<string, VtepSource[]>): { vtep: string; via: string[] }[] {
  return [...sources].map(([vtep, via]) => ({ vtep, via })).sort((a, b) =>
    a.vtep < b.vtep ? -1 : a.vtep > b.vtep ? 1 : 0
  );
}
