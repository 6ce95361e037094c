/**
 * The kernel side of the pipeline: link and neighbour notifications (and
 * full re-reads) go into the VNI registry; VNIs coming online or going
 * offline attach to or detach from the reconciler, drive the own-device
 * lifecycle, and change the membership.
 *
 * @module
 */
import { logger } from "../log.ts";
import type { IpAddress } from "../net/ip.ts";
import { FLOOD_MAC } from "../net/mac.ts";
import type { AddrEvent, IpNeighEvent, LinkEvent, NeighEvent } from "../netlink/types.ts";
import type { DeviceAddresses } from "../overlay/local_macs.ts";
import type { LinkOutcome, Vni, VniRegistry } from "../overlay/vnis.ts";
import { OwnDevices } from "../reconcile/devices.ts";
import type { Reconciler } from "../reconcile/reconciler.ts";
import type { ResyncTrigger } from "../status/types.ts";
import type { MacEntries } from "./mac_entries.ts";
import type { AddressPort, EventHandlers, LinkPort } from "./ports.ts";

const log = logger("link");

/**
 * The EVPN MAC/IP half (`mode: evpn`): unicast FDB and neighbour entries,
 * and the devices' own MACs and addresses behind our Type 2 routes.
 */
export interface MacSide {
  unicast: Reconciler;
  neighbours: Reconciler;
  entries: MacEntries;
  devices: DeviceAddresses;
  /** Address listings (the start and every resync); none: MAC-only routes. */
  addresses?: AddressPort;
  /** An online VNI's device changed its MAC or addresses: our Type 2 routes follow. */
  onLocalChange(vni: Vni): void;
}

export interface KernelSideOptions {
  links: LinkPort;
  vnis: VniRegistry;
  reconciler: Reconciler;
  /** The EVPN MAC/IP half; undefined in community-only mode. */
  macs?: MacSide;
  node: {
    autoRecreateVxlan: boolean;
    localInterface: string;
    localAddress: IpAddress;
    vxlanPort: number;
  };
  /** The set of online VNIs may have changed. */
  onMembership(): void;
  /** Kernel notifications were lost (socket overrun); a resync follows. */
  onOverrun?(): void;
  /** A full resync (flood entries relisted) starts, and why. */
  onResync?(trigger: ResyncTrigger): void;
}

export class KernelSide {
  #opts: KernelSideOptions;
  readonly devices: OwnDevices;
  #stopped = false;

  constructor(options: KernelSideOptions) {
    this.#opts = options;
    const { links, node } = options;
    this.devices = new OwnDevices({
      links,
      enabled: node.autoRecreateVxlan,
      localInterface: node.localInterface,
      localAddress: node.localAddress,
      vxlanPort: node.vxlanPort,
      events: {
        created: (device, vni, local, port) =>
          log.info("Created {device} (VNI {vni}, local {local}, dstport {port}, nolearning)", {
            device,
            vni,
            local,
            port,
          }),
        observed: (link) => {
          this.#apply(options.vnis.observeLink(link));
          options.onMembership();
        },
        underlayMissing: (underlay, device) =>
          log.warning("Underlay device {underlay} not found; creating {device} without dev", {
            underlay,
            device,
          }),
        createFailed: (device, error) =>
          log.error("Cannot create {device}: {error}", { device, error: message(error) }),
        deleted: (device) => log.info("Deleted {device}, which this agent had created", { device }),
        deleteFailed: (device, error) =>
          log.warning("Cannot delete {device}: {error}", { device, error: message(error) }),
      },
    });
  }

