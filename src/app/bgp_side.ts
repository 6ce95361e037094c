/**
 * The BGP side of the pipeline: the watcher's decoded tables go into the
 * overlay's desired state; the first table of each stream activates the
 * reconciler and starts the hold of stale entries until gobgpd's table is
 * complete; the membership route follows the online VNIs.
 *
 * @module
 */
import { TableCompleteness } from "../bgp/completeness.ts";
import { MembershipAdvertiser } from "../bgp/membership.ts";
import { Watcher } from "../bgp/watcher.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { logger } from "../log.ts";
import { type Community, formatCommunity } from "../net/community.ts";
import type { DesiredState } from "../overlay/desired.ts";
import type { Decoded } from "../overlay/route.ts";
import type { Reconciler } from "../reconcile/reconciler.ts";
import { type Cancel, later } from "../schedule.ts";
import type { BgpPort } from "./ports.ts";

const log = { bgp: logger("bgp"), membership: logger("membership") };

/**
 * How long a withdrawal waits before its flood entry is removed. A gobgpd
 * that is stopped (SIGTERM: a restart) first withdraws every route it
 * learned from its peers, then closes its sessions and its API a few
 * milliseconds later; a route reflector being stopped withdraws one
 * client's routes from the clients it has not closed yet. Waiting this long
 * lets the session loss or the lost stream that follows turn those
 * withdrawals into a hold (see `onReopen`, `onDown`) instead of removals.
 * Measured here: 5-15 ms between the last withdrawal and the loss.
 */
export const WITHDRAW_GRACE_MS = 500;

/** Effects on gobgpd that happened; a dry run observes none (nothing was sent). */
export interface MembershipEffects {
  applied(communities: readonly Community[]): void;
  withdrawnAtStop(ok: boolean): void;
}

export interface BgpSideOptions {
  config: ResolvedConfig;
  bgp: BgpPort;
  desired: DesiredState;
  reconciler: Reconciler;
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

export class BgpSide {
  readonly watcher: Watcher;
  #membership: MembershipAdvertiser | undefined;
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
        const hold = config.gobgp.restartHoldMs > 0 ? WITHDRAW_GRACE_MS : 0;
        if (
          hold > reconciler.holdRemainingMs && decoded.some((d) => d.ok && d.route.withdraw)
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
    if (config.advertiseSelf) this.#membership = this.#advertiser();
  }

  /** The membership advertiser; undefined while `advertiseSelf` is off. */
  get membership(): MembershipAdvertiser | undefined {
    return this.#membership;
  }

  /**
   * Turns the membership route on (advertised with the online VNIs) or off
   * (withdrawn, waiting at most 1 s), for a reload of `advertiseSelf`.
   */
  async setAdvertise(on: boolean): Promise<void> {
    if (this.#stopped || on === (this.#membership !== undefined)) return;
    if (on) {
      this.#membership = this.#advertiser();
      this.updateMembership();
      return;
    }
    const membership = this.#membership!;
    this.#membership = undefined;
    if (await membership.withdraw(1_000)) this.#opts.effects.applied([]);
    else {
      log.membership.warning(
        "Could not withdraw the membership route after advertiseSelf was turned off; " +
          "it stays in gobgpd until the next start of the agent on this node",
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
    if (this.#stopped || !this.#membership || this.#membershipTimer !== undefined) return;
    this.#membershipTimer = later(() => {
      this.#membershipTimer = undefined;
      if (this.#stopped) return;
      this.#membership?.set(this.#opts.desired.vnis.online().map((vni) => vni.community));
    }, 0);
  }

  /** Stops the stream and the timers. */
  stop(): void {
    this.#stopped = true;
    this.watcher.stop();
    this.#completeness.close();
    this.#membershipTimer?.();
  }

  /** Withdraws the membership route at shutdown, waiting at most 1 s. */
  async withdraw(): Promise<void> {
    if (!this.#membership) return;
    this.#opts.effects.withdrawnAtStop(await this.#membership.withdraw(1_000));
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

  #onSnapshot(decoded: Decoded[]): void {
    const { config, desired, reconciler } = this.#opts;
    desired.replace(decoded);
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
}
