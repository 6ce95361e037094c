/**
 * The benchmark's lab: two nodes of the shared topology
 * (`scripts/lab/topology.ts`: hub and spoke1, each with its own gobgpd),
 * with this process's main thread living in the hub's namespace
 * (`scripts/lab/netns.ts`), so that its gRPC clients, its libnl sockets
 * (`KernelMirror`) and the commands it runs see the hub's loopback and
 * kernel tables, as the agent there does.
 *
 * - home (the hub, 192.0.2.10): gobgpd without peers while routes are
 *   loaded (nothing is sent anywhere), the agent under test, the devices;
 * - peer (spoke1, 192.0.2.11): only for the join scenario, then stopped.
 *
 * Every process is started through the topology (the agent through the
 * same `spawnLogged`, with this run's `--v8-flags` and `--cpu-prof`) and stopped by PID; the namespaces are
 * removed by {@linkcode BenchLab.destroy}, also on SIGINT/SIGTERM/SIGHUP
 * (the topology's own hooks).
 *
 * @module
 */
import { stringify as toYaml } from "yaml";
import { GobgpClient } from "../src/bgp/client.ts";
import { type PathStream, PathStreamClient } from "./path_stream.ts";
import type { PathMessage } from "../src/bgp/path_codec.ts";
import { Netlink } from "../src/netlink/mod.ts";
import { enterNetns, type NetnsStay } from "../scripts/lab/netns.ts";
import { spawnLogged } from "../scripts/lab/proc.ts";
import {
  AGENT_V8_FLAGS,
  cacheDependencies,
  GOBGP_API,
  type LabNode,
  type ProcessHandle,
  type StopResult,
  Topology,
  VXLAN_PORT,
} from "../scripts/lab/topology.ts";
import { KernelMirror } from "./kernel_mirror.ts";
import { type ProcSample, sampleProc } from "./procstat.ts";
import { COMMUNITY_ASN, createDevicesBatch, deleteDevicesBatch, deviceName } from "./routes.ts";

/** Options for {@linkcode BenchLab.create}. */
export interface BenchLabOptions {
  /** Progress messages. */
  log: (message: string) => void;
  /** Run the agent with `--cpu-prof` (100 µs samples) into DIR; profiles are written when it stops. */
  cpuProfDir?: string | undefined;
  /** Sampling interval of `--cpu-prof`, µs. @default 100 */
  cpuProfIntervalUs?: number;
  /**
   * `--v8-flags` for the agent (and the bare Deno it is compared with); "" for
   * none. @default AGENT_V8_FLAGS, as users run it
   */
  v8Flags?: string | undefined;
}

/** Paths per `AddPathStream` request when loading a table. */
const LOAD_BATCH = 500;

export class BenchLab implements AsyncDisposable {
  readonly topo: Topology;
  readonly home: LabNode;
  readonly peer: LabNode;
  readonly nl: Netlink;
  readonly mirror: KernelMirror;
  #stay: NetnsStay;
  #client: GobgpClient;
  #streams: PathStreamClient;
  #log: (message: string) => void;
  #cpuProfDir: string | undefined;
  #cpuProfIntervalUs: number;
  #v8Flags: string;
  #agents: AgentRun[] = [];
  #destroyed = false;
  /** Signal and unload hooks that stop agents this lab started outside the topology. */
  #hooks: { signals: [Deno.Signal, () => void][]; unload: () => void };