  /**
   * Lists links again; with a `trigger`, every managed device's flood entries
   * too (a full resync). Without one: the start-up listing.
   */
  resync(trigger?: ResyncTrigger): void {
    if (this.#stopped) return;
    const relist = trigger !== undefined;
    if (relist) this.#opts.onResync?.(trigger);
    const { links, vnis, reconciler } = this.#opts;
    const all = links.listLinks();
    const present = new Set(all.map((l) => l.ifindex));
    for (const vni of vnis.online()) {
      if (vni.ifindex !== undefined && !present.has(vni.ifindex)) {
        this.#apply(vnis.removeLink(vni.ifindex));
      }
    }
    for (const link of all) this.#apply(vnis.observeLink(link));
    this.#relistMacs(all, relist);
    if (relist) reconciler.resync();
    this.devices.ensure(vnis.all());
    this.#opts.onMembership();
  }

  /** Handlers for the notification socket; `failed` hears of a socket failure. */
  handlers(failed: (error: Error) => void): EventHandlers {
    return {
      onLink: (event) => this.onLink(event),
      onNeigh: (event) => this.onNeigh(event),
      // Only the EVPN Type 2 half needs these: without it the socket neither
      // joins the address groups nor parses ARP/ND notifications.
      ...(this.#opts.macs
        ? {
          onIpNeigh: (event: IpNeighEvent) => this.onIpNeigh(event),
          onAddr: (event: AddrEvent) => this.onAddr(event),
        }
        : {}),
      onOverrun: () => {
        this.#opts.onOverrun?.();
        log.warning("Kernel notifications were lost (socket overrun): full resync");
        this.resync("netlink_overrun");
      },
      onError: (error) => {
        failed(error);
        log.error("Kernel notification socket failed: {error}; full resync", {
          error: error.message,
        });
        this.resync("netlink_error");
      },
    };
  }

  onLink(event: LinkEvent): void {
    if (this.#stopped) return;
    const { links, vnis } = this.#opts;
    const ifindex = event.link.ifindex;
    const current = event.type === "del" ? undefined : links.getLinkByIndex(ifindex);
    if (!current) {
      this.devices.forget(ifindex);
      this.#apply(vnis.removeLink(ifindex));
      this.#opts.macs?.devices.forget(ifindex);
    } else {
      this.#apply(vnis.observeLink(current));
      if (this.#opts.macs?.devices.setMac(ifindex, current.mac)) this.#localChanged(ifindex);
    }
    this.#opts.onMembership();
  }

  onNeigh(event: NeighEvent): void {
    if (this.#stopped || event.dst === undefined) return;
    if (event.mac === FLOOD_MAC) {
      this.#opts.reconciler.observe(event.ifindex, event.dst, event.type === "new");
      return;
    }
    const macs = this.#opts.macs;
    if (!macs) return;
    const unicast = macs.unicast;
    if (macs.entries.onFdb(event, (...seen) => unicast.observe(...seen))) {
      unicast.markDevice(event.ifindex);
    }
  }

  /** An ARP/ND notification: drift of our neighbour entries, or a user's coming or going. */
  onIpNeigh(event: IpNeighEvent): void {
    const macs = this.#opts.macs;
    if (this.#stopped || !macs) return;
    const neighbours = macs.neighbours;
    if (macs.entries.onNeigh(event, (...seen) => neighbours.observe(...seen))) {
      neighbours.markDevice(event.ifindex);
    }
  }

  /** An address came or went: our Type 2 routes of that device follow. */
  onAddr(event: AddrEvent): void {
    const macs = this.#opts.macs;
    if (this.#stopped || !macs) return;
    if (macs.devices.setAddress(event.ifindex, event.ip, event.type === "new")) {
      this.#localChanged(event.ifindex);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.devices.close();
  }

  /** Device MACs and addresses from a full listing; with `relist`, the MAC entries too. */
  #relistMacs(all: readonly { ifindex: number; mac?: string }[], relist: boolean): void {
    const macs = this.#opts.macs;
    if (!macs) return;
    const changed = new Set<number>();
    for (const link of all) {
      if (macs.devices.setMac(link.ifindex, link.mac)) changed.add(link.ifindex);
    }
    if (macs.addresses) {
      for (const ifindex of macs.devices.replaceAddresses(macs.addresses.listAddresses())) {
        changed.add(ifindex);
      }
    }
    for (const ifindex of changed) this.#localChanged(ifindex);
    if (relist) {
      macs.unicast.resync();
      macs.neighbours.resync();
    }
  }

  #localChanged(ifindex: number): void {
    const vni = this.#opts.vnis.byIfindex(ifindex);
    if (vni) this.#opts.macs?.onLocalChange(vni);
  }

  #apply(outcome: LinkOutcome): void {
    const { reconciler, macs } = this.#opts;
    for (const warning of outcome.warnings) log.warning(warning);
    for (const vni of outcome.offline) {
      log.info("VNI {vni} is offline: device {device} is gone", {
        vni: vni.id,
        device: vni.device,
      });
      reconciler.detach(vni.id);
      if (macs) {
        macs.unicast.detach(vni.id);
        macs.neighbours.detach(vni.id);
        if (vni.ifindex !== undefined) macs.entries.forget(vni.ifindex);
        macs.onLocalChange(vni);
      }
      this.devices.recreateLater(vni);
    }
    for (const vni of outcome.online) {
      log.info("VNI {vni} is online on {device} (ifindex {ifindex})", {
        vni: vni.id,
        device: vni.device,
        ifindex: vni.ifindex,
      });
      const target = { vni: vni.id, ifindex: vni.ifindex!, device: vni.device };
      reconciler.attach(target);
      if (macs) {
        macs.entries.forget(target.ifindex);
        macs.unicast.attach(target);
        macs.neighbours.attach(target);
        macs.onLocalChange(vni);
      }
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
