/**
 * Observers for the resilience test (`tests/resilience_test.ts`), on top of
 * the lab harness (`scripts/lab/`): a continuous ping, `bridge monitor fdb`,
 * a WatchEvent observer on a gobgpd, agent log readers and /proc readers.
 *
 * Every background process is started through the harness's
 * `spawnLogged` (output in the topology's work directory) and tracked by a
 * {@linkcode Background}, which stops them by PID in the test's `finally`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type ProcessHandle, spawnLogged } from "../scripts/lab/proc.ts";
import { type LabNode, REPO_DIR, run, type Topology, waitFor } from "../scripts/lab/topology.ts";

const TESTS_DIR = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");

/** Background processes started by the test itself (not the topology's daemons). */
export class Background implements AsyncDisposable {
  #topo: Topology;
  #handles = new Set<ProcessHandle>();
  #n = 0;

  constructor(topo: Topology) {
    this.#topo = topo;
  }

  /** Starts `cmd` in `node`, output appended to `<workDir>/<node>-<what>-<n>.log`. */
  async start(node: LabNode, what: string, cmd: string[]): Promise<ProcessHandle> {
    const log = this.#topo.file(`${node.name}-${what}-${++this.#n}.log`);
    const handle = await spawnLogged({
      name: `${node.name}/${what}`,
      ns: node.ns,
      cmd,
      log,
      cwd: REPO_DIR,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    this.#handles.add(handle);
    return handle;
  }

  /** Stops one process (by PID, `signal` then SIGKILL) and forgets it. */
  async stop(handle: ProcessHandle, signal: Deno.Signal = "SIGTERM"): Promise<void> {
    try {
      await handle.stop(signal, 3_000);
    } finally {
      this.#handles.delete(handle);
    }
  }

  /** Stops everything still running. */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.#handles].map((h) => this.stop(h)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopAll();
  }
}

// ---------------------------------------------------------------------------
// Continuous ping

/** What a continuous ping saw, from its per-packet lines and its summary. */
export interface PingReport {
  transmitted: number;
  received: number;
  duplicates: number;
  /** Loss in percent, from ping's own summary. */
  summaryLoss: number;
  /**
   * Sequence numbers without a reply, except the last one sent (still in
   * flight when the ping was interrupted: neither lost nor answered).
   */
  lost: number[];
  /** Lost runs as "seq A-B (t+X.XX s..t+Y.YY s)" relative to `t0`. */
  lostRuns: string[];
  /** The summary lines. */
  summary: string;
}

/**
 * Parses the output of `ping -n -D -O`: reply lines `[epoch] 64 bytes from
 * ...: icmp_seq=N ...`, `[epoch] no answer yet for icmp_seq=N`, and the
 * summary `T packets transmitted, R received, [+D duplicates, ]X% packet loss`.
 *
 * @param t0 epoch milliseconds that `lostRuns` times are relative to
 */
export function parsePing(text: string, t0: number): PingReport {
  const replied = new Set<number>();
  const seen = new Map<number, number>(); // seq -> epoch ms of its first line
  for (const line of text.split("\n")) {
    const m = /^\[(\d+\.\d+)\] (.*)$/.exec(line);
    if (m === null) continue;
    const t = Number(m[1]) * 1000;
    const seq = /icmp_seq=(\d+)/.exec(m[2]!);
    if (seq === null) continue;
    const n = Number(seq[1]);
    if (!seen.has(n)) seen.set(n, t);
    if (/bytes from/.test(m[2]!)) replied.add(n);
  }
  const stats =
    /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?.*?([\d.]+)% packet loss/
      .exec(text);
  if (stats === null) throw new Error(`No ping summary in:\n${text.slice(-500)}`);
  const transmitted = Number(stats[1]);
  const lost: number[] = [];
  for (let seq = 1; seq < transmitted; seq++) if (!replied.has(seq)) lost.push(seq);
  const lostRuns: string[] = [];
  const rel = (seq: number) => {
    const t = seen.get(seq);
    return t === undefined
      ? "?"
      : `t${t >= t0 ? "+" : "-"}${(Math.abs(t - t0) / 1000).toFixed(2)}s`;
  };
  for (let i = 0; i < lost.length;) {
    let j = i;
    while (j + 1 < lost.length && lost[j + 1] === lost[j]! + 1) j++;
    lostRuns.push(
      `seq ${lost[i]}-${lost[j]} (${j - i + 1} lost, ${rel(lost[i]!)}..${rel(lost[j]!)})`,
    );
    i = j + 1;
  }
  const summaryStart = text.indexOf("---");
  return {
    transmitted,
    received: Number(stats[2]),
    duplicates: Number(stats[3] ?? 0),
    summaryLoss: Number(stats[4]),
    lost,
    lostRuns,
    summary: summaryStart >= 0 ? text.slice(summaryStart).trim() : "",
  };
}

/** A `ping -i 0.05` running in the background in a namespace. */
export class ContinuousPing {
  readonly node: LabNode;
  readonly address: string;
  #bg: Background;
  #handle: ProcessHandle;

