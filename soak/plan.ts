/**
 * The fault soak's plan, pure: the lab's shape, the model of which vxlan
 * devices exist, the faults a round draws from a seeded {@linkcode Rng}, and
 * what the truth is after a round (every flood list, every membership route).
 *
 * Nothing here touches the kernel or gobgpd; `soak/run.ts` executes a plan
 * on a real lab.
 *
 * @module
 */
import type { Rng } from "./rng.ts";

/** The lab the soak runs on. */
export interface Shape {
  /** Spokes 1..N (the hub, node 0, is a route reflector without devices). */
  spokes: number;
  asn: number;
  vnis: readonly number[];
  /** Devices present at the start, as {@linkcode DeviceKey}s. */
  initial: readonly DeviceKey[];
  /** Devices that no fault touches: the continuous ping runs over them. */
  protected: readonly DeviceKey[];
  /** The ping runs from `pingFrom` to `pingTo`'s overlay address in `pingVni`. */
  pingFrom: number;
  pingTo: number;
  pingVni: number;
  /** Spokes whose agent no fault stops (RSS growth is read on their one process). */
  longLived: readonly number[];
}

/** "<spoke>/<vni>", e.g. "3/10011". */
export type DeviceKey = `${number}/${number}`;

export const VNI_A = 10010;
export const VNI_B = 10011;

/** Hub + 4 spokes, two VNIs; spokes 1 and 2 keep their VNI 10010 devices and ping over them. */
export const SHAPE: Shape = {
  spokes: 4,
  asn: 65000,
  vnis: [VNI_A, VNI_B],
  initial: ["1/10010", "1/10011", "2/10010", "3/10010", "3/10011", "4/10011"],
  protected: ["1/10010", "2/10010"],
  pingFrom: 1,
  pingTo: 2,
  pingVni: VNI_A,
  longLived: [1],
};

/** Underlay (VTEP) address of spoke `i`. */
export function vtep(i: number): string {
  return `192.0.2.${10 + i}`;
}

/** Overlay address (CIDR) of spoke `i`'s device for `vni`. */
export function overlayCidr(i: number, vni: number): string {
  return vni === VNI_A ? `198.51.100.${i}/24` : `198.18.${vni % 256}.${i}/24`;
}

export function deviceKey(spoke: number, vni: number): DeviceKey {
  return `${spoke}/${vni}`;
}

export function parseDeviceKey(key: DeviceKey): { spoke: number; vni: number } {
  const [spoke, vni] = key.split("/").map(Number) as [number, number];
  return { spoke, vni };
}

/** Addresses used for hand-made stray flood entries: never a node's VTEP. */
export const STRAY_FIRST = 200;
export function strayAddress(n: number): string {
  return `192.0.2.${STRAY_FIRST + (n % 50)}`;
}

/** First address of the foreign-route bursts (unknown VNIs), inside 198.18.0.0/15. */
export const FOREIGN_FIRST = "198.18.200.0";
/** First community value of the foreign bursts: no device has a VNI there. */
export const FOREIGN_VALUE = 20000;

/**
 * Prefixes that must never become a flood entry although they carry the
 * communities of known VNIs: not VTEP addresses, or not host routes.
 */
export const HOSTILE_PREFIXES: readonly string[] = [
  "0.0.0.0/32",
  "0.1.2.3/32",
  "127.0.0.1/32",
  "169.254.1.1/32",
  "224.0.0.5/32",
  "240.0.0.1/32",
  "255.255.255.255/32",
  "198.18.64.0/24",
];

// ---------------------------------------------------------------------------
// Faults

/** One fault; `node` 0 is the hub. */
export type Fault =
  | { kind: "agent-kill"; spoke: number; restartAfterMs: number }
  | { kind: "agent-term"; spoke: number; restartAfterMs: number }
  | { kind: "gobgpd-kill"; node: number; restartAfterMs: number }
  | { kind: "device-toggle"; spoke: number; vni: number }
  | { kind: "flap-storm"; spoke: number; vni: number; cycles: number }
  | { kind: "drift-delete"; spoke: number; vni: number; dst: string }
  | { kind: "drift-stray"; spoke: number; vni: number; dst: string }
  | { kind: "routes-foreign"; count: number; holdMs: number }
  | { kind: "routes-hostile"; prefixes: string[]; holdMs: number };

