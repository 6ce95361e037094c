/**
 * Wiring and lifecycle: connects the two inputs (the RIB stream, kernel
 * link/neighbour notifications) to the pure core and the two outputs (FDB
 * writes, the membership route). Decisions live in the modules it wires.
 *
 * @module
 */
import type { ResolvedConfig } from "./config/types.ts";
import type { Decoded, SkipReason } from "./overlay/route.ts";
import { SKIP_REASONS } from "./overlay/route.ts";
import { RouteTable } from "./overlay/route_table.ts";
import { type LinkOutcome, type Vni, VniRegistry } from "./overlay/vnis.ts";
import { formatCommunity } from "./net/community.ts";
import { type FdbPort, Reconciler } from "./reconcile/reconciler.ts";
import { Watcher, type WatchSource } from "./bgp/watcher.ts";
import { MembershipAdvertiser, type MembershipPort } from "./bgp/membership.ts";
import { TableCompleteness } from "./bgp/completeness.ts";
import { FLOOD_MAC } from "./net/mac.ts";
import { hostPrefix } from "./net/ip.ts";
import type { LinkEvent, LinkInfo, NeighEvent, VxlanSpec } from "./netlink/types.ts";
import { logger } from "./log.ts";
import type { AgentStats, AgentStatus, Health, MetricsSource, VniStatus } from "./status/types.ts";
import { type Cancel, later } from "./schedule.ts";
import { VERSION } from "./version.ts";

/** The link operations the agent uses; `Netlink.links` implements them. */
export interface LinkPort {
  listLinks(): LinkInfo[];
  getLink(name: string): LinkInfo | undefined;
  getLinkByIndex(ifindex: number): LinkInfo | undefined;
  createVxlan(spec: VxlanSpec): number;
  deleteLink(ifindex: number, name?: string): void;
}

/** Kernel notifications; `NetlinkEvents` implements it. */
export interface EventsPort {
  start(): void;
  close(): void;
}

export interface EventHandlers {
  onLink(event: LinkEvent): void;
  onNeigh(event: NeighEvent): void;
  onOverrun(): void;
  onError(error: Error): void;
}

/** gobgpd; `GobgpClient` implements it. */
export interface BgpPort extends WatchSource, MembershipPort {
  close(): void;
}

export interface AgentDeps {
  links: LinkPort;
  /** Flood entries; `Netlink.fdb` implements it. */
  fdb: FdbPort;
  openEvents(handlers: EventHandlers): EventsPort;
  bgp: BgpPort;
  /** True when the kernel ports and `bgp` only log what they would do (`--dry-run`). */
  dryRun?: boolean;
  observers?: AgentObservers;
}

/** Observers for metrics; all optional. */
export interface AgentObservers {
  /** Seconds from a route's arrival on the stream to the FDB write it caused. */
  eventToKernel?(seconds: number): void;
  /** Duration of one reconcile flush, in seconds. */
  reconcile?(seconds: number): void;
}

const log = {
  agent: logger("agent"),
  bgp: logger("bgp"),
  fdb: logger("fdb"),
  link: logger("link"),
  membership: logger("membership"),
};

/** Minimum time between two automatic re-creations of one device. */
const RECREATE_MIN_INTERVAL_MS = 1_000;

export class Agent implements MetricsSource {
  #config: ResolvedConfig;
  #deps: AgentDeps;
  #vnis: VniRegistry;
  #routes: RouteTable;
  #reconciler: Reconciler;
  #watcher: Watcher;
  #membership: MembershipAdvertiser | undefined;
  #events: EventsPort | undefined;
  /** Links this agent created itself (ifindex → name); the only ones it may delete. */
  #created = new Map<number, string>();
  #lastRecreate = new Map<number, number>();
  #recreateTimers = new Set<ReturnType<typeof setTimeout>>();
  #membershipTimer: Cancel | undefined;
  #lastErrors = new Map<number, { message: string; at: string }>();
  /** When a route change for a VTEP arrived, until the write it causes (latency metric). */
  #pendingSince = new Map<string, number>();
  #lastSync: Date | undefined;
  #syncedOnce = false;
  #lastFlushAt = 0;
  #eventsFailed: string | undefined;
  #completeness: TableCompleteness;
  #writeLog = new WriteLog();
  #stopped = false;
  readonly stats: AgentStats = {
    routeEvents: { add: 0, withdraw: 0 },
    skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>,
    fdbWrites: { append: 0, del: 0 },
    fdbErrors: { append: 0, del: 0 },
    membershipUpdates: 0,
    streamDowns: 0,
  };

