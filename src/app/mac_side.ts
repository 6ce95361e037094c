/**
 * The EVPN MAC/IP half of the agent (`mode: evpn`), built in one place:
 * received Type 2 routes (`RemoteMacs`, the desired state's `MacIpSink`)
 * into two reconcilers of the generic kind, unicast FDB entries and
 * neighbour entries (`mac_entries.ts`); the devices' own MACs and
 * addresses (`DeviceAddresses`) for our Type 2 routes; and their status.
 *
 * @module
 */
import { logger } from "../log.ts";
import type { IpAddress } from "../net/ip.ts";
import { routeTargetKey } from "../net/route_target.ts";
import { DeviceAddresses, type OwnMacIp } from "../overlay/local_macs.ts";
import { RemoteMacs } from "../overlay/remote_macs.ts";
import type { SkipReason } from "../overlay/route.ts";
import type { Vni, VniRegistry } from "../overlay/vnis.ts";
import { Reconciler } from "../reconcile/reconciler.ts";
import type { MacIpStatus } from "../status/types.ts";
import { entriesStatus } from "../status/views.ts";
import type { MacSide } from "./kernel_side.ts";
import { loggedMacWrites, MacEntries } from "./mac_entries.ts";
import type { AddressPort, NeighbourPort, UnicastFdbPort } from "./ports.ts";

const log = logger("fdb");

export interface MacIpHalfOptions {
  /** The VNI registry (read when routes and devices need it). */
  vnis: () => VniRegistry;
  localAddress: IpAddress;
  unicast: UnicastFdbPort;
  neighbours: NeighbourPort;
  addresses?: AddressPort | undefined;
  /** A VNI's own Type 2 routes may have changed: hand the set to the advertiser. */
  onLocalChange(): void;
  /** A received Type 2 route was skipped. */
  skipped(reason: SkipReason, detail: string): void;
  /** After every flush of either reconciler that had work. */
  onFlush?(result: { seconds: number; ok: boolean; done: boolean }): void;
}

export class MacIpHalf {
  readonly remote: RemoteMacs;
  readonly entries = new MacEntries();
  readonly devices = new DeviceAddresses();
  readonly unicast: Reconciler;
  readonly neighbours: Reconciler;
  #opts: MacIpHalfOptions;

  constructor(options: MacIpHalfOptions) {
    this.#opts = options;
    const ifindexOf = (vni: number) => options.vnis().byId(vni)?.ifindex ?? 0;
    this.remote = new RemoteMacs({
      targets: {
        keepsRouteTarget: (rt) => options.vnis().keepsRouteTarget(rt),
        vniOf: (key) => options.vnis().byRouteTarget(key)?.id,
        importsOf: (vni) => options.vnis().byId(vni)?.routeTargets.map(routeTargetKey),
      },
      localAddress: options.localAddress,
      onDirty: (vni) => {
        this.unicast.markDirty(vni);
        this.neighbours.markDirty(vni);
      },
      skipped: (skip) => options.skipped(skip.reason, skip.detail),
    });
    const onFlush = options.onFlush;
    this.unicast = new Reconciler({
      port: this.entries.unicastPort(options.unicast),
      desired: (vni) => this.entries.unicastFor(ifindexOf(vni), this.remote.view(vni).unicast),
      ...loggedMacWrites("unicast", log),
      ...(onFlush ? { onFlush } : {}),
    });
    this.neighbours = new Reconciler({
      port: this.entries.neighbourPort(options.neighbours),
      desired: (vni) =>
        this.entries.neighboursFor(ifindexOf(vni), this.remote.view(vni).neighbours),
      ...loggedMacWrites("neighbour", log),
      ...(onFlush ? { onFlush } : {}),
    });
  }

  /** The kernel side's view of this half. */
  kernel(): MacSide {
    return {
      unicast: this.unicast,
      neighbours: this.neighbours,
      entries: this.entries,
      devices: this.devices,
      ...(this.#opts.addresses ? { addresses: this.#opts.addresses } : {}),
      onLocalChange: () => this.#opts.onLocalChange(),
    };
  }

  /** Our Type 2 routes for an online VNI's device; none while offline or without a MAC. */
  ownRoutes(vni: Vni): readonly OwnMacIp[] {
    return vni.ifindex === undefined ? [] : this.devices.ownRoutes(vni.ifindex);
  }

  /**
   * The VNI's Type 2 side for `/status`, from memory. `kernelView`: show as
   * programmed what the kernel last reported (a dry run, whose writes never
   * happen), not what the reconcilers wrote.
   */
  status(vni: Vni, kernelView = false): MacIpStatus {
    const online = vni.ifindex !== undefined;
    const ifindex = vni.ifindex ?? 0;
    const view = this.remote.view(vni.id);
    return {
      ownRoutes: this.ownRoutes(vni).map(({ mac, ip }) => ip === undefined ? mac : `${mac} ${ip}`),
      remoteMacs: entriesStatus(
        this.entries.unicastFor(ifindex, view.unicast),
        kernelView ? this.entries.seenUnicast(ifindex) : this.unicast.programmed(vni.id),
        online,
        online ? this.entries.foreignMacs(ifindex) : 0,
      ),
      neighbours: entriesStatus(
        this.entries.neighboursFor(ifindex, view.neighbours),
        kernelView ? this.entries.seenNeighbours(ifindex) : this.neighbours.programmed(vni.id),
        online,
        online ? this.entries.foreignIps(ifindex) : 0,
      ),
    };
  }

  close(): void {
    this.unicast.close();
    this.neighbours.close();
  }
}