export type FaultKind = Fault["kind"];

/** How often each kind is drawn, relative to the others. */
export const WEIGHTS: Readonly<Record<FaultKind, number>> = {
  "agent-kill": 3,
  "agent-term": 2,
  "gobgpd-kill": 3,
  "device-toggle": 3,
  "flap-storm": 2,
  "drift-delete": 2,
  "drift-stray": 2,
  "routes-foreign": 2,
  "routes-hostile": 2,
};

/** Probability that a round carries a second fault at the same time. */
export const SECOND_FAULT = 0.3;

/** One line that says what a fault does. */
export function describe(f: Fault): string {
  const name = (i: number) => (i === 0 ? "hub" : `spoke${i}`);
  switch (f.kind) {
    case "agent-kill":
      return `SIGKILL the agent on ${name(f.spoke)}, restart after ${f.restartAfterMs} ms`;
    case "agent-term":
      return `SIGTERM the agent on ${name(f.spoke)}, restart after ${f.restartAfterMs} ms`;
    case "gobgpd-kill":
      return `SIGKILL gobgpd on ${name(f.node)}, restart after ${f.restartAfterMs} ms`;
    case "device-toggle":
      return `toggle vxlan${f.vni} on ${name(f.spoke)}`;
    case "flap-storm":
      return `flap vxlan${f.vni} on ${name(f.spoke)} ${f.cycles} times (delete/create, down/up)`;
    case "drift-delete":
      return `delete the flood entry dst ${f.dst} on ${name(f.spoke)}'s vxlan${f.vni} by hand`;
    case "drift-stray":
      return `add a stray flood entry dst ${f.dst} on ${name(f.spoke)}'s vxlan${f.vni} by hand`;
    case "routes-foreign":
      return `burst of ${f.count} unknown-VNI routes at the hub for ${f.holdMs} ms`;
    case "routes-hostile":
      return `${f.prefixes.length} hostile routes with known VNIs at the hub for ${f.holdMs} ms`;
  }
}

/** Which devices exist now. */
export class Model {
  readonly shape: Shape;
  readonly present: Set<DeviceKey>;

  constructor(shape: Shape, present: Iterable<DeviceKey> = shape.initial) {
    this.shape = shape;
    this.present = new Set(present);
  }

  clone(): Model {
    return new Model(this.shape, this.present);
  }

  has(spoke: number, vni: number): boolean {
    return this.present.has(deviceKey(spoke, vni));
  }

  /** Every device key of the shape, present or not, in a stable order. */
  allDevices(): DeviceKey[] {
    const out: DeviceKey[] = [];
    for (let i = 1; i <= this.shape.spokes; i++) {
      for (const vni of this.shape.vnis) out.push(deviceKey(i, vni));
    }
    return out;
  }

  /** Devices a fault may delete or re-create. */
  mutable(): DeviceKey[] {
    return this.allDevices().filter((k) => !this.shape.protected.includes(k));
  }

  /** Expected flood list of a present device: the VTEPs of the other spokes with that VNI. */
  flood(spoke: number, vni: number): string[] {
    const out: string[] = [];
    for (let j = 1; j <= this.shape.spokes; j++) {
      if (j !== spoke && this.has(j, vni)) out.push(vtep(j));
    }
    return out;
  }

  /** Expected flood lists of every present device, by "spoke<i>/vxlan<VNI>". */
  floodLists(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const key of this.allDevices()) {
      if (!this.present.has(key)) continue;
      const { spoke, vni } = parseDeviceKey(key);
      out[`spoke${spoke}/vxlan${vni}`] = this.flood(spoke, vni);
    }
    return out;
  }

  /** Expected membership routes: one /32 per spoke with a device, its VNIs' communities. */
  rib(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (let i = 1; i <= this.shape.spokes; i++) {
      const communities = this.shape.vnis.filter((v) => this.has(i, v)).map((v) =>
        `${this.shape.asn}:${v}`
      );
      if (communities.length > 0) out[`${vtep(i)}/32`] = communities.sort();
    }
    return out;
  }
}