  constructor(config: ResolvedConfig, deps: AgentDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#vnis = new VniRegistry(
      config.vnis.length > 0
        ? { kind: "static", vnis: config.vnis }
        : { kind: "discover", asn: config.communityAsn ?? 0 },
      config.node.localAddress,
    );
    this.#routes = new RouteTable((c) => this.#vnis.keeps(c));
    this.#reconciler = new Reconciler({
      fdb: deps.fdb,
      desired: (vni) => {
        const entry = this.#vnis.byId(vni);
        return entry ? this.#routes.vteps(entry.community) : new Set();
      },
      onWrite: (target, op, dst) => {
        if (deps.dryRun) return; // nothing was written; the dry-run kernel logged it
        this.stats.fdbWrites[op]++;
        const since = this.#pendingSince.get(dst);
        if (since !== undefined) {
          this.#pendingSince.delete(dst);
          deps.observers?.eventToKernel?.((performance.now() - since) / 1000);
        }
        this.#writeLog.note(target.device, target.vni, op, dst);
      },
      onError: (target, op, dst, error) => {
        this.stats.fdbErrors[op]++;
        const message = error instanceof Error ? error.message : String(error);
        this.#lastErrors.set(target.vni, { message, at: new Date().toISOString() });
        log.fdb.error("{error}; will retry", { error: message, op, dst, device: target.device });
      },
      onFlush: ({ seconds, ok, done }) => {
        this.#writeLog.emit();
        deps.observers?.reconcile?.(seconds);
        this.#lastFlushAt = performance.now();
        if (ok && done) {
          this.#syncedOnce = true;
          this.#lastSync = new Date();
          this.#pendingSince.clear();
        }
      },
    });
    this.#completeness = new TableCompleteness({
      maxHoldMs: config.gobgp.restartHoldMs,
      onComplete: (reason) => {
        const held = this.#reconciler.holdRemainingMs > 0;
        this.#reconciler.holdDeletes(0);
        log.bgp.info("gobgpd's table is complete ({reason}){sweep}", {
          reason,
          sweep: held ? ": removing entries it lacks" : "",
        });
      },
    });
    this.#watcher = new Watcher(deps.bgp, {
      onSnapshot: (decoded) => this.#onSnapshot(decoded),
      onUpdate: (decoded) => this.#onUpdate(decoded),
      onPeer: (event) => {
        if (event.type === "init" || event.type === "state") {
          this.#completeness.peer(event.address, event.established);
        }
      },
      onDown: (error, retryInMs) => {
        this.#completeness.reset();
        this.stats.streamDowns++;
        log.bgp.warning(
          "WatchEvent stream to gobgpd at {address} lost: {error}; retrying in {retryInMs} ms; " +
            "programmed FDB entries stay in place",
          { address: config.gobgp.address, error: error.message, retryInMs },
        );
      },
    }, {
      firstMessageTimeoutMs: Math.max(config.gobgp.timeoutMs, 1_000) * 2,
      backoffMaxMs: config.gobgp.reconnectMaxMs,
    });
    if (config.advertiseSelf) {
      this.#membership = new MembershipAdvertiser(deps.bgp, config.node.localAddress, {
        onApplied: (communities) => {
          if (deps.dryRun) return; // nothing was sent; the dry-run client logged it
          this.stats.membershipUpdates++;
          if (communities.length === 0) {
            log.membership.info("Withdrew membership route {prefix}", {
              prefix: hostPrefix(config.node.localAddress),
            });
          } else {
            log.membership.info("Advertised membership route {prefix} with {communities}", {
              prefix: hostPrefix(config.node.localAddress),
              communities: communities.map(formatCommunity).join(" "),
            });
          }
        },
        onError: (error, retryInMs) => {
          log.membership.warning(
            "Cannot update membership route in gobgpd: {error}; retrying in {retryInMs} ms",
            { error: error instanceof Error ? error.message : String(error), retryInMs },
          );
        },
      });
    }
  }

  /** Starts: subscribe to the kernel, list links, then watch the RIB. */
  start(): void {
    const cfg = this.#config;
    log.agent.info(
      "Starting: VTEP {address}, gobgpd {gobgp}, {mode}",
      {
        address: cfg.node.localAddress,
        gobgp: cfg.gobgp.address,
        mode: cfg.vnis.length > 0
          ? `static VNIs ${cfg.vnis.map((v) => v.id).join(", ")}`
          : `discovering vxlan devices with communities ${cfg.communityAsn}:<VNI>`,
      },
    );
    if (cfg.node.autoRecreateVxlan && cfg.vnis.length === 0) {
      log.link.warning(
        "node.autoRecreateVxlan has no effect without a vnis list: there is nothing to create",
      );
    }
    // Subscribe first, then list: a change between the two is seen twice, never missed.
    this.#events = this.#deps.openEvents({
      onLink: (event) => this.#onLinkEvent(event),
      onNeigh: (event) => this.#onNeighEvent(event),
      onOverrun: () => {
        log.link.warning("Kernel notifications were lost (socket overrun): full resync");
        this.#resyncKernel();
      },
      onError: (error) => {
        this.#eventsFailed = error.message;
        log.link.error("Kernel notification socket failed: {error}; full resync", {
          error: error.message,
        });
        this.#resyncKernel();
      },
    });
    this.#events.start();
    this.#resyncKernel(false);
    this.#watcher.start();
  }

  /**
   * Stops: withdraw the membership route, delete only links this agent
   * created (unless `skipLinkCleanup`), leave FDB entries in place.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    log.agent.info("Stopping");
    this.#watcher.stop();
    this.#completeness.close();
    this.#events?.close();
    this.#reconciler.close();
    for (const timer of this.#recreateTimers) clearTimeout(timer);
    this.#membershipTimer?.();
    if (this.#membership) {
      const ok = await this.#membership.withdraw(1_000);
      if (this.#deps.dryRun) {
        // the dry-run client logged what it would have done
      } else if (ok) {
        log.membership.info("Withdrew membership route {prefix}", {
          prefix: hostPrefix(this.#config.node.localAddress),
        });
      } else {
        log.membership.warning(
          "Could not withdraw membership route {prefix} before exit; " +
            "the next start on this node replaces it",
          { prefix: hostPrefix(this.#config.node.localAddress) },
        );
      }
    }
    if (!this.#config.node.skipLinkCleanup) {
      for (const [ifindex, name] of this.#created) {
        try {
          this.#deps.links.deleteLink(ifindex, name);
          log.link.info("Deleted {device}, which this agent had created", { device: name });
        } catch (error) {
          log.link.warning("Cannot delete {device}: {error}", {
            device: name,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
    }
    this.#deps.bgp.close();
  }

  /** Read-only views for status output and tests. */
  get vnis(): VniRegistry {
    return this.#vnis;
  }
  get routes(): RouteTable {
    return this.#routes;
  }
  get reconciler(): Reconciler {
    return this.#reconciler;
  }
  get vnisOnline(): number {
    return this.#vnis.online().length;
  }
  get watchState(): string {
    return this.#watcher.state;
  }
  get reconnects(): number {
    return this.#watcher.reconnects;
  }
  /** The communities gobgpd holds for this node, if known (never in a dry run). */
  get advertised(): readonly number[] | undefined {
    return this.#deps.dryRun ? undefined : this.#membership?.advertised;
  }
  get lastSync(): Date | undefined {
    return this.#lastSync;
  }

  /** Re-reads links and every managed device's flood entries (the safety-net resync). */
  resync(): void {
    this.#resyncKernel(true);
  }

  /** True once the stream is up, the initial table is in and the first reconcile succeeded. */
  get ready(): boolean {
    return this.#watcher.state === "up" && this.#syncedOnce && !this.#stopped;
  }

  /** Whether each loop makes progress; a stuck loop turns `ok` false. */
  health(): Health {
    const now = performance.now();
    const stuckAfterMs = 30_000 + this.#config.gobgp.reconnectMaxMs;
    const rec = this.#reconciler;
    const recStuck = rec.active && !rec.idle && this.#lastFlushAt > 0 &&
      now - this.#lastFlushAt > stuckAfterMs;
    const watchIdle = now - this.#watcher.lastActivity;
    const watchStuck = this.#watcher.state !== "up" && watchIdle > stuckAfterMs;
    const loops = {
      reconcile: {
        ok: !recStuck,
        detail: recStuck
          ? `work pending and no flush for ${Math.round((now - this.#lastFlushAt) / 1000)} s`
          : rec.idle
          ? "idle"
          : "work pending",
      },
      bgp: {
        ok: !watchStuck,
        detail: watchStuck
          ? `stream ${this.#watcher.state} with no attempt for ${Math.round(watchIdle / 1000)} s`
          : `stream ${this.#watcher.state}`,
      },
      kernel: {
        ok: this.#eventsFailed === undefined,
        detail: this.#eventsFailed ?? "listening",
      },
    };
    return { ok: Object.values(loops).every((l) => l.ok) && !this.#stopped, loops };
  }

  /** The whole state, for `/status`. */
  status(): AgentStatus {
    const cfg = this.#config;
    const vnis = this.#vnis.all().map((vni): VniStatus => {
      const desired = [...this.#routes.vteps(vni.community)].sort();
      let programmed = this.#reconciler.programmed(vni.id) ?? [];
      if (this.#deps.dryRun && vni.ifindex !== undefined) {
        // Nothing was written: show the kernel as it is, and what would change.
        programmed = this.#deps.fdb.listFlood(vni.ifindex).sort();
      }
      const link = vni.ifindex !== undefined
        ? this.#deps.links.getLinkByIndex(vni.ifindex)
        : undefined;
      const d = new Set(desired);
      const p = new Set(programmed);
      return {
        vni: vni.id,
        community: formatCommunity(vni.community),
        device: vni.device,
        ifindex: vni.ifindex ?? null,
        online: vni.ifindex !== undefined,
        localAddress: link?.local ?? null,
        desired,
        programmed: vni.ifindex !== undefined ? programmed : [],
        missing: vni.ifindex !== undefined ? desired.filter((x) => !p.has(x)) : [],
        extra: programmed.filter((x) => !d.has(x)),
        lastError: this.#lastErrors.get(vni.id) ?? null,
      };
    });
    const advertised = this.#membership?.advertised;
    return {
      version: VERSION,
      dryRun: this.#deps.dryRun ?? false,
      ready: this.ready,
      node: {
        localAddress: cfg.node.localAddress,
        mode: cfg.vnis.length > 0 ? "static" : "discover",
      },
      bgp: {
        address: cfg.gobgp.address,
        stream: this.#watcher.state,
        reconnects: this.#watcher.reconnects,
        remoteVteps: this.#routes.size,
        membership: {
          enabled: this.#membership !== undefined,
          prefix: hostPrefix(cfg.node.localAddress),
          communities: advertised ? advertised.map(formatCommunity) : null,
        },
      },
      lastSync: this.#lastSync?.toISOString() ?? null,
      vnis,
    };
  }

  // ---- kernel side --------------------------------------------------------

  /** Lists links (and, with `relist`, every managed device's flood entries) again. */
  #resyncKernel(relist = true) {
    if (this.#stopped) return;
    const links = this.#deps.links.listLinks();
    const present = new Set(links.map((l) => l.ifindex));
    for (const vni of this.#vnis.online()) {
      if (vni.ifindex !== undefined && !present.has(vni.ifindex)) {
        this.#apply(this.#vnis.removeLink(vni.ifindex));
      }
    }
    for (const link of links) this.#apply(this.#vnis.observeLink(link));
    if (relist) this.#reconciler.resync();
    this.#ensureConfiguredDevices();
    this.#updateMembership();
  }

  #onLinkEvent(event: LinkEvent) {
    if (this.#stopped) return;
    const ifindex = event.link.ifindex;
    const current = event.type === "del" ? undefined : this.#deps.links.getLinkByIndex(ifindex);
    if (!current) {
      this.#created.delete(ifindex);
      this.#apply(this.#vnis.removeLink(ifindex));
    } else {
      this.#apply(this.#vnis.observeLink(current));
    }
    this.#updateMembership();
  }

  #onNeighEvent(event: NeighEvent) {
    if (this.#stopped || event.mac !== FLOOD_MAC || event.dst === undefined) return;
    this.#reconciler.observe(event.ifindex, event.dst, event.type === "new");
  }

  #apply(outcome: LinkOutcome) {
    for (const warning of outcome.warnings) log.link.warning(warning);
    for (const vni of outcome.offline) {
      log.link.info("VNI {vni} is offline: device {device} is gone", {
        vni: vni.id,
        device: vni.device,
      });
      this.#reconciler.detach(vni.id);
      this.#scheduleRecreate(vni);
    }
    for (const vni of outcome.online) {
      log.link.info("VNI {vni} is online on {device} (ifindex {ifindex})", {
        vni: vni.id,
        device: vni.device,
        ifindex: vni.ifindex,
      });
      this.#reconciler.attach({ vni: vni.id, ifindex: vni.ifindex!, device: vni.device });
    }
  }

  #ensureConfiguredDevices() {
    if (!this.#config.node.autoRecreateVxlan) return;
    for (const vni of this.#vnis.all()) {
      if (vni.configured && vni.ifindex === undefined) this.#create(vni);
    }
  }

  #scheduleRecreate(vni: Vni) {
    if (!this.#config.node.autoRecreateVxlan || !vni.configured || this.#stopped) return;
    const last = this.#lastRecreate.get(vni.id) ?? 0;
    const wait = Math.max(0, last + RECREATE_MIN_INTERVAL_MS - Date.now());
    const timer = setTimeout(() => {
      this.#recreateTimers.delete(timer);
      if (!this.#stopped && vni.ifindex === undefined) this.#create(vni);
    }, wait);
    this.#recreateTimers.add(timer);
  }

  #create(vni: Vni) {
    const node = this.#config.node;
    // Another link may hold the name (wrong kind or VNI): reported, left alone.
    if (this.#deps.links.getLink(vni.device)) return;
    this.#lastRecreate.set(vni.id, Date.now());
    const underlayName = vni.underlayInterface ?? node.localInterface;
    const underlay = this.#deps.links.getLink(underlayName);
    const spec: VxlanSpec = { name: vni.device, vni: vni.id, port: node.vxlanPort };
    if (node.localAddress) spec.local = node.localAddress;
    if (underlay) spec.underlayIfindex = underlay.ifindex;
    else {
      log.link.warning("Underlay device {underlay} not found; creating {device} without dev", {
        underlay: underlayName,
        device: vni.device,
      });
    }
    try {
      const ifindex = this.#deps.links.createVxlan(spec);
      this.#created.set(ifindex, vni.device);
      log.link.info("Created {device} (VNI {vni}, local {local}, dstport {port}, nolearning)", {
        device: vni.device,
        vni: vni.id,
        local: node.localAddress,
        port: node.vxlanPort,
      });
      const link = this.#deps.links.getLinkByIndex(ifindex);
      if (link) this.#apply(this.#vnis.observeLink(link));
      this.#updateMembership();
    } catch (error) {
      log.link.error("Cannot create {device}: {error}", {
        device: vni.device,
        error: error instanceof Error ? error.message : String(error),
      });
      this.#scheduleRecreate(vni);
    }
  }

  /**
   * Hands the set of online VNIs to the membership advertiser, deferred
   * with `later(fn, 0)`: bursts of link events coalesce, and the gRPC call
   * starts from a task of its own. Started straight from a netlink notification (the
   * continuation of a nonblocking FFI call), grpc-js's deferred writes
   * stayed queued until some other event woke Deno's event loop.
   */
  #updateMembership() {
    if (this.#stopped || !this.#membership || this.#membershipTimer !== undefined) return;
    this.#membershipTimer = later(() => {
      this.#membershipTimer = undefined;
      if (this.#stopped) return;
      this.#membership?.set(this.#vnis.online().map((vni) => vni.community));
    }, 0);
  }

  // ---- BGP side -----------------------------------------------------------

  #onSnapshot(decoded: Decoded[]) {
    this.#routes.clear();
    for (const item of decoded) this.#ingest(item, false);
    log.bgp.info("Received gobgpd's table: {paths} paths, {vteps} remote VTEPs", {
      paths: decoded.length,
      vteps: this.#routes.size,
    });
    // gobgpd may have restarted and lost our path: write it again.
    this.#membership?.resend();
    this.#updateMembership();
    if (!this.#reconciler.active) this.#reconciler.activate();
    // Entries the table lacks stay until it is known to be complete (see
    // bgp/completeness.ts); additions and explicit withdrawals go on.
    this.#reconciler.holdDeletes(this.#config.gobgp.restartHoldMs);
    this.#completeness.snapshot();
    if (!this.#completeness.complete) {
      const peers = this.#completeness.peers;
      log.bgp.info(
        "{established} of {known} BGP sessions established: entries missing from the table are " +
          "kept until all are up and updates settle (at most {hold} s)",
        { ...peers, hold: this.#config.gobgp.restartHoldMs / 1000 },
      );
    }
    if (this.#reconciler.idle) {
      // Nothing to write (no device online): the view is in sync already.
      this.#syncedOnce = true;
      this.#lastSync = new Date();
    }
  }

  #onUpdate(decoded: Decoded[]) {
    this.#completeness.activity();
    for (const item of decoded) this.#ingest(item, true);
  }

  #ingest(item: Decoded, mark: boolean) {
    if (!item.ok) {
      this.#skip(item.reason, item.detail);
      return;
    }
    const route = item.route;
    if (route.vtep === this.#config.node.localAddress) {
      this.#skip("own-address", `prefix ${hostPrefix(route.vtep)} is this node's own VTEP`);
      return;
    }
    let changed: number[];
    if (route.withdraw) {
      this.stats.routeEvents.withdraw++;
      changed = this.#routes.delete(route.vtep);
    } else {
      this.stats.routeEvents.add++;
      if (!route.communities.some((c) => this.#vnis.byCommunity(c))) {
        this.#skip(
          "unknown-vni",
          `prefix ${hostPrefix(route.vtep)} carries no community of a known VNI (${
            route.communities.map(formatCommunity).join(" ") || "none"
          })`,
        );
      }
      changed = this.#routes.set(route.vtep, route.communities);
    }
    if (!mark) return;
    let online = false;
    for (const community of changed) {
      const vni = this.#vnis.byCommunity(community);
      if (vni?.ifindex === undefined) continue;
      online = true;
      this.#reconciler.markDirty(vni.id);
    }
    if (online && !this.#pendingSince.has(route.vtep)) {
      this.#pendingSince.set(route.vtep, performance.now());
    }
  }

  #skip(reason: SkipReason, detail: string) {
    this.stats.skipped[reason]++;
    log.bgp.debug("Skipped path ({reason}): {detail}", { reason, detail });
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
        for (const dst of dsts) {
          log.fdb.info(`${verb} flood entry {mac} dst {dst} on {device}`, {
            mac: FLOOD_MAC,
            dst,
            device,
            vni,
          });
        }
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
        for (const dst of dsts) {
          log.fdb.debug(`${verb} flood entry {mac} dst {dst} on {device}`, {
            mac: FLOOD_MAC,
            dst,
            device,
            vni,
          });
        }
      }
    }
    this.#pending.clear();
  }
}
