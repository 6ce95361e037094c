/**
 * The BGP side of the pipeline: the watcher's decoded tables go into the
 * overlay's desired state; the first table of each stream activates the
 * reconciler and starts the hold of stale entries until gobgpd's table is
 * complete; our own routes follow the online VNIs: the membership route
 * (community mode) and one EVPN Type 3 route per VNI (EVPN mode).
 *
 * @module
 */
import { type OwnPath, PathAdvertiser } from "../bgp/advertiser.ts";
import { TableCompleteness } from "../bgp/completeness.ts";
import { missingFamilyWarning } from "../bgp/families.ts";
import { isEvpnFamily } from "../bgp/evpn_codec.ts";
import { MembershipAdvertiser } from "../bgp/membership.ts";
import { heldImetPaths, heldMacIpPaths, imetOwnPath, macIpOwnPath } from "../bgp/own_paths.ts";
import { Watcher } from "../bgp/watcher.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { logger } from "../log.ts";
import { type Community, formatCommunity } from "../net/community.ts";
import type { DesiredState } from "../overlay/desired.ts";
import type { OwnMacIp } from "../overlay/local_macs.ts";
import type { DecodedPath } from "../overlay/route.ts";
import type { Vni } from "../overlay/vnis.ts";
import type { ReconcilerControl } from "../reconcile/group.ts";
import { type Cancel, later } from "../schedule.ts";
import type { BgpPort } from "./ports.ts";

const log = { bgp: logger("bgp"), membership: logger("membership"), evpn: logger("evpn") };

/**
 * Why a withdrawal waits (`gobgp.withdrawDelay`, default 500 ms) before its
 * flood entry is removed. A gobgpd
 * that is stopped (SIGTERM: a restart) first withdraws every route it
 * learned from its peers, then closes its sessions and its API a few
 * milliseconds later; a route reflector being stopped withdraws one
 * client's routes from the clients it has not closed yet. Waiting this long
 * lets the session loss or the lost stream that follows turn those
 * withdrawals into a hold (see `onReopen`, `onDown`) instead of removals.
 * Measured here: 5-15 ms between the last withdrawal and the loss. Applied
 * to community-mode withdrawals (EVPN mode's graceful restart is its own).
 */

/** Effects on gobgpd that happened; a dry run observes none (nothing was sent). */
export interface MembershipEffects {
  applied(communities: readonly Community[]): void;
  withdrawnAtStop(ok: boolean): void;
  /** One of our EVPN Type 3 routes was added or withdrawn. @default logged */
  imetApplied?(op: "add" | "delete", path: OwnPath): void;
  /** Our Type 3 routes were withdrawn at stop (`ok`) or not. @default logged */
  imetWithdrawnAtStop?(ok: boolean): void;
}

export interface BgpSideOptions {
  config: ResolvedConfig;
  bgp: BgpPort;
  desired: DesiredState;
  /** The reconcilers of every entry kind, driven as one. */
  reconciler: ReconcilerControl;
  /**
   * EVPN mode: the Type 2 routes of an online VNI's device (its MAC, and
   * its MAC with each address). @default none: no Type 2 routes are sent
   */
  macIpRoutes?: (vni: Vni) => readonly OwnMacIp[];
  /** The stream was lost. */
  onDown(): void;
  /** The first table of a stream is in and nothing waits to be written. */
  onInSync(): void;
  effects: MembershipEffects;
}

/** The membership effects as log lines (`prefix`: this node's host route). */
export function loggedMembershipEffects(prefix: string): MembershipEffects {
  return {
    applied: (communities) => {
      if (communities.length === 0) {
        log.membership.info("Withdrew membership route {prefix}", { prefix });
      } else {
        log.membership.info("Advertised membership route {prefix} with {communities}", {
          prefix,
          communities: communities.map(formatCommunity).join(" "),
        });
      }
    },
    withdrawnAtStop: (ok) => {
      if (ok) log.membership.info("Withdrew membership route {prefix}", { prefix });
      else {
        log.membership.warning(
          "Could not withdraw membership route {prefix} before exit; " +
            "the next start on this node replaces it",
          { prefix },
        );
      }
    },
  };
}

/** Our Type 3 routes' effects as log lines. */
export const loggedImetEffects: Required<
  Pick<MembershipEffects, "imetApplied" | "imetWithdrawnAtStop">