  private constructor(
    topo: Topology,
    stay: NetnsStay,
    nl: Netlink,
    mirror: KernelMirror,
    options: BenchLabOptions,
  ) {
    this.topo = topo;
    this.home = topo.hub;
    this.peer = topo.spoke(1);
    this.#stay = stay;
    this.nl = nl;
    this.mirror = mirror;
    this.#client = new GobgpClient({ address: GOBGP_API, timeoutMs: 30_000 });
    this.#streams = new PathStreamClient(GOBGP_API);
    this.#log = options.log;
    this.#cpuProfDir = options.cpuProfDir;
    this.#cpuProfIntervalUs = options.cpuProfIntervalUs ?? 100;
    this.#v8Flags = options.v8Flags ?? AGENT_V8_FLAGS;
    // The topology's own hooks remove the namespaces and its processes; an
    // agent started with --cpu-prof is not among them, so end it here (by PID).
    const killAgents = () => {
      for (const agent of this.#agents) agent.handle.kill("SIGTERM");
    };
    this.#hooks = {
      signals: (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) => [sig, killAgents]),
      unload: killAgents,
    };
    for (const [sig, fn] of this.#hooks.signals) Deno.addSignalListener(sig, fn);
    globalThis.addEventListener("unload", this.#hooks.unload);
  }

  /** Builds the namespaces, enters the home one, starts the home gobgpd. */
  static async create(options: BenchLabOptions): Promise<BenchLab> {
    await cacheDependencies();
    // Both families: the EVPN join scenario's Type 3 routes travel the same sessions.
    const topo = await Topology.create({
      spokes: 1,
      log: options.log,
      families: ["ipv4-unicast", "l2vpn-evpn"],
    });
    let stay: NetnsStay | undefined;
    let nl: Netlink | undefined;
    try {
      for (const node of topo.nodes) {
        // No IPv6: the VXLAN devices must not send router solicitations or MLD reports.
        await topo.exec(node, [
          "sysctl",
          "-q",
          "-w",
          "net.ipv6.conf.all.disable_ipv6=1",
          "net.ipv6.conf.default.disable_ipv6=1",
        ]);
      }
      stay = enterNetns(topo.hub.ns);
      nl = Netlink.open();
      const mirror = new KernelMirror(nl);
      const lab = new BenchLab(topo, stay, nl, mirror, options);
      await topo.startGobgpd(topo.hub);
      return lab;
    } catch (err) {
      nl?.close();
      stay?.restore();
      await topo.destroy();
      throw err;
    }
  }

  /** The gRPC client of the home gobgpd (replaced by {@linkcode restartHomeGobgpd}). */
  get client(): GobgpClient {
    return this.#client;
  }

  /** Restarts the home gobgpd with an empty RIB. */
  async restartHomeGobgpd(): Promise<void> {
    this.#client.close();
    this.#streams.close();
    await this.topo.process(this.home, "gobgpd")?.stop("SIGTERM", 5_000);
    await this.topo.startGobgpd(this.home);
    this.#client = new GobgpClient({ address: GOBGP_API, timeoutMs: 30_000 });
    this.#streams = new PathStreamClient(GOBGP_API);
  }

  /** Loads paths into the home gobgpd through `AddPathStream`; resolves once all are applied. */
  async load(paths: readonly PathMessage[], batch = LOAD_BATCH): Promise<void> {
    const stream = this.#streams.open();
    for (let i = 0; i < paths.length; i += batch) stream.write(paths.slice(i, i + batch));
    await stream.end();
  }

  /** An open `AddPathStream` to the home gobgpd, for timed writes. */
  pathStream(): PathStream {
    return this.#streams.open();
  }

  /** Creates `vxlan<VNI>` devices in the home node; returns name → ifindex. */
  async createDevices(vnis: readonly number[]): Promise<Map<string, number>> {
    const file = this.topo.file("devices-add.batch");
    await Deno.writeTextFile(file, createDevicesBatch(vnis, this.home.address, VXLAN_PORT));
    await this.topo.exec(this.home, ["ip", "-batch", file]);
    const out = new Map<string, number>();
    for (const vni of vnis) {
      const link = this.nl.links.getLink(deviceName(vni));
      if (link === undefined) throw new Error(`Device ${deviceName(vni)} vanished after creation`);
      out.set(link.name, link.ifindex);
    }
    return out;
  }

  /** Deletes the `vxlan<VNI>` devices of the home node that exist. */
  async deleteDevices(vnis: readonly number[]): Promise<void> {
    const present = vnis.filter((vni) => this.nl.links.getLink(deviceName(vni)) !== undefined);
    if (present.length === 0) return;
    const file = this.topo.file("devices-del.batch");
    await Deno.writeTextFile(file, deleteDevicesBatch(present));
    await this.topo.exec(this.home, ["ip", "-batch", file]);
  }

  /**
   * Starts the agent in `node` as users run it
   * (`deno run -A --cached-only --v8-flags=AGENT_V8_FLAGS main.ts --config FILE`), discovery mode,
   * with `overrides` merged over the top-level keys (`{ mode: "evpn" }`),
   * `communityAsn: 65000`, `node.localAddress` = the node's address, log
   * level info.
   */
  async startAgent(node: LabNode, overrides: Record<string, unknown> = {}): Promise<AgentRun> {
    const config = {
      logLevel: "info",
      advertiseSelf: true,
      communityAsn: COMMUNITY_ASN,
      gobgp: { address: GOBGP_API, timeout: "5s" },
      node: { localInterface: "eth0", localAddress: node.address, vxlanPort: VXLAN_PORT },
      ...overrides,
    };
    const log = this.topo.file(`${node.name}-agent.log`);
    const offset = fileSize(log);
    const startedWall = Date.now();
    const startedAt = performance.now();
    // The topology's command with this run's V8 flags and profiling; tracked here.
    const path = this.topo.agentConfigPath(node);
    await Deno.writeTextFile(path, toYaml(config));
    if (this.#cpuProfDir !== undefined) await Deno.mkdir(this.#cpuProfDir, { recursive: true });
    const handle: ProcessHandle = await spawnLogged({
      name: `${node.name}/agent`,
      ns: node.ns,
      cmd: [
        Deno.execPath(),
        "run",
        "-A",
        "--cached-only",
        ...this.runtimeArgs(),
        `${this.topo.repoDir}/main.ts`,
        "--config",
        path,
      ],
      log,
      cwd: this.topo.repoDir,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    const run = new AgentRun(handle, log, offset, startedAt, startedWall);
    this.#agents.push(run);
    return run;
  }

  /** The `deno run` flags the agent gets beyond the topology's: `--v8-flags`, `--cpu-prof`. */
  runtimeArgs(): string[] {
    const out: string[] = [];
    if (this.#v8Flags !== "") out.push(`--v8-flags=${this.#v8Flags}`);
    if (this.#cpuProfDir !== undefined) {
      out.push(
        "--cpu-prof",
        `--cpu-prof-dir=${this.#cpuProfDir}`,
        `--cpu-prof-interval=${this.#cpuProfIntervalUs}`,
      );
    }
    return out;
  }

  /** PIDs of the lab's running daemons (gobgpd, agents). */
  pids(): number[] {
    const handles = [...this.topo.processes, ...this.#agents.map((a) => a.handle)];
    return [...new Set(handles.filter((h) => h.running()).map((h) => h.pid))];
  }

  /** Stops every process and removes the namespaces. Idempotent. */
  async destroy(options: { keepWorkDir?: boolean } = {}): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const agent of this.#agents) await agent.stop().catch(() => {});
    for (const [sig, fn] of this.#hooks.signals) Deno.removeSignalListener(sig, fn);
    globalThis.removeEventListener("unload", this.#hooks.unload);
    this.mirror.close();
    this.#client.close();
    this.#streams.close();
    this.nl.close();
    this.#stay.restore();
    await this.topo.destroy(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  /** Progress message. */
  log(message: string): void {
    this.#log(message);
  }
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Log lines of one agent run that matter here. */
export interface AgentLogFacts {
  /** Entries the agent logged as added ("Added flood entry" lines, or the N of "Added N flood entries"). */
  added: number;
  /** "Removed flood entry" lines. */
  removed: number;
  /** Wall-clock time (ms since the epoch) of the first and last flood write line. */
  firstWriteWall: number | undefined;
  lastWriteWall: number | undefined;
  /** Wall-clock time of the agent's "Received ... table" line (its first full table). */
  tableWall: number | undefined;
  /** Warning and error lines (first few). */
  problems: string[];
}

/** One agent process. */
export class AgentRun {
  readonly handle: ProcessHandle;
  readonly logPath: string;
  /** Byte offset of this run's first line in the (shared, appended) log file. */
  readonly logStart: number;
  /** `performance.now()` / `Date.now()` just before the spawn. */
  readonly startedAt: number;
  readonly startedWall: number;

  constructor(
    handle: ProcessHandle,
    logPath: string,
    logStart: number,
    startedAt: number,
    startedWall: number,
  ) {
    this.handle = handle;
    this.logPath = logPath;
    this.logStart = logStart;
    this.startedAt = startedAt;
    this.startedWall = startedWall;
  }

  get pid(): number {
    return this.handle.pid;
  }

  running(): boolean {
    return this.handle.running();
  }

  /** /proc figures of the agent, or undefined once it has exited. */
  sample(): ProcSample | undefined {
    return this.running() ? sampleProc(this.pid) : undefined;
  }

  /** Current end of the log file (a mark for {@linkcode facts}). */
  logMark(): number {
    return fileSize(this.logPath);
  }

  /** What the log says between two marks (default: this run so far). */
  facts(from = this.logStart, to = this.logMark()): AgentLogFacts {
    const facts: AgentLogFacts = {
      added: 0,
      removed: 0,
      firstWriteWall: undefined,
      lastWriteWall: undefined,
      tableWall: undefined,
      problems: [],
    };
    let text: string;
    try {
      const file = Deno.openSync(this.logPath);
      try {
        file.seekSync(from, Deno.SeekMode.Start);
        const buf = new Uint8Array(Math.max(0, to - from));
        let read = 0;
        while (read < buf.length) {
          const n = file.readSync(buf.subarray(read));
          if (n === null) break;
          read += n;
        }
        text = new TextDecoder().decode(buf.subarray(0, read));
      } finally {
        file.close();
      }
    } catch {
      return facts;
    }
    for (const line of text.split("\n")) {
      const write = parseWriteLine(line);
      if (write !== undefined) {
        facts[write.op] += write.count;
        const wall = lineTime(line);
        if (wall !== undefined) {
          facts.firstWriteWall ??= wall;
          facts.lastWriteWall = wall;
        }
      } else if (/Received (the complete table|gobgpd's table)/.test(line)) {
        facts.tableWall ??= lineTime(line);
      } else if (/\[(WRN|ERR|FTL)\]/.test(line) && facts.problems.length < 5) {
        facts.problems.push(line.slice(0, 300));
      }
    }
    return facts;
  }

  /** SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<StopResult> {
    return await this.handle.stop("SIGTERM", 5_000);
  }
}

/**
 * A flood write line of the agent's log: "Added flood entry ... dst X on D"
 * (one entry) or "Added N flood entries on D ..." (a summary of one pass,
 * the entries themselves at debug level, which is then skipped to count
 * nothing twice); likewise "Removed". Pure.
 */
export function parseWriteLine(
  line: string,
): { op: "added" | "removed"; count: number } | undefined {
  const m = /\b(Added|Removed) (?:flood entry |(\d+) flood entries )/.exec(line);
  if (m === null || /\[DBG\]|"level":"debug"/.test(line)) return undefined;
  return {
    op: m[1] === "Added" ? "added" : "removed",
    count: m[2] === undefined ? 1 : Number(m[2]),
  };
}

/** The RFC 3339 time at the start of a text log line, as ms since the epoch. */
function lineTime(line: string): number | undefined {
  const space = line.indexOf(" ");
  if (space <= 0) return undefined;
  const ms = Date.parse(line.slice(0, space));
  return Number.isNaN(ms) ? undefined : ms;
}
