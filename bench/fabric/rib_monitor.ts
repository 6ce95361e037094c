/**
 * gobgpd's own record of when a node had a route, stamped in the node:
 * `gobgp monitor global rib -j` (GoBGP's CLI, a lean Go client of the same
 * WatchEvent stream the agent reads) writes one JSON line per table event
 * into a FIFO; `perl` stamps each line with the wall clock as it reads it
 * and appends it to a file:
 *
 * ```text
 * 1796128939.452341 [{"nlri":{"prefix":"192.0.2.21/32"},"attrs":[...,{"type":8,"communities":[4259850010]}],...}]
 * 1796128939.470816 [{"nlri":{"prefix":"192.0.2.21/32"},...,"withdrawal":true}]
 * ```
 *
 * This is the floor no agent can beat. (The benchmark's own gRPC clients,
 * one process serving every node, delivered the same events 10–30 ms later
 * than the agents wrote the kernel: a floor must not share a busy event
 * loop.) Parsing is pure ({@linkcode parseRibMonitor}).
 *
 * @module
 */
import type { RibEvent } from "./rib_recorder.ts";

interface MonitorPath {
  nlri?: { prefix?: string };
  attrs?: { type: number; communities?: number[] }[];
  withdrawal?: boolean;
}

/**
 * The membership changes of `community` in a monitor's output: per line,
 * the last state of each /32 (a withdrawal followed by an add in one event
 * is an add), and only lines that change a VTEP's state. Malformed lines
 * are skipped. Pure.
 */
export function parseRibMonitor(text: string, community: number): RibEvent[] {
  const state = new Map<string, boolean>();
  const out: RibEvent[] = [];
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space <= 0) continue;
    const at = Number(line.slice(0, space)) * 1000;
    let paths: MonitorPath[];
    try {
      paths = JSON.parse(line.slice(space + 1));
    } catch {
      continue;
    }
    if (!Number.isFinite(at) || !Array.isArray(paths)) continue;
    const changed = new Map<string, boolean>();
    for (const path of paths) {
      const prefix = path.nlri?.prefix;
      if (prefix === undefined || !prefix.endsWith("/32")) continue;
      const communities = path.attrs?.find((a) => a.type === 8)?.communities ?? [];
      changed.set(prefix.slice(0, -3), !path.withdrawal && communities.includes(community));
    }
    for (const [vtep, member] of changed) {
      if ((state.get(vtep) ?? false) === member) continue;
      state.set(vtep, member);
      out.push({ at, vtep, member });
    }
  }
  return out;
}

/** Reads a monitor file written so far. */
export function readRibMonitor(path: string, community: number): RibEvent[] {
  try {
    return parseRibMonitor(Deno.readTextFileSync(path), community);
  } catch {
    return [];
  }
}
