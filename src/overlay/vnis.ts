/**
 * Which VNIs this node serves, their communities, and which are online (their
 * vxlan device exists in the kernel). Pure: links are fed in by the caller.
 *
 * Two modes, as in the seed: static (`vnis` in the config) and discovery
 * (no `vnis`: every vxlan device is a VNI with community `communityAsn:VNI`,
 * or the large `communityAsn:0:VNI` above 65535 or with `communityFormat: large`).
 *
 * @module
 */
import type { IpAddress } from "../net/ip.ts";
import {
  type Community,
  type CommunityFormat,
  isVniCommunityOf,
  vniCommunity,
} from "../net/community.ts";
import { defaultRouteDistinguisher, type RouteDistinguisher } from "../net/route_distinguisher.ts";
import { defaultRouteTarget, type RouteTarget, routeTargetKey } from "../net/route_target.ts";

/**
 * A kernel device as the registry sees it (the kernel edge's link type fits
 * it). Undefined fields were not reported.
 */
export interface Device {
  ifindex: number;
  name: string;
  /** `"vxlan"`, `"veth"`, ... or undefined. */
  kind: string | undefined;
  /** VXLAN only: the VNI. */
  vni?: number;
  /** VXLAN only: the device's local address. */
  local?: IpAddress;
}

/** One configured VNI (the resolved config's `vnis[]` fits it). */
export interface VniSpec {
  id: number;
  community: Community;
  device: string;
  underlayInterface: string | undefined;
  /** EVPN route targets (imported from any, all exported). @default none */
  routeTargets?: readonly RouteTarget[];
  /** EVPN RD. @default type 1 `<local address>:<id mod 65536>` */
  rd?: RouteDistinguisher | undefined;
}

/** One VNI the node serves. */
export interface Vni {
  id: number;
  community: Community;
  /** Kernel device name. */
  device: string;
  /** Ifindex while online; undefined while the device is absent. */
  ifindex: number | undefined;
  /** True when the VNI comes from the config (not discovered). */
  configured: boolean;
  /** Underlay device for auto-creation (configured VNIs only). */
  underlayInterface: string | undefined;
  /** While online: the device's own local address, as last seen (undefined: none). */
  local?: IpAddress | undefined;
  /** EVPN route targets: a received route with any of them belongs to this VNI. */
  routeTargets: readonly RouteTarget[];
  /** EVPN RD of our routes; undefined only when the registry knows no local address. */
  rd: RouteDistinguisher | undefined;
}

/** What changed after a link was seen or removed. */
export interface LinkOutcome {
  /** VNIs that came online. */
  online: Vni[];
  /** VNIs that went offline. */
  offline: Vni[];
  /** Human-readable problems (wrong kind, VNI mismatch, ...), one per line. */
  warnings: string[];
}

/** What changed after {@linkcode VniRegistry.reconfigure}. */
export interface ReconfigureOutcome {
  /** VNIs no longer configured, as they were (an online one still has its ifindex). */
  removed: Vni[];
  /** VNIs newly configured (offline until their device is observed). */
  added: Vni[];
  /** VNIs that stay with a new community (online ones keep their ifindex). */
  recommunitied: Vni[];
  /** VNIs that stay with new EVPN route targets or RD. */
  retargeted: Vni[];
}

/** The largest VNI (24 bits): discovery keeps route targets `ASN:<VNI>` up to it. */
const MAX_VNI_ID = 0xffffff;

export type VniMode =
  | { kind: "static"; vnis: readonly VniSpec[] }
  | { kind: "discover"; asn: number; format: CommunityFormat };

export class VniRegistry {
  #mode: VniMode;
  #byId = new Map<number, Vni>();
  #byCommunity = new Map<Community, Vni>();
  #byRouteTarget = new Map<string, Vni>();

  #localAddress: string | undefined;
  /** The IPv4 administrator of default route distinguishers. */
  #rdAdmin: string | undefined;

  /**
   * @param localAddress the node's VTEP address: a device whose own local
   *   address differs is served, with a warning (peers send to this one).
   */
  constructor(mode: VniMode, localAddress?: string, rdAdmin?: string) {
    this.#mode = mode;
    this.#localAddress = localAddress;
    this.#rdAdmin = rdAdmin || localAddress;
    if (mode.kind === "static") {
      for (const config of mode.vnis) this.#add(this.#fromSpec(config));
    }
  }

