/**
 * The kernel's own record of each node's flood list: the output of
 * `bridge -timestamp monitor fdb` (iproute2 6.1), one process per node,
 * written to a file and read back here. Each notification is stamped by
 * `bridge` itself when it reads it from its netlink socket, in the node,
 * so the times do not depend on how busy the benchmark process is.
 *
 * The output, with `TZ=UTC`:
 *
 * ```text
 * Timestamp: Tue Dec  1 12:35:10 2026 914184 usec
 * 00:00:00:00:00:00 dev vxlan10010 dst 192.0.2.11 self permanent
 * Timestamp: Tue Dec  1 12:35:10 2026 934296 usec
 * Deleted 00:00:00:00:00:00 dev vxlan10010 dst 192.0.2.11 self permanent
 * ```
 *
 * Parsing is pure ({@linkcode parseFdbMonitor}); {@linkcode FdbMonitorFile}
 * reads what a running monitor has written so far.
 *
 * @module
 */

/** One flood-entry notification. */
export interface FdbEvent {
  /** Wall-clock time in ms since the epoch (µs resolution). */
  at: number;
  type: "add" | "del";
  dev: string;
  dst: string;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const STAMP = /^Timestamp: \w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) (\d{1,6}) usec$/;
const FLOOD = /^(Deleted )?00:00:00:00:00:00 dev (\S+) dst (\S+)/;

/** Parses a `Timestamp:` line (UTC) into ms since the epoch, or undefined. */
export function parseStamp(line: string): number | undefined {
  const m = STAMP.exec(line);
  if (m === null) return undefined;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return undefined;
  const seconds = Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), 0) /
      1000 + Number(m[5]);
  return seconds * 1000 + Number(m[7]) / 1000;
}

/**
 * The flood-entry (all-zero MAC with a `dst`) notifications of a monitor's
 * output, each with the time of the `Timestamp:` line before it. Other
 * entries (unicast MACs, bridge ports) and a trailing partial line are
 * skipped. Pure.
 */
export function parseFdbMonitor(text: string): FdbEvent[] {
  const out: FdbEvent[] = [];
  let at: number | undefined;
  for (const line of text.split("\n")) {
    const stamp = parseStamp(line);
    if (stamp !== undefined) {
      at = stamp;
      continue;
    }
    const m = FLOOD.exec(line);
    if (m === null || at === undefined) continue;
    out.push({ at, type: m[1] === undefined ? "add" : "del", dev: m[2]!, dst: m[3]! });
  }
  return out;
}

/**
 * A monitor's output file, read incrementally: {@linkcode poll} parses the
 * complete lines written since the last call.
 */
export class FdbMonitorFile {
  readonly path: string;
  readonly events: FdbEvent[] = [];
  #offset = 0;
  #rest = "";

  constructor(path: string) {
    this.path = path;
  }

  /** Reads what was appended since the last call; returns the new events. */
  poll(): FdbEvent[] {
    let bytes: Uint8Array;
    try {
      using file = Deno.openSync(this.path);
      file.seekSync(this.#offset, Deno.SeekMode.Start);
      const size = Deno.statSync(this.path).size;
      bytes = new Uint8Array(Math.max(0, size - this.#offset));
      let read = 0;
      while (read < bytes.length) {
        const n = file.readSync(bytes.subarray(read));
        if (n === null) break;
        read += n;
      }
      bytes = bytes.subarray(0, read);
    } catch {
      return [];
    }
    this.#offset += bytes.length;
    const text = this.#rest + new TextDecoder().decode(bytes);
    const cut = text.lastIndexOf("\n");
    this.#rest = text.slice(cut + 1);
    // A stamp line is always followed by its message: keep an unpaired last stamp for later.
    let complete = text.slice(0, cut + 1);
    const lines = complete.split("\n");
    const last = lines.length >= 2 ? lines[lines.length - 2]! : "";
    if (parseStamp(last) !== undefined) {
      complete = lines.slice(0, -2).join("\n") + "\n";
      this.#rest = last + "\n" + this.#rest;
    }
    const fresh = parseFdbMonitor(complete);
    this.events.push(...fresh);
    return fresh;
  }

  /** The flood destinations on `dev` after every event read so far. */
  floodList(dev: string): Set<string> {
    return replay(this.events, dev, Number.POSITIVE_INFINITY);
  }
}

/** The flood destinations on `dev` after the events up to and including time `until`. Pure. */
export function replay(events: readonly FdbEvent[], dev: string, until: number): Set<string> {
  const state = new Set<string>();
  for (const e of events) {
    if (e.at > until) break;
    if (e.dev !== dev) continue;
    if (e.type === "add") state.add(e.dst);
    else state.delete(e.dst);
  }
  return state;
}
