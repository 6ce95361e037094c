/**
 * The multi-VNI scenario of the seed's validation section, on the lab
 * topology (hub + 3 spokes): VNI 10010 joins spokes 1 and 2, VNI 10011
 * joins spokes 1 and 3. Used by `scripts/lab.ts` and `tests/e2e_test.ts`.
 *
 * Overlay address plan: VNI 10010 → 198.51.100.<i>/24 on spoke i,
 * VNI 10011 → 198.18.11.<i>/24 on spoke i.
 *
 * Cross-VNI probes. Without help, "spoke2 cannot reach 198.18.11.3" would
 * prove nothing: spoke2 has no route to 198.18.11.0/24 at all and ping fails
 * with "Network is unreachable" before a packet leaves. So each probing
 * spoke also gets an address of the *other* overlay's subnet on its own
 * VXLAN device (spoke2: 198.18.11.2/24 on vxlan10010; spoke3:
 * 198.51.100.3/24 on vxlan10011). The target is then on-link: the sender
 * ARPs for it through its own VNI, and the ping fails only because the
 * target sits in another VXLAN segment, which is the isolation we mean to
 * show. The probe addresses do not collide with any target: spoke1 never
 * answers for .2/.3 addresses it does not own.
 *
 * @module
 */

import type { LabNode, Rib, Topology } from "./topology.ts";

/** One VXLAN device of the scenario. */
export interface DevicePlan {
  spoke: number;
  vni: number;
  /** The device's overlay address. */
  address: string;
  /** Extra addresses used only as cross-VNI probe sources (see the module doc). */
  probeAddresses: string[];
}

export const VNI_A = 10010;
export const VNI_B = 10011;

export const DEVICES: readonly DevicePlan[] = [
  { spoke: 1, vni: VNI_A, address: "198.51.100.1/24", probeAddresses: [] },
  { spoke: 1, vni: VNI_B, address: "198.18.11.1/24", probeAddresses: [] },
  { spoke: 2, vni: VNI_A, address: "198.51.100.2/24", probeAddresses: ["198.18.11.2/24"] },
  { spoke: 3, vni: VNI_B, address: "198.18.11.3/24", probeAddresses: ["198.51.100.3/24"] },
];

/** Expected flood lists, by "spoke<i>/vxlan<VNI>". */
export const EXPECTED_FLOOD: Readonly<Record<string, string[]>> = {
  "spoke1/vxlan10010": ["192.0.2.12"],
  "spoke1/vxlan10011": ["192.0.2.13"],
  "spoke2/vxlan10010": ["192.0.2.11"],
  "spoke3/vxlan10011": ["192.0.2.11"],
};

/** Expected hub RIB (ipv4): each spoke's /32 with one community per VNI it has. */
export const EXPECTED_RIB: Readonly<Rib> = {
  "192.0.2.11/32": ["65000:10010", "65000:10011"],
  "192.0.2.12/32": ["65000:10010"],
  "192.0.2.13/32": ["65000:10011"],
};

/** One data-plane check. */
export interface PingPlan {
  from: number;
  to: string;
  /** The device the sender's route must use (checked with `ip route get`). */
  via: string;
  expect: boolean;
  why: string;
}

export const PINGS: readonly PingPlan[] = [
  { from: 1, to: "198.51.100.2", via: "vxlan10010", expect: true, why: "same VNI 10010" },
  { from: 2, to: "198.51.100.1", via: "vxlan10010", expect: true, why: "same VNI 10010" },
  { from: 1, to: "198.18.11.3", via: "vxlan10011", expect: true, why: "same VNI 10011" },
  { from: 3, to: "198.18.11.1", via: "vxlan10011", expect: true, why: "same VNI 10011" },
  {
    from: 2,
    to: "198.18.11.3",
    via: "vxlan10010",
    expect: false,
    why: "cross VNI: spoke2 (10010) to spoke3 (10011)",
  },
  {
    from: 3,
    to: "198.51.100.2",
    via: "vxlan10011",
    expect: false,
    why: "cross VNI: spoke3 (10011) to spoke2 (10010)",
  },
];

/** Creates one planned device with its overlay and probe addresses. */
export async function createDevice(topo: Topology, plan: DevicePlan): Promise<void> {
  const node: LabNode = topo.spoke(plan.spoke);
  const dev = await topo.addVxlan(node, plan.vni, plan.address);
  for (const probe of plan.probeAddresses) await topo.addAddress(node, dev, probe);
}

/** Creates every device of the scenario. */
export async function createDevices(topo: Topology): Promise<void> {
  for (const plan of DEVICES) await createDevice(topo, plan);
}