  #fromSpec(spec: VniSpec): Vni {
    return {
      id: spec.id,
      community: spec.community,
      device: spec.device,
      ifindex: undefined,
      configured: true,
      underlayInterface: spec.underlayInterface,
      routeTargets: [...spec.routeTargets ?? []],
      rd: this.#rd(spec.id, spec.rd),
    };
  }

  #rd(id: number, explicit: RouteDistinguisher | undefined): RouteDistinguisher | undefined {
    if (explicit !== undefined) return explicit;
    const admin = this.#rdAdmin;
    return admin ? defaultRouteDistinguisher(admin as IpAddress, id) : undefined;
  }

  /**
   * Replaces the static VNIs (a reload). A VNI that stays keeps its entry and
   * its online state; a changed community is changed in place; a changed
   * device name counts as removed and added. Refused in discovery mode.
   */
  reconfigure(specs: readonly VniSpec[]): ReconfigureOutcome {
    if (this.#mode.kind !== "static") {
      throw new TypeError("Cannot reconfigure VNIs in discovery mode: restart the agent");
    }
    const out: ReconfigureOutcome = { removed: [], added: [], recommunitied: [], retargeted: [] };
    const next = new Map(specs.map((spec) => [spec.id, spec]));
    for (const vni of this.all()) {
      const spec = next.get(vni.id);
      if (spec && spec.device === vni.device) continue;
      this.#byId.delete(vni.id);
      this.#byCommunity.delete(vni.community);
      vni.configured = false;
      out.removed.push(vni);
    }
    this.#byCommunity.clear();
    this.#byRouteTarget.clear();
    for (const spec of specs) {
      let vni = this.#byId.get(spec.id);
      if (!vni) {
        vni = this.#fromSpec(spec);
        out.added.push(vni);
      } else {
        if (vni.community !== spec.community) {
          vni.community = spec.community;
          out.recommunitied.push(vni);
        }
        const rd = this.#rd(spec.id, spec.rd);
        if (
          vni.routeTargets.map(routeTargetKey).join() !==
            (spec.routeTargets ?? []).map(routeTargetKey).join() ||
          JSON.stringify(vni.rd) !== JSON.stringify(rd)
        ) {
          vni.routeTargets = [...spec.routeTargets ?? []];
          vni.rd = rd;
          out.retargeted.push(vni);
        }
      }
      vni.underlayInterface = spec.underlayInterface;
      this.#add(vni);
    }
    this.#mode = { kind: "static", vnis: specs };
    return out;
  }

  /** True when routes with `community` can matter to this node, now or later. */
  keeps(community: Community): boolean {
    if (this.#mode.kind === "static") return this.#byCommunity.has(community);
    return isVniCommunityOf(community, this.#mode.asn, this.#mode.format);
  }

  /** True when EVPN routes with route target `rt` can matter to this node, now or later. */
  keepsRouteTarget(rt: RouteTarget): boolean {
    if (this.#mode.kind === "static") return this.#byRouteTarget.has(routeTargetKey(rt));
    return rt.kind === "as2" && rt.asn === this.#mode.asn && rt.value >= 1 &&
      rt.value <= MAX_VNI_ID;
  }

  /** The VNI that route target `rt` (its {@linkcode routeTargetKey}) maps to, if known. */
  byRouteTarget(key: string): Vni | undefined {
    return this.#byRouteTarget.get(key);
  }

  /** The VNI that `community` maps to, if known. */
  byCommunity(community: Community): Vni | undefined {
    return this.#byCommunity.get(community);
  }

  byId(id: number): Vni | undefined {
    return this.#byId.get(id);
  }

  byIfindex(ifindex: number): Vni | undefined {
    for (const vni of this.#byId.values()) if (vni.ifindex === ifindex) return vni;
    return undefined;
  }

  /** Every known VNI (online or not), by id ascending. */
  all(): Vni[] {
    return [...this.#byId.values()].sort((a, b) => a.id - b.id);
  }

  /** The online VNIs, by id ascending. */
  online(): Vni[] {
    return this.all().filter((vni) => vni.ifindex !== undefined);
  }

  /**
   * Feeds a link as it now is in the kernel (full information, not a partial
   * notification). Decides whether it brings a VNI online, takes one offline
   * (renamed, changed kind or VNI), or is none of our business.
   */
  observeLink(link: Device): LinkOutcome {
    const out: LinkOutcome = { online: [], offline: [], warnings: [] };
    // A device we had under this ifindex that no longer matches goes offline first.
    const previous = this.byIfindex(link.ifindex);
    if (previous && !this.#matches(previous, link)) {
      this.#setOffline(previous, out);
    }
    if (this.#mode.kind === "static") {
      const vni = this.#configuredFor(link.name);
      if (!vni) return out;
      if (link.kind !== "vxlan") {
        out.warnings.push(
          `device "${link.name}" exists but is a ${link.kind ?? "non-vxlan"} link, not vxlan: ` +
            `VNI ${vni.id} stays offline and the device is left alone`,
        );
        return out;
      }
      if (link.vni !== vni.id) {
        out.warnings.push(
          `device "${link.name}" carries VNI ${link.vni ?? "?"} but the config says ${vni.id}: ` +
            `VNI ${vni.id} stays offline and the device is left alone`,
        );
        return out;
      }
      this.#setOnline(vni, link.ifindex, out, link);
      return out;
    }
    // Discovery mode.
    if (link.kind !== "vxlan" || link.vni === undefined) return out;
    const id = link.vni;
    let vni = this.#byId.get(id);
    if (vni && vni.ifindex !== undefined && vni.ifindex !== link.ifindex) {
      out.warnings.push(
        `device "${link.name}" carries VNI ${id}, already served by "${vni.device}": ignored`,
      );
      return out;
    }
    if (!vni) {
      vni = {
        id,
        community: vniCommunity(this.#mode.asn, id, this.#mode.format),
        device: link.name,
        ifindex: undefined,
        configured: false,
        underlayInterface: undefined,
        routeTargets: [defaultRouteTarget(this.#mode.asn, id)],
        rd: this.#rd(id, undefined),
      };
      this.#add(vni);
    }
    vni.device = link.name;
    this.#setOnline(vni, link.ifindex, out, link);
    return out;
  }

  /** A link disappeared (RTM_DELLINK). */
  removeLink(ifindex: number): LinkOutcome {
    const out: LinkOutcome = { online: [], offline: [], warnings: [] };
    const vni = this.byIfindex(ifindex);
    if (vni) this.#setOffline(vni, out);
    return out;
  }

  #configuredFor(name: string): Vni | undefined {
    for (const vni of this.#byId.values()) if (vni.device === name) return vni;
    return undefined;
  }

  #matches(vni: Vni, link: Device): boolean {
    if (link.kind !== "vxlan" || link.vni !== vni.id) return false;
    return this.#mode.kind === "discover" || link.name === vni.device;
  }

  #setOnline(vni: Vni, ifindex: number, out: LinkOutcome, link?: Device) {
    if (vni.ifindex === ifindex) {
      vni.local = link?.local;
      return;
    }
    if (link?.local !== undefined && this.#localAddress && link.local !== this.#localAddress) {
      out.warnings.push(
        `device "${link.name}" has local address ${link.local}, but this node advertises ` +
          `${this.#localAddress} as its VTEP: peers will send VNI ${vni.id} traffic to ` +
          `${this.#localAddress}; re-create the device with local ${this.#localAddress} ` +
          `or set node.localAddress`,
      );
    }
    if (vni.ifindex !== undefined) this.#setOffline(vni, out);
    vni.ifindex = ifindex;
    vni.local = link?.local;
    out.online.push(vni);
  }

  #setOffline(vni: Vni, out: LinkOutcome) {
    if (vni.ifindex === undefined) return;
    vni.ifindex = undefined;
    vni.local = undefined;
    out.offline.push(vni);
  }

  #add(vni: Vni) {
    this.#byId.set(vni.id, vni);
    this.#byCommunity.set(vni.community, vni);
    for (const rt of vni.routeTargets) this.#byRouteTarget.set(routeTargetKey(rt), vni);
  }
}