> = {
  imetApplied: (op, path) => {
    if (op === "add") log.evpn.info("Advertised Type 3 route {key} ({fingerprint})", { ...path });
    else log.evpn.info("Withdrew Type 3 route {key}", { key: path.key });
  },
  imetWithdrawnAtStop: (ok) => {
    if (ok) log.evpn.info("Withdrew our Type 3 routes");
    else {
      log.evpn.warning(
        "Could not withdraw every Type 3 route before exit; the next start on this node " +
          "replaces or withdraws them",
      );
    }
  },
};

export class BgpSide {
  readonly watcher: Watcher;
  #membership: MembershipAdvertiser | undefined;
  #imet: PathAdvertiser | undefined;
  #macIp: PathAdvertiser | undefined;
  #familyChecked = false;
  #opts: BgpSideOptions;
  /** The stream was restarted by `reread()`, not lost: gobgpd still holds our path. */
  #rereading = false;
  #completeness: TableCompleteness;
  #membershipTimer: Cancel | undefined;
  #stopped = false;

  constructor(options: BgpSideOptions) {
    this.#opts = options;
    const { config, bgp, reconciler } = options;
    this.#completeness = new TableCompleteness({
      maxHoldMs: config.gobgp.restartHoldMs,
      onComplete: (reason) => {
        const held = reconciler.holdRemainingMs > 0;
        reconciler.holdDeletes(0);
        log.bgp.info("gobgpd's table is complete ({reason}){sweep}", {
          reason,
          sweep: held ? ": removing entries it lacks" : "",
        });
      },
      // A session went down (a peer or gobgpd itself restarting): what it
      // withdraws now may come back; keep the entries meanwhile.
      onReopen: (address, change) => {
        reconciler.holdDeletes(config.gobgp.restartHoldMs, "all");
        if (change === "up") return;
        log.bgp.info(
          "BGP session with {address} went down: flood entries whose routes it withdraws are kept " +
            "until the sessions are back and the routes return (at most {hold} s after the last " +
            "session came back)",
          { address, hold: config.gobgp.restartHoldMs / 1000 },
        );
      },
      held: () => reconciler.heldCount,
    });
    this.watcher = new Watcher(bgp, {
      onSnapshot: (decoded) => this.#onSnapshot(decoded),
      onUpdate: (decoded) => {
        this.#completeness.activity();
        const hold = config.gobgp.restartHoldMs > 0 ? config.gobgp.withdrawDelayMs : 0;
        if (
          hold > reconciler.holdRemainingMs &&
          // Community mode only: EVPN routes keep their removal at once.
          decoded.some((d) => d.ok && "route" in d && d.route.withdraw)
        ) reconciler.holdDeletes(hold, "all");
        options.desired.apply(decoded);
      },
      onPeer: (event) => {
        if (event.type === "init" || event.type === "state") {
          this.#completeness.peer(event.address, event.established);
        }
      },
      onDown: (error, retryInMs) => {
        this.#rereading = false;
        this.#completeness.reset();
        // Nothing changes until the next table; what was withdrawn just
        // before the loss (a stopping gobgpd) stays until that table says.
        if (reconciler.holdRemainingMs > 0) {
          reconciler.holdDeletes(config.gobgp.restartHoldMs, "all");
        }
        options.onDown();
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
    if (config.advertiseSelf) this.#startAdvertisers();
  }

  /** The membership advertiser; undefined while `advertiseSelf` is off or in EVPN-only mode. */
  get membership(): MembershipAdvertiser | undefined {
    return this.#membership;
  }

  /** Our Type 3 routes; undefined while `advertiseSelf` is off or in community-only mode. */
  get imet(): PathAdvertiser | undefined {
    return this.#imet;
  }

  /** Our Type 2 routes; undefined while `advertiseSelf` is off or Type 2 is not in use. */
  get macIp(): PathAdvertiser | undefined {
    return this.#macIp;
  }

  #startAdvertisers(): void {
    const { mode } = this.#opts.config;
    if (mode.community) this.#membership = this.#advertiser();
    if (mode.evpn) this.#imet = this.#imetAdvertiser();
    if (mode.evpn && this.#opts.macIpRoutes) this.#macIp = this.#macIpAdvertiser();
  }

  /**
   * Turns the membership route on (advertised with the online VNIs) or off
   * (withdrawn, waiting at most 1 s), for a reload of `advertiseSelf`.
   */
  async setAdvertise(on: boolean): Promise<void> {
    const running = this.#membership !== undefined || this.#imet !== undefined;
    if (this.#stopped || on === running) return;
    if (on) {
      this.#startAdvertisers();
      // What gobgpd holds of our Type 3 routes comes with the next table.
      this.#imet?.assume([]);
      this.#macIp?.assume([]);
      this.updateMembership();
      return;
    }
    const membership = this.#membership;
    const imet = this.#imet;
    const macIp = this.#macIp;
    this.#membership = undefined;
    this.#imet = undefined;
    this.#macIp = undefined;
    if (macIp && !(await macIp.withdrawAll(1_000))) {
      log.evpn.warning(
        "Could not withdraw every Type 2 route after advertiseSelf was turned off; " +
          "the next start of the agent on this node withdraws them",
      );
    }
    if (membership) {
      if (await membership.withdraw(1_000)) this.#opts.effects.applied([]);
      else {
        log.membership.warning(
          "Could not withdraw the membership route after advertiseSelf was turned off; " +
            "it stays in gobgpd until the next start of the agent on this node",
        );
      }
    }
    if (imet && !(await imet.withdrawAll(1_000))) {
      log.evpn.warning(
        "Could not withdraw every Type 3 route after advertiseSelf was turned off; " +
          "the next start of the agent on this node withdraws them",
      );
    }
  }

  /**
   * Reads gobgpd's table again through a new stream (a reload added
   * communities whose routes were not kept). The new table replaces the
   * old one as after a reconnect; the membership path is not re-sent.
   */
  reread(): void {
    if (this.#stopped) return;
    this.#rereading = true;
    this.watcher.stop();
    this.#completeness.reset();
    this.watcher.start();
  }

  /**
   * Hands the set of online VNIs to the membership advertiser, deferred
   * with `later(fn, 0)`: bursts of link events coalesce, and the gRPC call
   * starts from a task of its own. Started straight from a netlink notification (the
   * continuation of a nonblocking FFI call), grpc-js's deferred writes
   * stayed queued until some other event woke Deno's event loop.
   */
  updateMembership(): void {
    if (this.#stopped || this.#membershipTimer !== undefined) return;
    if (!this.#membership && !this.#imet) return;
    this.#membershipTimer = later(() => {
      this.#membershipTimer = undefined;
      if (this.#stopped) return;
      const online = this.#opts.desired.vnis.online();
      this.#membership?.set(online.map((vni) => vni.community));
      const vtep = this.#opts.config.node.localAddress;
      this.#imet?.set(
        online.flatMap((vni) =>
          vni.rd === undefined || vni.routeTargets.length === 0
            ? []
            : [imetOwnPath({ id: vni.id, rd: vni.rd, routeTargets: vni.routeTargets, vtep })]
        ),
      );
      const routes = this.#opts.macIpRoutes;
      if (!this.#macIp || !routes) return;
      this.#macIp.set(online.flatMap((vni) => {
        const { rd, routeTargets } = vni;
        if (rd === undefined || routeTargets.length === 0) return [];
        return routes(vni).map(({ mac, ip }) =>
          macIpOwnPath({ id: vni.id, rd, routeTargets, vtep, mac, ip })
        );
      }));
    }, 0);
  }

  /** Stops the stream and the timers. */
  stop(): void {
    this.#stopped = true;
    this.watcher.stop();
    this.#completeness.close();
    this.#membershipTimer?.();
  }

  /** Withdraws our routes at shutdown (both kinds at once), waiting at most 1 s. */
  async withdraw(): Promise<void> {
    const { effects } = this.#opts;
    await Promise.all([
      this.#membership?.withdraw(1_000).then((ok) => effects.withdrawnAtStop(ok)),
      this.#imet?.withdrawAll(1_000).then((ok) =>
        (effects.imetWithdrawnAtStop ?? loggedImetEffects.imetWithdrawnAtStop)(ok)
      ),
      this.#macIp?.withdrawAll(1_000).then((ok) => {
        if (ok) log.evpn.info("Withdrew our Type 2 routes");
        else {
          log.evpn.warning(
            "Could not withdraw every Type 2 route before exit; the next start on this node " +
              "replaces or withdraws them",
          );
        }
      }),
    ]);
  }

  #macIpAdvertiser(): PathAdvertiser {
    return new PathAdvertiser(this.#opts.bgp, {
      onApplied: (op, path) => {
        if (op === "add") log.evpn.info("Advertised Type 2 route {key}", { key: path.key });
        else log.evpn.info("Withdrew Type 2 route {key}", { key: path.key });
      },
      onError: (error, retryInMs) => {
        log.evpn.warning(
          "Cannot update our Type 2 routes in gobgpd: {error}; retrying in {retryInMs} ms",
          { error: error instanceof Error ? error.message : String(error), retryInMs },
        );
      },
    });
  }

  #imetAdvertiser(): PathAdvertiser {
    const { effects } = this.#opts;
    return new PathAdvertiser(this.#opts.bgp, {
      // FRR 8.4 ignores a Type 3 re-sent with other attributes (PMSI): withdraw first.
      withdrawBeforeReplace: true,
      onApplied: (op, path) => (effects.imetApplied ?? loggedImetEffects.imetApplied)(op, path),
      onError: (error, retryInMs) => {
        log.evpn.warning(
          "Cannot update our Type 3 routes in gobgpd: {error}; retrying in {retryInMs} ms",
          { error: error instanceof Error ? error.message : String(error), retryInMs },
        );
      },
    });
  }

  #advertiser(): MembershipAdvertiser {
    const { bgp, config, effects } = this.#opts;
    return new MembershipAdvertiser(bgp, config.node.localAddress, {
      onApplied: (communities) => effects.applied(communities),
      onError: (error, retryInMs) => {
        log.membership.warning(
          "Cannot update membership route in gobgpd: {error}; retrying in {retryInMs} ms",
          { error: error instanceof Error ? error.message : String(error), retryInMs },
        );
      },
    });
  }

  #onSnapshot(decoded: DecodedPath[]): void {
    const { config, desired, reconciler } = this.#opts;
    desired.replace(decoded);
    // The table lists our own Type 3 routes (of this run or an earlier one,
    // or none after a gobgpd restart): the advertiser goes on from there.
    this.#imet?.known(heldImetPaths(decoded, config.node.localAddress));
    this.#macIp?.known(heldMacIpPaths(decoded, config.node.localAddress));
    this.#checkFamilies();
    log.bgp.info("Received gobgpd's table: {paths} paths, {vteps} remote VTEPs", {
      paths: decoded.length,
      vteps: desired.routes.size,
    });
    // gobgpd may have restarted and lost our path: write it again.
    if (!this.#rereading) this.#membership?.resend();
    this.#rereading = false;
    this.updateMembership();
    if (!reconciler.active) reconciler.activate();
    // Entries the table lacks stay until it is known to be complete (see
    // bgp/completeness.ts); additions and explicit withdrawals go on.
    reconciler.holdDeletes(config.gobgp.restartHoldMs);
    this.#completeness.snapshot();
    if (!this.#completeness.complete) {
      log.bgp.info(
        "{established} of {known} BGP sessions established: entries missing from the table are " +
          "kept until all are up and updates settle (at most {hold} s)",
        { ...this.#completeness.peers, hold: config.gobgp.restartHoldMs / 1000 },
      );
    }
    // Nothing to write (no device online): the view is in sync already.
    if (reconciler.idle) this.#opts.onInSync();
  }

  /**
   * Once, after the first table: warns when no neighbour of gobgpd carries a
   * family we need: community mode, the unicast family of our VTEP (IPv4 or
   * IPv6: the membership route's); EVPN mode, L2VPN EVPN. Nothing we
   * advertise in that family would leave the node.
   */
  #checkFamilies(): void {
    const { bgp, config } = this.#opts;
    if (this.#familyChecked || !bgp.listPeers) return;
    this.#familyChecked = true;
    const unicast = { afi: config.node.addressFamily === "ipv6" ? 2 : 1, safi: 1 };
    bgp.listPeers().then((peers) => {
      if (this.#stopped) return;
      const warning = config.mode.community ? missingFamilyWarning(peers, unicast) : undefined;
      if (warning !== undefined) log.bgp.warning(warning);
      if (!config.mode.evpn || peers.some((peer) => peer.families.some(isEvpnFamily))) return;
      log.evpn.warning(
        "mode includes evpn, but no BGP neighbour of gobgpd at {address} has the l2vpn-evpn " +
          "family ({peers}): EVPN routes are neither sent nor received; add " +
          '`afi-safi-name = "l2vpn-evpn"` to the neighbour (or peer group) in gobgpd\'s ' +
          "configuration",
        {
          address: config.gobgp.address,
          peers: peers.length === 0 ? "no neighbours configured" : peers.length + " neighbours",
        },
      );
    }, (error: unknown) => {
      log.bgp.debug("Cannot list gobgpd's neighbours to check their families: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }
}
