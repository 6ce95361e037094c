/**
 * The fault soak's observations and report, pure: `bridge monitor fdb`
 * lines, ping loss attributed to rounds, and the summary with its verdict.
 *
 * @module
 */
import { summarize as stats } from "../bench/stats.ts";
import type { FaultKind } from "./plan.ts";

/** One flood-entry line of `bridge monitor fdb`. */
export interface FdbEvent {
  op: "add" | "del";
  dev: string;
  dst: string;
}

/**
 * Parses a flood-entry line of `bridge monitor fdb`, e.g. `Deleted
 * 00:00:00:00:00:00 dev vxlan10010 dst 192.0.2.12 self permanent`;
 * undefined for any other line (unicast MACs, markers).
 */
export function parseFdbEvent(line: string): FdbEvent | undefined {
  const m = /^(Deleted )?00:00:00:00:00:00 dev (\S+) dst (\S+)/.exec(line);
  if (m === null) return undefined;
  return { op: m[1] === undefined ? "add" : "del", dev: m[2]!, dst: m[3]! };
}

/**
 * The send time (epoch ms) of every echo request that never got a reply,
 * from `ping -D -O -i INTERVAL` output. A request's first line is either its
 * reply or the `no answer yet` printed when the next one is sent, one
 * interval later. The last request sent is still in flight, not lost.
 */
export function lostPings(text: string, intervalMs: number): { seq: number; t: number }[] {
  const firstSeen = new Map<number, number>();
  const replied = new Set<number>();
  let last = 0;
  for (const line of text.split("\n")) {
    const m = /^\[(\d+\.\d+)\] .*icmp_seq=(\d+)/.exec(line);
    if (m === null) continue;
    const seq = Number(m[2]);
    last = Math.max(last, seq);
    if (!firstSeen.has(seq)) {
      const t = Number(m[1]) * 1000;
      firstSeen.set(seq, /no answer yet/.test(line) ? t - intervalMs : t);
    }
    if (/bytes from/.test(line)) replied.add(seq);
  }
  const out: { seq: number; t: number }[] = [];
  for (const [seq, t] of firstSeen) if (!replied.has(seq) && seq < last) out.push({ seq, t });
  return out.sort((a, b) => a.seq - b.seq);
}

/** What one round did and saw. */
export interface RoundRecord {
  round: number;
  kinds: FaultKind[];
  faults: string[];
  /** Epoch ms: the round's window, from its first fault to its settled truth. */
  t0: number;
  t1: number;
  /** ms from the faults' last action (restarts included) to the truth; -1 when never. */
  convergeMs: number;
  /** What differed from the truth at the deadline. */
  problem?: string;
  /** Valid flood entries deleted during the round ("spoke1/vxlan10010/192.0.2.12"). */
  flaps: string[];
  /** Flood entries added for addresses that are no node's VTEP (hostile or foreign routes). */
  foreign: string[];
  /** Why the ping may lose packets in this round; empty = no loss allowed. */
  pingCauses: string[];
  /** Echo requests lost during the round. */
  pingLost: number;
  /** RSS (KiB) of each long-lived agent at the round's end, by spoke name. */
  rssKiB: Record<string, number>;
  /** Agents or gobgpd daemons that exited without being told to. */
  crashes: string[];
}

/** Assigns each lost echo request to the round whose window holds it. */
export function attributeLoss(rounds: RoundRecord[], lost: { t: number }[]): number {
  let outside = 0;
  for (const { t } of lost) {
    const round = rounds.find((r) => t >= r.t0 && t < r.t1);
    if (round === undefined) outside++;
    else round.pingLost++;
  }
  return outside;
}

/** Limits the run is judged by. */
export interface Bounds {
  /** Highest RSS growth (MiB) allowed for a long-lived agent from the first round to the last. */
  rssGrowthMiB: number;
}

export const BOUNDS: Bounds = { rssGrowthMiB: 40 };

export interface Summary {
  seed: number;
  rounds: number;
  converged: number;
  convergeP50Ms: number;
  convergeMaxMs: number;
  /** p50 / max per fault kind (rounds that contain the kind). */
  byKind: Record<string, { rounds: number; p50Ms: number; maxMs: number }>;
  /** Lost echo requests by cause; "no fault on the ping path" must be 0. */
  pingLoss: Record<string, number>;
  pingLostOutsideRounds: number;
  flaps: string[];
  foreign: string[];
  crashes: string[];
  rss: Record<string, { firstMiB: number; lastMiB: number; maxMiB: number }>;
  failures: string[];
  ok: boolean;
}

/** The cause label of rounds whose faults must not touch the ping. */
export const NO_PING_FAULT = "no fault on the ping path";

const mib = (kib: number) => Math.round(kib / 102.4) / 10;