  private constructor(bg: Background, node: LabNode, address: string, handle: ProcessHandle) {
    this.#bg = bg;
    this.node = node;
    this.address = address;
    this.#handle = handle;
  }

  /** Starts the ping and waits (up to `timeoutMs`) for its first reply. */
  static async start(
    bg: Background,
    node: LabNode,
    address: string,
    timeoutMs = 5_000,
  ): Promise<ContinuousPing> {
    const handle = await bg.start(node, "ping", [
      "ping",
      "-n",
      "-D",
      "-O",
      "-i",
      "0.05",
      "-W",
      "1",
      address,
    ]);
    const ping = new ContinuousPing(bg, node, address, handle);
    await waitFor(
      async () => /bytes from/.test(await ping.output()),
      timeoutMs,
      `a first reply to ${node.name}'s ping ${address}`,
      { intervalMs: 50 },
    );
    return ping;
  }

  /** Output so far. */
  async output(): Promise<string> {
    return await Deno.readTextFile(this.#handle.log);
  }

  /** Number of replies received so far. */
  async replies(): Promise<number> {
    return ((await this.output()).match(/bytes from/g) ?? []).length;
  }

  /** Waits until `count` more replies came in (the data plane works now). */
  async waitForReplies(count: number, timeoutMs = 5_000): Promise<void> {
    const base = await this.replies();
    await waitFor(
      async () => (await this.replies()) >= base + count,
      timeoutMs,
      `${count} more replies to ${this.node.name}'s ping ${this.address}`,
      { intervalMs: 50 },
    );
  }

  /** Interrupts the ping (SIGINT) and parses what it saw. */
  async stop(t0: number): Promise<PingReport> {
    await this.#bg.stop(this.#handle, "SIGINT");
    return parsePing(await this.output(), t0);
  }
}

// ---------------------------------------------------------------------------
// bridge monitor fdb

/** `bridge monitor fdb` running in a namespace. */
export class FdbMonitor {
  readonly node: LabNode;
  #bg: Background;
  #handle: ProcessHandle;

  private constructor(bg: Background, node: LabNode, handle: ProcessHandle) {
    this.#bg = bg;
    this.node = node;
    this.#handle = handle;
  }

  /**
   * Starts the monitor and proves it listens: appends and deletes a marker
   * entry on `dev` (a unicast MAC, which the agent leaves alone) and waits
   * for both lines.
   */
  static async start(bg: Background, topo: Topology, node: LabNode, dev: string) {
    const handle = await bg.start(node, "fdbmon", ["bridge", "monitor", "fdb"]);
    const monitor = new FdbMonitor(bg, node, handle);
    const marker = ["02:00:00:00:00:ff", "dst", "192.0.2.254", "dev", dev];
    await waitFor(
      async () => {
        await topo.exec(node, ["bridge", "fdb", "append", ...marker, "self", "permanent"]);
        await topo.exec(node, ["bridge", "fdb", "del", ...marker, "self"]);
        return /Deleted 02:00:00:00:00:ff/.test(await monitor.output());
      },
      5_000,
      `bridge monitor fdb in ${node.name} to report a marker entry`,
      { intervalMs: 100 },
    );
    return monitor;
  }

