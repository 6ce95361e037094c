/**
 * What this node says about its own devices in EVPN Type 2 routes: each
 * device's MAC and addresses (IPv4 and IPv6, link-local included), kept
 * from link and address notifications, and the MAC/IP pairs they make: one
 * MAC-only route for the MAC and one MAC+IP route per address, as FRR
 * advertises an SVI. Pure.
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";

/** One own Type 2 route: `ip` undefined is the MAC-only route. */
export interface OwnMacIp {
  mac: string;
  ip: IpAddress | undefined;
}

interface Device {
  mac: string | undefined;
  addresses: Set<IpAddress>;
}

/** Devices' MACs and addresses by ifindex, from listings and notifications. */
export class DeviceAddresses {
  #devices = new Map<number, Device>();

  /** The device's MAC as a link listing or notification reports it; true when it changed. */
  setMac(ifindex: number, mac: string | undefined): boolean {
    if (mac === undefined) return false; // a partial notification says nothing
    const device = this.#device(ifindex);
    if (device.mac === mac) return false;
    device.mac = mac;
    return true;
  }

  /** An address appeared (`present`) or went; true when it changed. */
  setAddress(ifindex: number, ip: IpAddress, present: boolean): boolean {
    const device = this.#device(ifindex);
    if (device.addresses.has(ip) === present) return false;
    if (present) device.addresses.add(ip);
    else device.addresses.delete(ip);
    return true;
  }

  /** Replaces every device's addresses from a full listing; returns the ifindexes that changed. */
  replaceAddresses(all: ReadonlyMap<number, readonly IpAddress[]>): number[] {
    const changed: number[] = [];
    for (const [ifindex, device] of this.#devices) {
      const next = new Set(all.get(ifindex) ?? []);
      const same = next.size === device.addresses.size &&
        [...next].every((ip) => device.addresses.has(ip));
      if (same) continue;
      device.addresses = next;
      changed.push(ifindex);
    }
    for (const [ifindex, list] of all) {
      if (this.#devices.has(ifindex)) continue;
      this.#devices.set(ifindex, { mac: undefined, addresses: new Set(list) });
      changed.push(ifindex);
    }
    return changed;
  }

  /** The device is gone. */
  forget(ifindex: number): void {
    this.#devices.delete(ifindex);
  }

  /** The device's MAC, if known. */
  mac(ifindex: number): string | undefined {
    return this.#devices.get(ifindex)?.mac;
  }

  /** The device's addresses, sorted. */
  addresses(ifindex: number): IpAddress[] {
    return [...this.#devices.get(ifindex)?.addresses ?? []].sort();
  }

  /** The device's own Type 2 routes: MAC-only first, then one per address. None without a MAC. */
  ownRoutes(ifindex: number): OwnMacIp[] {
    const mac = this.mac(ifindex);
    if (mac === undefined) return [];
    return [{ mac, ip: undefined }, ...this.addresses(ifindex).map((ip) => ({ mac, ip }))];
  }

  #device(ifindex: number): Device {
    let device = this.#devices.get(ifindex);
    if (!device) this.#devices.set(ifindex, device = { mac: undefined, addresses: new Set() });
    return device;
  }
}