/** Draws one round: one fault, sometimes two that do not touch the same thing. */
export function drawRound(rng: Rng, model: Model): Fault[] {
  const first = drawFault(rng, model, []);
  if (!rng.chance(SECOND_FAULT)) return [first];
  for (let attempt = 0; attempt < 10; attempt++) {
    const second = drawFault(rng, model, [first]);
    if (second.kind !== first.kind && !conflicts(first, second)) return [first, second];
  }
  return [first];
}

function agentSpokes(shape: Shape): number[] {
  return Array.from({ length: shape.spokes }, (_, i) => i + 1).filter((i) =>
    !shape.longLived.includes(i)
  );
}

function drawFault(rng: Rng, model: Model, taken: readonly Fault[]): Fault {
  const shape = model.shape;
  for (let attempt = 0; attempt < 50; attempt++) {
    const kind = rng.weighted(WEIGHTS);
    const restartAfterMs = rng.pick([0, 0, 200, 1_000, 2_500]);
    switch (kind) {
      case "agent-kill":
      case "agent-term":
        return { kind, spoke: rng.pick(agentSpokes(shape)), restartAfterMs };
      case "gobgpd-kill": {
        // The hub one time in four: it takes every session down.
        const node = rng.chance(0.25) ? 0 : rng.int(1, shape.spokes);
        return { kind, node, restartAfterMs };
      }
      case "device-toggle": {
        const free = model.mutable().filter((k) => !touchesDevice(taken, k));
        if (free.length === 0) continue;
        return { kind, ...parseDeviceKey(rng.pick(free)) };
      }
      case "flap-storm": {
        const free = model.mutable().filter((k) =>
          model.present.has(k) && !touchesDevice(taken, k)
        );
        if (free.length === 0) continue;
        return { kind, ...parseDeviceKey(rng.pick(free)), cycles: rng.int(3, 20) };
      }
      case "drift-delete": {
        const withEntries = [...model.present].filter((k) => {
          const { spoke, vni } = parseDeviceKey(k);
          return !touchesDevice(taken, k) && model.flood(spoke, vni).length > 0;
        });
        if (withEntries.length === 0) continue;
        const { spoke, vni } = parseDeviceKey(rng.pick(withEntries));
        return { kind, spoke, vni, dst: rng.pick(model.flood(spoke, vni)) };
      }
      case "drift-stray": {
        const devices = [...model.present].filter((k) => !touchesDevice(taken, k));
        if (devices.length === 0) continue;
        return { kind, ...parseDeviceKey(rng.pick(devices)), dst: strayAddress(rng.int(0, 49)) };
      }
      case "routes-foreign":
        return { kind, count: rng.pick([20, 100, 500]), holdMs: rng.pick([0, 500, 2_000]) };
      case "routes-hostile": {
        const prefixes = HOSTILE_PREFIXES.filter(() => rng.chance(0.6));
        if (prefixes.length === 0) continue;
        return { kind, prefixes, holdMs: rng.pick([0, 500, 2_000]) };
      }
    }
  }
  // Every device is taken: an agent restart is always possible.
  return { kind: "agent-kill", spoke: rng.pick(agentSpokes(shape)), restartAfterMs: 0 };
}

/** The device a fault writes to, if any. */
function deviceOf(f: Fault): DeviceKey | undefined {
  switch (f.kind) {
    case "device-toggle":
    case "flap-storm":
    case "drift-delete":
    case "drift-stray":
      return deviceKey(f.spoke, f.vni);
    default:
      return undefined;
  }
}

function touchesDevice(faults: readonly Fault[], key: DeviceKey): boolean {
  return faults.some((f) => deviceOf(f) === key);
}

/** Two faults that would make the round's outcome depend on their order. */
function conflicts(a: Fault, b: Fault): boolean {
  const da = deviceOf(a);
  if (da !== undefined && da === deviceOf(b)) return true;
  // Both restarting the same process.
  const proc = (f: Fault) =>
    f.kind === "agent-kill" || f.kind === "agent-term"
      ? `agent${f.spoke}`
      : f.kind === "gobgpd-kill"
      ? `gobgpd${f.node}`
      : undefined;
  const pa = proc(a);
  if (pa !== undefined && pa === proc(b)) return true;
  // Routes are injected at the hub: its gobgpd must stay up meanwhile.
  const injects = (f: Fault) => f.kind === "routes-foreign" || f.kind === "routes-hostile";
  const hubDown = (f: Fault) => f.kind === "gobgpd-kill" && f.node === 0;
  return (injects(a) && hubDown(b)) || (injects(b) && hubDown(a));
}