  async output(): Promise<string> {
    return await Deno.readTextFile(this.#handle.log);
  }

  /** Lines about flood entries (`00:00:00:00:00:00`), in order. */
  async floodLines(): Promise<string[]> {
    return (await this.output()).split("\n").filter((l) => l.includes("00:00:00:00:00:00 "));
  }

  /** Lines reporting the deletion of the flood entry `dst` on `dev`. */
  async deletions(dev: string, dst: string): Promise<string[]> {
    return (await this.floodLines()).filter((l) =>
      l.startsWith("Deleted ") && l.includes(` dev ${dev} `) && l.includes(` dst ${dst} `)
    );
  }

  async stop(): Promise<void> {
    await this.#bg.stop(this.#handle, "SIGTERM");
  }
}

// ---------------------------------------------------------------------------
// gobgpd observer and injector (tests/_resilience_gobgp.ts)

/** One path of a WatchEvent table event, as printed by `_resilience_gobgp.ts watch`. */
export interface WatchedPath {
  prefix?: string;
  withdraw?: boolean;
  stale?: boolean;
  communities?: string[];
  skipped?: string;
}

/** One table event. */
export interface WatchedEvent {
  t: number;
  n: number;
  paths: WatchedPath[];
}

/** The command running `_resilience_gobgp.ts` (from this checkout, whatever agent is tested). */
function gobgpScript(args: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--cached-only",
    `${TESTS_DIR}/_resilience_gobgp.ts`,
    ...args,
  ];
}

/** A WatchEvent(BEST) observer on one node's gobgpd: every event with its time. */
export class RibWatch {
  #bg: Background;
  #handle: ProcessHandle;

  private constructor(bg: Background, handle: ProcessHandle) {
    this.#bg = bg;
    this.#handle = handle;
  }

  /** Starts the observer and waits for its initial table. */
  static async start(bg: Background, node: LabNode): Promise<RibWatch> {
    const handle = await bg.start(node, "ribwatch", gobgpScript(["watch"]));
    const watch = new RibWatch(bg, handle);
    await waitFor(
      async () => {
        if (!handle.running()) throw new Error(`the observer exited: ${await watch.text()}`);
        return (await watch.events()).length > 0;
      },
      15_000,
      `the WatchEvent observer's initial table in ${node.name}`,
      { intervalMs: 100 },
    );
    return watch;
  }