export function summarize(
  seed: number,
  rounds: RoundRecord[],
  pingLostOutsideRounds: number,
  bounds: Bounds = BOUNDS,
): Summary {
  const times = rounds.filter((r) => r.convergeMs >= 0).map((r) => r.convergeMs);
  const byKind: Summary["byKind"] = {};
  const kinds = [...new Set(rounds.flatMap((r) => r.kinds))].sort();
  for (const kind of kinds) {
    const ms = rounds.filter((r) => r.kinds.includes(kind) && r.convergeMs >= 0).map((r) =>
      r.convergeMs
    );
    byKind[kind] = {
      rounds: rounds.filter((r) => r.kinds.includes(kind)).length,
      p50Ms: ms.length ? stats(ms).p50 : -1,
      maxMs: ms.length ? Math.max(...ms) : -1,
    };
  }
  const pingLoss: Record<string, number> = { [NO_PING_FAULT]: 0 };
  for (const r of rounds) {
    if (r.pingLost === 0) continue;
    const cause = r.pingCauses.length ? r.pingCauses.join(" + ") : NO_PING_FAULT;
    pingLoss[cause] = (pingLoss[cause] ?? 0) + r.pingLost;
  }
  const rss: Summary["rss"] = {};
  for (const name of [...new Set(rounds.flatMap((r) => Object.keys(r.rssKiB)))].sort()) {
    const series = rounds.map((r) => r.rssKiB[name]).filter((x) => x !== undefined);
    rss[name] = {
      firstMiB: mib(series[0]!),
      lastMiB: mib(series.at(-1)!),
      maxMiB: mib(Math.max(...series)),
    };
  }
  const flaps = rounds.flatMap((r) => r.flaps.map((f) => `round ${r.round}: ${f}`));
  const foreign = rounds.flatMap((r) => r.foreign.map((f) => `round ${r.round}: ${f}`));
  const crashes = rounds.flatMap((r) => r.crashes.map((c) => `round ${r.round}: ${c}`));
  const failures: string[] = [];
  const unconverged = rounds.filter((r) => r.convergeMs < 0);
  if (unconverged.length) {
    failures.push(
      `${unconverged.length} round(s) did not converge: ${
        unconverged.map((r) => `${r.round} (${r.problem ?? "?"})`).join("; ")
      }`,
    );
  }
  if (flaps.length) failures.push(`${flaps.length} flap(s) of valid entries`);
  if (foreign.length) failures.push(`${foreign.length} non-VTEP address(es) programmed`);
  if (crashes.length) failures.push(`${crashes.length} unexpected exit(s) of an agent or gobgpd`);
  const noFaultLoss = pingLoss[NO_PING_FAULT]! + pingLostOutsideRounds;
  if (noFaultLoss > 0) {
    failures.push(`${noFaultLoss} echo request(s) lost without a fault on the ping path`);
  }
  for (const [name, r] of Object.entries(rss)) {
    if (r.lastMiB - r.firstMiB > bounds.rssGrowthMiB) {
      failures.push(
        `${name}'s agent grew ${r.firstMiB} → ${r.lastMiB} MiB (bound +${bounds.rssGrowthMiB})`,
      );
    }
  }
  return {
    seed,
    rounds: rounds.length,
    converged: rounds.length - unconverged.length,
    convergeP50Ms: times.length ? stats(times).p50 : -1,
    convergeMaxMs: times.length ? Math.max(...times) : -1,
    byKind,
    pingLoss,
    pingLostOutsideRounds,
    flaps,
    foreign,
    crashes,
    rss,
    failures,
    ok: failures.length === 0,
  };
}

/** The report an operator reads: figures first, the verdict and the replay command last. */
export function formatSummary(s: Summary): string {
  const lines = [
    `soak: ${s.converged}/${s.rounds} rounds converged; time to truth p50 ${s.convergeP50Ms} ms, ` +
    `max ${s.convergeMaxMs} ms`,
    "  by fault kind (rounds containing it): rounds, p50, max",
  ];
  for (const [kind, k] of Object.entries(s.byKind)) {
    lines.push(
      `    ${kind.padEnd(15)} ${String(k.rounds).padStart(4)} ${String(k.p50Ms).padStart(7)} ms ${
        String(k.maxMs).padStart(7)
      } ms`,
    );
  }
  lines.push("  ping loss (echo requests, 50 ms apart) by cause:");
  for (const [cause, n] of Object.entries(s.pingLoss)) lines.push(`    ${cause}: ${n}`);
  lines.push(`    between rounds: ${s.pingLostOutsideRounds}`);
  lines.push(`  flaps of valid entries: ${s.flaps.length}`);
  for (const f of s.flaps.slice(0, 10)) lines.push(`    ${f}`);
  lines.push(`  non-VTEP addresses programmed: ${s.foreign.length}`);
  for (const f of s.foreign.slice(0, 10)) lines.push(`    ${f}`);
  lines.push(`  unexpected exits (agent or gobgpd): ${s.crashes.length}`);
  for (const c of s.crashes.slice(0, 10)) lines.push(`    ${c}`);
  for (const [name, r] of Object.entries(s.rss)) {
    lines.push(
      `  ${name} agent RSS: ${r.firstMiB} MiB after round 1, ${r.lastMiB} MiB at the end, ` +
        `max ${r.maxMiB} MiB`,
    );
  }
  lines.push(s.ok ? "soak: PASS" : `soak: FAIL\n${s.failures.map((f) => `  - ${f}`).join("\n")}`);
  lines.push(`seed ${s.seed} (replay: deno task soak --seed ${s.seed} --rounds ${s.rounds})`);
  return lines.join("\n");
}
