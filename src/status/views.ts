/**
 * Builds the operator views from in-memory snapshots: the per-VNI status
 * (desired, programmed, differences, last error) and loop health. Nothing
 * here calls the kernel or gobgpd: a scrape reads only what the agent
 * already holds.
 *
 * @module
 */
import { formatCommunity } from "../net/community.ts";
import type { Vni } from "../overlay/vnis.ts";
import type { EntriesStatus, Health, VniStatus } from "./types.ts";

/** One VNI's status from the registry entry, its desired set and the programmed view. */
export function vniStatus(
  vni: Vni,
  desiredSet: ReadonlySet<string>,
  programmedView: readonly string[] | undefined,
  lastError: VniStatus["lastError"],
  mismatched: ReadonlySet<string> = new Set(),
): VniStatus {
  const desired = [...desiredSet].sort();
  const programmed = [...(programmedView ?? [])].sort();
  const online = vni.ifindex !== undefined;
  const d = new Set(desired);
  const p = new Set(programmed);
  return {
    vni: vni.id,
    community: formatCommunity(vni.community),
    device: vni.device,
    ifindex: vni.ifindex ?? null,
    online,
    localAddress: online ? vni.local ?? null : null,
    desired,
    programmed: online ? programmed : [],
    missing: online ? desired.filter((x) => !p.has(x)) : [],
    extra: programmed.filter((x) => !d.has(x)),
    familyMismatch: [...mismatched].sort(),
    lastError,
  };
}

/** Desired against programmed for one entry kind (`online`: only then is anything programmed). */
export function entriesStatus(
  desiredSet: ReadonlySet<string>,
  programmedView: readonly string[] | undefined,
  online: boolean,
  userHeld: number,
): EntriesStatus {
  const desired = [...desiredSet].sort();
  const programmed = online ? [...(programmedView ?? [])].sort() : [];
  const d = new Set(desired);
  const p = new Set(programmed);
  return {
    desired,
    programmed,
    missing: online ? desired.filter((x) => !p.has(x)) : [],
    extra: programmed.filter((x) => !d.has(x)),
    userHeld,
  };
}

/** What loop health is judged from; times are `performance.now()`. */
export interface LoopSnapshot {
  now: number;
  /** A loop with work and no progress for this long is stuck. */
  stuckAfterMs: number;
  reconcile: { active: boolean; idle: boolean; lastFlushAt: number };
  bgp: { state: string; lastActivity: number };
  /** Why the kernel notification socket failed, if it did. */
  kernelFailure: string | undefined;
  stopped: boolean;
}

/** Whether each loop makes progress; a stuck loop turns `ok` false. */
export function loopHealth(s: LoopSnapshot): Health {
  const rec = s.reconcile;
  const recStuck = rec.active && !rec.idle && rec.lastFlushAt > 0 &&
    s.now - rec.lastFlushAt > s.stuckAfterMs;
  const watchIdle = s.now - s.bgp.lastActivity;
  const watchStuck = s.bgp.state !== "up" && watchIdle > s.stuckAfterMs;
  const loops = {
    reconcile: {
      ok: !recStuck,
      detail: recStuck
        ? `work pending and no flush for ${Math.round((s.now - rec.lastFlushAt) / 1000)} s`
        : rec.idle
        ? "idle"
        : "work pending",
    },
    bgp: {
      ok: !watchStuck,
      detail: watchStuck
        ? `stream ${s.bgp.state} with no attempt for ${Math.round(watchIdle / 1000)} s`
        : `stream ${s.bgp.state}`,
    },
    kernel: { ok: s.kernelFailure === undefined, detail: s.kernelFailure ?? "listening" },
  };
  return { ok: Object.values(loops).every((l) => l.ok) && !s.stopped, loops };
}