  async text(): Promise<string> {
    return await Deno.readTextFile(this.#handle.log);
  }

  async events(): Promise<WatchedEvent[]> {
    return (await this.text()).split("\n").filter((l) => l.startsWith("{")).map((l) =>
      JSON.parse(l) as WatchedEvent
    );
  }

  /**
   * Replays the events for `prefix`: every change of its communities, and
   * every moment it was withdrawn (absent after an event).
   */
  async history(prefix: string): Promise<{ t: number; communities: string[] | null }[]> {
    const out: { t: number; communities: string[] | null }[] = [];
    for (const event of await this.events()) {
      for (const p of event.paths) {
        if (p.prefix !== prefix) continue;
        out.push({ t: event.t, communities: p.withdraw ? null : p.communities ?? [] });
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.#bg.stop(this.#handle, "SIGTERM");
  }
}

/**
 * Runs `_resilience_gobgp.ts ARGS` to completion in `node` (adds or deletes
 * paths in that node's gobgpd). Returns its `done ...` line.
 */
export async function gobgpInject(
  bg: Background,
  node: LabNode,
  args: string[],
  timeoutMs = 60_000,
): Promise<string> {
  const handle = await bg.start(node, "inject", gobgpScript(args));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    handle.exited(),
    new Promise<"timeout">((resolve) => timer = setTimeout(resolve, timeoutMs, "timeout")),
  ]).finally(() => clearTimeout(timer));
  const text = await Deno.readTextFile(handle.log);
  if (result === "timeout") {
    await bg.stop(handle, "SIGKILL");
    throw new Error(`"${args.join(" ")}" in ${node.name} took over ${timeoutMs} ms:\n${text}`);
  }
  await bg.stop(handle);
  const done = /^done .*$/m.exec(text);
  if (done === null || result?.success === false) {
    throw new Error(`"${args.join(" ")}" in ${node.name} failed:\n${text.slice(-800)}`);
  }
  return done[0];
}

// ---------------------------------------------------------------------------
// Agent logs and /proc

/** A position in a log file, to read what was written after it. */
export async function logMark(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/** The log lines written after `mark`. */
export async function logSince(path: string, mark: number): Promise<string[]> {
  const bytes = await Deno.readFile(path);
  return new TextDecoder().decode(bytes.subarray(mark)).split("\n").filter((l) => l !== "");
}

/** Epoch ms of a log line starting with an RFC 3339 timestamp, if any. */
export function lineTime(line: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/.exec(line);
  return m === null ? undefined : Date.parse(m[1]!);
}

/** `VmRSS` of `pid` in KiB, from /proc/<pid>/status. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (m === null) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** The MAC address of `dev` in `node`. */
export async function linkMac(topo: Topology, node: LabNode, dev: string): Promise<string> {
  const out = await topo.exec(node, ["ip", "-j", "link", "show", "dev", dev]);
  const mac = (JSON.parse(out) as { address?: string }[])[0]?.address;
  if (mac === undefined) throw new Error(`No MAC address on ${dev} in ${node.name}`);
  return mac;
}

/** Whether link `dev` exists in `node`. */
export async function linkExists(topo: Topology, node: LabNode, dev: string): Promise<boolean> {
  try {
    await topo.exec(node, ["ip", "link", "show", "dev", dev]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `probe` every `intervalMs` until it holds; returns the time it took
 * in ms (from `since`, default now). Throws after `timeoutMs`.
 */
export async function timeUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  since = performance.now(),
  intervalMs = 20,
): Promise<number> {
  await waitFor(async () => await probe() || false, timeoutMs, what, { intervalMs });
  return Math.round(performance.now() - since);
}

/**
 * `GET path` on the agent's operator endpoint inside `node` (plain HTTP/1.0
 * through bash's /dev/tcp: nothing else needs installing). Undefined when
 * nothing answers.
 */
export async function httpGet(
  node: LabNode,
  path: string,
  address = "127.0.0.1:9469",
): Promise<{ status: number; body: string } | undefined> {
  const [host, port] = address.split(":");
  const script = `exec 3<>/dev/tcp/${host}/${port} || exit 7; ` +
    `printf 'GET ${path} HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' >&3; cat <&3`;
  const r = await run(node.ns, ["timeout", "3", "bash", "-c", script]);
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(r.stdout);
  if (m === null) return undefined;
  const body = r.stdout.slice(r.stdout.indexOf("\r\n\r\n") + 4);
  return { status: Number(m[1]), body: body.trim() };
}

/**
 * A flood entry written by hand in `node`, as an operator would:
 * `bridge fdb append|del 00:00:00:00:00:00 dst DST dev DEV`.
 */
export function floodByHand(
  topo: Topology,
  node: LabNode,
  verb: "append" | "del",
  dst: string,
  dev: string,
): Promise<string> {
  return topo.exec(node, ["bridge", "fdb", verb, "00:00:00:00:00:00", "dst", dst, "dev", dev]);
}

/**
 * Pins the overlay return path from `at` to `to` by hand: a unicast FDB
 * entry for `to`'s device MAC towards `toVtep`, and a permanent neighbour
 * entry for `toOverlay`, so that `at` keeps answering `to` whatever BGP does.
 * Returns the clean-up, which never throws.
 */
export async function pinReturnPath(
  topo: Topology,
  at: LabNode,
  to: LabNode,
  pin: { dev: string; toVtep: string; toOverlay: string },
): Promise<() => Promise<void>> {
  const { dev, toVtep, toOverlay } = pin;
  const mac = await linkMac(topo, to, dev);
  await topo.exec(at, [
    "bridge",
    "fdb",
    "append",
    mac,
    "dst",
    toVtep,
    "dev",
    dev,
    "self",
    "permanent",
  ]);
  await topo.exec(at, [
    "ip",
    "neigh",
    "replace",
    toOverlay,
    "lladdr",
    mac,
    "dev",
    dev,
    "nud",
    "permanent",
  ]);
  return async () => {
    await topo.exec(at, ["bridge", "fdb", "del", mac, "dst", toVtep, "dev", dev, "self"])
      .catch(() => {});
    await topo.exec(at, ["ip", "neigh", "del", toOverlay, "dev", dev]).catch(() => {});
  };
}
