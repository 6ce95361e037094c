/**
 * The node's own membership route (community mode): one IPv4 /32 path for
 * the local VTEP address carrying the communities of every online VNI, as
 * one {@linkcode PathAdvertiser} path keyed by the address.
 *
 * A replacement is a plain `AddPath`: gobgpd replaces a local path with the
 * same prefix, so peers see one update and no withdraw/re-add flap. At start
 * the applied state is unknown (a previous run's path may still be in
 * gobgpd), so the first `set` always writes, even an empty one.
 *
 * @module
 */
import { type Community, type LargeCommunity, sortedCommunities } from "../net/community.ts";
import type { IpAddress } from "../net/ip.ts";
import { type AdvertiserPort, type OwnPath, PathAdvertiser } from "./advertiser.ts";
import { encodeMembershipKey, encodeMembershipPath, type PathMessage } from "./path_codec.ts";

export interface MembershipPort {
  addPath(path: PathMessage): Promise<unknown>;
  deletePath(path: PathMessage): Promise<void>;
}

export interface MembershipOptions {
  /** Called after gobgpd accepted a change; `communities` empty = withdrawn. */
  onApplied?: (communities: readonly Community[]) => void;
  /** Called when a call failed; it is retried after `retryInMs`. */
  onError?: (error: unknown, retryInMs: number) => void;
  /** @default 200 */
  retryMinMs?: number;
  /** @default 10000 */
  retryMaxMs?: number;
}

/** The membership path of `address` with `communities` (sorted, de-duplicated). */
function membershipPath(address: IpAddress, communities: readonly Community[]): OwnPath {
  return {
    key: address,
    fingerprint: communities.join(","),
    path: encodeMembershipPath({ address, communities }),
    withdrawal: encodeMembershipKey(address),
  };
}

export class MembershipAdvertiser {
  #address: IpAddress;
  #paths: PathAdvertiser;
  #wanted = false;

  constructor(port: AdvertiserPort, address: IpAddress, options: MembershipOptions = {}) {
    this.#address = address;
    this.#paths = new PathAdvertiser(port, {
      onApplied: (op, path) =>
        options.onApplied?.(op === "delete" ? [] : communitiesOf(path.fingerprint)),
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.retryMinMs !== undefined ? { retryMinMs: options.retryMinMs } : {}),
      ...(options.retryMaxMs !== undefined ? { retryMaxMs: options.retryMaxMs } : {}),
    });
  }

  /** The communities gobgpd holds for us, if known. */
  get advertised(): readonly Community[] | undefined {
    const held = this.#paths.advertised;
    if (held === undefined) return undefined;
    return held.length === 0 ? [] : communitiesOf(held[0]!.fingerprint);
  }

  /** True when gobgpd holds exactly the desired state. */
  get settled(): boolean {
    return this.#wanted && this.#paths.settled;
  }

  /** Sets the whole desired set of communities; empty means "withdraw". */
  set(communities: readonly Community[]): void {
    const sorted = sortedCommunities(communities);
    this.#paths.set(sorted.length === 0 ? [] : [membershipPath(this.#address, sorted)]);
    if (this.#wanted) return;
    this.#wanted = true;
    this.#paths.assume([membershipPath(this.#address, [])]);
  }

  /** Forgets what gobgpd holds (it restarted, or may have) and writes again. */
  resend(): void {
    if (this.#wanted) this.#paths.assume([membershipPath(this.#address, [])]);
  }

  /**
   * Shutdown: withdraws the path and stops. Resolves when gobgpd confirmed,
   * or after `timeoutMs` (then the path may remain; it is replaced by the next
   * run of the agent on this node).
   */
  withdraw(timeoutMs: number): Promise<boolean> {
    return this.#paths.withdrawAll(timeoutMs, [membershipPath(this.#address, [])]);
  }

  /** Stops the worker without touching gobgpd. */
  stop(): void {
    this.#paths.stop();
  }
}

/** The communities of a fingerprint: numbers are standard, "G:L1:L2" large. */
function communitiesOf(fingerprint: string): Community[] {
  if (fingerprint === "") return [];
  return fingerprint.split(",").map((c) => c.includes(":") ? c as LargeCommunity : Number(c));
}