/** The model after a round's faults (device toggles flip; everything else restores itself). */
export function after(model: Model, faults: readonly Fault[]): Model {
  const next = model.clone();
  for (const f of faults) {
    if (f.kind !== "device-toggle") continue;
    const key = deviceKey(f.spoke, f.vni);
    if (next.present.has(key)) next.present.delete(key);
    else next.present.add(key);
  }
  return next;
}

// ---------------------------------------------------------------------------
// What a round may and may not disturb

/** "spoke<i>/vxlan<VNI>/<dst>": one flood entry. */
export type EntryKey = string;

export function entryKey(spoke: number, vni: number, dst: string): EntryKey {
  return `spoke${spoke}/vxlan${vni}/${dst}`;
}

/**
 * Flood entries that must not be deleted at any moment of the round: valid
 * before and after it, and not legitimately disturbed by its faults. A
 * remote VTEP's route goes away (and its entries with it) when its gobgpd
 * dies, when its agent is stopped gracefully, when its device of that VNI
 * is touched, or when the hub's gobgpd dies. A node's own gobgpd restart
 * and any agent SIGKILL must keep every entry: the data plane outlives the
 * control plane.
 */
export function stableEntries(before: Model, faults: readonly Fault[]): Set<EntryKey> {
  const next = after(before, faults);
  const out = new Set<EntryKey>();
  if (faults.some((f) => f.kind === "gobgpd-kill" && f.node === 0)) return out;
  const gone = new Set<number>();
  for (const f of faults) {
    if (f.kind === "gobgpd-kill") gone.add(f.node);
    if (f.kind === "agent-term") gone.add(f.spoke);
  }
  // Devices deleted or re-created (drift touches one entry, not the device).
  const touched = new Set(
    faults.flatMap((f) =>
      f.kind === "device-toggle" || f.kind === "flap-storm" ? [deviceKey(f.spoke, f.vni)] : []
    ),
  );
  const handDeleted = new Set(
    faults.flatMap((f) => f.kind === "drift-delete" ? [entryKey(f.spoke, f.vni, f.dst)] : []),
  );
  for (const key of before.present) {
    const { spoke, vni } = parseDeviceKey(key);
    if (!next.present.has(key) || touched.has(key)) continue;
    for (const dst of before.flood(spoke, vni)) {
      const remote = Number(dst.split(".")[3]) - 10;
      if (!next.flood(spoke, vni).includes(dst)) continue;
      if (gone.has(remote) || touched.has(deviceKey(remote, vni))) continue;
      const entry = entryKey(spoke, vni, dst);
      if (!handDeleted.has(entry)) out.add(entry);
    }
  }
  return out;
}

/**
 * Why a fault may interrupt the continuous ping, or undefined when it must
 * not: the ping's two ends lose each other's route when either one's gobgpd
 * or the hub's dies, when the far end's agent leaves gracefully, or when one
 * of the two entries is deleted by hand.
 */
export function pingCause(shape: Shape, f: Fault): string | undefined {
  const ends = [shape.pingFrom, shape.pingTo];
  switch (f.kind) {
    case "gobgpd-kill":
      if (f.node === 0) return "gobgpd restart on the hub";
      return ends.includes(f.node) ? "gobgpd restart on a ping end" : undefined;
    case "agent-term":
      return ends.includes(f.spoke) ? "graceful agent stop on a ping end" : undefined;
    case "drift-delete": {
      const onPath = (f.spoke === shape.pingFrom && f.dst === vtep(shape.pingTo)) ||
        (f.spoke === shape.pingTo && f.dst === vtep(shape.pingFrom));
      return onPath && f.vni === shape.pingVni ? "ping-path entry deleted by hand" : undefined;
    }
    default:
      return undefined;
  }
}
