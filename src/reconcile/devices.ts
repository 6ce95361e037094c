/**
 * The lifecycle of the devices this agent creates itself
 * (`node.autoRecreateVxlan`): create the configured devices that are
 * missing, re-create one that was deleted (at most once a second per VNI),
 * and on shutdown delete only those it created. Links the agent did not
 * create are never deleted.
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";
import type { Device, Vni } from "../overlay/vnis.ts";

/** Parameters of a VXLAN device to create (`ip link add ... type vxlan ... nolearning`). */
export interface DeviceSpec {
  name: string;
  vni: number;
  local?: IpAddress;
  port: number;
  underlayIfindex?: number;
}

/** The link operations the lifecycle needs. */
export interface DevicePort {
  getLink(name: string): Device | undefined;
  getLinkByIndex(ifindex: number): Device | undefined;
  /** The new device's ifindex; undefined when nothing was created (a dry run). */
  createVxlan(spec: DeviceSpec): number | undefined;
  deleteLink(ifindex: number, name?: string): void;
}

/** What the lifecycle reports; the caller logs. */
export interface DeviceEvents {
  created(device: string, vni: number, local: IpAddress, port: number): void;
  /** A created device as the kernel now reports it. */
  observed(link: Device): void;
  underlayMissing(underlay: string, device: string): void;
  createFailed(device: string, error: unknown): void;
  deleted(device: string): void;
  deleteFailed(device: string, error: unknown): void;
}

export interface OwnDevicesOptions {
  links: DevicePort;
  /** False: the lifecycle creates nothing (`node.autoRecreateVxlan: false`). */
  enabled: boolean;
  localInterface: string;
  localAddress: IpAddress;
  vxlanPort: number;
  events: DeviceEvents;
}

/** Minimum time between two automatic re-creations of one device. */
const RECREATE_MIN_INTERVAL_MS = 1_000;

export class OwnDevices {
  #opts: OwnDevicesOptions;
  /** Links this agent created itself (ifindex → name); the only ones it may delete. */
  #created = new Map<number, string>();
  #lastCreate = new Map<number, number>();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(options: OwnDevicesOptions) {
    this.#opts = options;
  }

  /** Creates every configured VNI's device that is missing. */
  ensure(vnis: readonly Vni[]): void {
    if (!this.#opts.enabled) return;
    for (const vni of vnis) if (vni.configured && vni.ifindex === undefined) this.#create(vni);
  }

  /** A VNI went offline: re-create its device, at most once a second. */
  recreateLater(vni: Vni): void {
    if (!this.#opts.enabled || !vni.configured || this.#closed) return;
    const last = this.#lastCreate.get(vni.id) ?? 0;
    const wait = Math.max(0, last + RECREATE_MIN_INTERVAL_MS - Date.now());
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed && vni.configured && vni.ifindex === undefined) this.#create(vni);
    }, wait);
    this.#timers.add(timer);
  }

  /** A link is gone: if it was ours, it is no longer ours to delete. */
  forget(ifindex: number): void {
    this.#created.delete(ifindex);
  }

  /** Stops re-creating. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
  }

  /** Deletes every link this agent created (shutdown). */
  deleteOwn(): void {
    for (const [ifindex, name] of this.#created) {
      try {
        this.#opts.links.deleteLink(ifindex, name);
        this.#opts.events.deleted(name);
      } catch (error) {
        this.#opts.events.deleteFailed(name, error);
      }
    }
  }

  #create(vni: Vni): void {
    const { links, events, localAddress, vxlanPort } = this.#opts;
    // Another link may hold the name (wrong kind or VNI): reported, left alone.
    if (links.getLink(vni.device)) return;
    this.#lastCreate.set(vni.id, Date.now());
    const underlayName = vni.underlayInterface ?? this.#opts.localInterface;
    const underlay = links.getLink(underlayName);
    const spec: DeviceSpec = { name: vni.device, vni: vni.id, port: vxlanPort };
    spec.local = localAddress;
    if (underlay) spec.underlayIfindex = underlay.ifindex;
    else events.underlayMissing(underlayName, vni.device);
    try {
      const ifindex = links.createVxlan(spec);
      if (ifindex === undefined) return; // nothing was created (dry run)
      this.#created.set(ifindex, vni.device);
      events.created(vni.device, vni.id, localAddress, vxlanPort);
      const link = links.getLinkByIndex(ifindex);
      if (link) events.observed(link);
    } catch (error) {
      events.createFailed(vni.device, error);
      this.recreateLater(vni);
    }
  }
}
