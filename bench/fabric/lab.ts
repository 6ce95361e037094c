/**
 * The fabric benchmark's lab: one switch namespace, one or two route
 * reflector hubs (gobgpd only: dynamic neighbours for 192.0.2.0/24, RR
 * clients in a peer-group, one cluster id shared by both hubs), N spokes
 * with gobgpd and the real agent, and one extra spoke that joins and leaves.
 *
 * ```
 *                  <prefix>sw: br0 192.0.2.254 (the benchmark lives here)
 *     hub1 .2  [hub2 .3]   spoke1 .11  ...  spokeN .(10+N)   extra .(11+N)
 * ```
 *
 * - Static underlay neighbour entries everywhere (`nud permanent`), so the
 *   control plane is measured, not ARP;
 * - IPv6 off in every node (no router solicitations, no MLD);
 * - each gobgpd serves its API on 127.0.0.1:50051 (for its agent) and on
 *   its underlay address (for the benchmark's {@linkcode RibRecorder});
 * - each spoke runs `bridge -timestamp monitor fdb` into a file
 *   ({@linkcode FdbMonitorFile});
 * - the benchmark keeps one libnl socket per spoke, opened inside that
 *   spoke's namespace, to create and delete `vxlan10010` itself (timed).
 *
 * Every process is started here and stopped by PID; the namespaces carry a
 * random per-run prefix and are removed by {@linkcode FabricLab.destroy},
 * also on SIGINT/SIGTERM/SIGHUP and at unload.
 *
 * @module
 */
import { stringify as toYaml } from "yaml";
import { parseIpv4 } from "../../src/net/ip.ts";
import { Netlink } from "../../src/netlink/mod.ts";
import { renderGobgpdConfig } from "../../scripts/lab/gobgpd_config.ts";
import { enterNetns, type NetnsStay, withNetns } from "../../scripts/lab/netns.ts";
import {
  exec,
  type ProcessHandle,
  run,
  runSync,
  spawnLogged,
  type StopResult,
} from "../../scripts/lab/proc.ts";
import { AGENT_V8_FLAGS, cacheDependencies, REPO_DIR } from "../../scripts/lab/topology.ts";
import { delay } from "../../scripts/lab/wait.ts";
import { FdbMonitorFile } from "./fdb_monitor.ts";
import { RibRecorder } from "./rib_recorder.ts";

export const VNI = 10010;
export const DEVICE = `vxlan${VNI}`;
export const ASN = 65000;
/** The VNI's community, 65000:10010. */
export const COMMUNITY = ASN * 65536 + VNI;
const VXLAN_PORT = 4789;
const API_PORT = 50051;
const BENCH_ADDRESS = "192.0.2.254";

export interface FabricNode {
  name: string;
  role: "hub" | "spoke" | "extra";
  ns: string;
  address: string;
  mac: string;
}

export interface FabricLabOptions {
  spokes: number;
  /** Route reflectors, 1 or 2. */
  hubs: number;
  log: (message: string) => void;
  /** Run every agent with `--cpu-prof` into this directory. */
  cpuProfDir?: string | undefined;
  /** Extra V8/Deno flags for the agents (e.g. `--v8-flags=...`). */
  agentFlags?: string[];
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function randomPrefix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2));
  return `evf${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}-`;
}

function macOf(index: number): string {
  return `02:00:c0:00:02:${index.toString(16).padStart(2, "0")}`;
}

export class FabricLab {
  readonly prefix: string;
  readonly workDir: string;
  readonly switchNs: string;
  readonly hubs: FabricNode[];
  readonly spokes: FabricNode[];
  readonly extra: FabricNode;
  #log: (message: string) => void;
  #options: FabricLabOptions;
  #namespaces: string[] = [];
  #processes: ProcessHandle[] = [];
  #gobgpd = new Map<string, ProcessHandle>();
  #agents = new Map<string, ProcessHandle>();
  #netlink = new Map<string, Netlink>();
  #underlay = new Map<string, number>();
  #stay: NetnsStay | undefined;
  readonly monitors = new Map<string, FdbMonitorFile>();
  /** Gobgpd's session states, seen through the benchmark's own WatchEvent client per spoke. */
  readonly ribs = new Map<string, RibRecorder>();
  /** The stamped `gobgp monitor` output file of each spoke (the floor). */
  readonly ribMonitors = new Map<string, string>();
  #destroyed = false;
  #hooks: { signals: [Deno.Signal, () => void][]; unload: () => void };

  private constructor(workDir: string, options: FabricLabOptions) {
    this.prefix = randomPrefix();
    this.workDir = workDir;
    this.switchNs = `${this.prefix}sw`;
    this.#log = options.log;
    this.#options = options;
    const node = (name: string, role: FabricNode["role"], host: number): FabricNode => ({
      name,
      role,
      ns: `${this.prefix}${name}`,
      address: `192.0.2.${host}`,
      mac: macOf(host),
    });
    this.hubs = Array.from({ length: options.hubs }, (_, i) => node(`hub${i + 1}`, "hub", 2 + i));
    this.spokes = Array.from(
      { length: options.spokes },
      (_, i) => node(`s${i + 1}`, "spoke", 11 + i),
    );
    this.extra = node(`s${options.spokes + 1}`, "extra", 11 + options.spokes);
    const signals = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) =>
      [sig, () => {
        console.error(`\n${sig}: removing the fabric ${this.prefix}*`);
        this.destroy().finally(() => Deno.exit(128 + (sig === "SIGINT" ? 2 : 15)));
      }] as [Deno.Signal, () => void]
    );
    for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
    const unload = () => this.destroySync();
    globalThis.addEventListener("unload", unload);
    this.#hooks = { signals, unload };
  }

  /** Spokes that carry agents: the N spokes and the extra one. */
  get agentNodes(): FabricNode[] {
    return [...this.spokes, this.extra];
  }

  get nodes(): FabricNode[] {
    return [...this.hubs, ...this.spokes, this.extra];
  }

  /** Builds the namespaces and the underlay; enters the switch namespace. */
  static async create(options: FabricLabOptions): Promise<FabricLab> {
    if (options.spokes + 1 > 240) throw new RangeError("At most 239 spokes fit in 192.0.2.0/24");
    await cacheDependencies();
    const workDir = await Deno.makeTempDir({ prefix: "evpn-fabric-" });
    const lab = new FabricLab(workDir, options);
    try {
      await lab.#build();
    } catch (err) {
      await lab.destroy({ keepWorkDir: true });
      throw err;
    }
    return lab;
  }

  file(name: string): string {
    return `${this.workDir}/${name}`;
  }

  async #build(): Promise<void> {
    const nodes = this.nodes;
    const sw = this.switchNs;
    this.#log(`creating ${nodes.length + 1} namespaces ${this.prefix}*`);
    for (const ns of [sw, ...nodes.map((n) => n.ns)]) {
      await exec(null, ["ip", "netns", "add", ns]);
      this.#namespaces.push(ns);
    }
    const neighbours = (self: string, dev: string) => [
      ...nodes.filter((n) => n.address !== self).map((n) =>
        `neigh replace ${n.address} lladdr ${n.mac} dev ${dev} nud permanent`
      ),
      ...(self === BENCH_ADDRESS
        ? []
        : [`neigh replace ${BENCH_ADDRESS} lladdr ${macOf(254)} dev ${dev} nud permanent`]),
    ];
    await this.#batch(sw, [
      "link set lo up",
      `link add br0 address ${macOf(254)} type bridge`,
      "link set br0 up",
    ]);
    await pool(nodes, 6, async (node, i) => {
      await exec(node.ns, [
        "sysctl",
        "-q",
        "-w",
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
      ]);
      await this.#batch(node.ns, [
        `link add eth0 address ${node.mac} type veth peer name n${i} netns ${sw}`,
        "link set lo up",
        `addr add ${node.address}/24 dev eth0`,
        "link set eth0 up",
        ...neighbours(node.address, "eth0"),
      ]);
    });
    await this.#batch(sw, [
      ...nodes.map((_, i) => `link set n${i} master br0 up`),
      `addr add ${BENCH_ADDRESS}/24 dev br0`,
      ...neighbours(BENCH_ADDRESS, "br0"),
    ]);
    for (const node of this.agentNodes) {
      const nl = withNetns(node.ns, () => Netlink.open());
      this.#netlink.set(node.name, nl);
      const eth0 = nl.links.getLink("eth0");
      if (eth0 === undefined) throw new Error(`No eth0 in ${node.name}`);
      this.#underlay.set(node.name, eth0.ifindex);
    }
    // gRPC clients connect from here, to every gobgpd's underlay address.
    this.#stay = enterNetns(sw);
  }

  async #batch(ns: string, lines: string[]): Promise<void> {
    const file = this.file(`${ns}.batch`);
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    await exec(ns, ["ip", "-batch", file]);
  }

  async #spawn(
    node: FabricNode,
    what: string,
    cmd: string[],
    env: Record<string, string> = {},
  ): Promise<ProcessHandle> {
    const handle = await spawnLogged({
      name: `${node.name}/${what}`,
      ns: node.ns,
      cmd,
      log: this.file(`${node.name}-${what}.log`),
      cwd: REPO_DIR,
      env,
    });
    this.#processes.push(handle);
    return handle;
  }

  /** Starts gobgpd everywhere and a RIB recorder on each spoke's; waits for every session. */
  async startGobgpd(timeoutMs = 60_000): Promise<void> {
    this.#log(`starting ${this.nodes.length} gobgpd`);
    const hubAddresses = this.hubs.map((h) => h.address);
    await pool(this.nodes, 8, async (node) => {
      const toml = node.role === "hub"
        ? renderGobgpdConfig({
          role: "hub",
          asn: ASN,
          routerId: node.address,
          dynamicPrefix: "192.0.2.0/24",
          peerGroup: "spokes",
          // Redundant reflectors share one cluster id (RFC 4456).
          clusterId: this.hubs[0]!.address,
        })
        : renderGobgpdConfig({
          role: "spoke",
          asn: ASN,
          routerId: node.address,
          hub: hubAddresses,
          connectRetry: 1,
        });
      const config = this.file(`${node.name}-gobgpd.toml`);
      await Deno.writeTextFile(config, toml);
      this.#gobgpd.set(
        node.name,
        await this.#spawn(node, "gobgpd", [
          "gobgpd",
          "-f",
          config,
          "--api-hosts",
          `127.0.0.1:${API_PORT},${node.address}:${API_PORT}`,
          "-p",
          "--pprof-disable",
        ]),
      );
    });
    for (const node of this.agentNodes) {
      this.ribs.set(node.name, new RibRecorder(`${node.address}:${API_PORT}`, COMMUNITY));
    }
    this.#log("waiting for every spoke's sessions with the hubs");
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const missing = this.agentNodes.filter((n) => {
        const rib = this.ribs.get(n.name)!;
        return !hubAddresses.every((h) => rib.peers.get(h) === true);
      });
      if (missing.length === 0) break;
      for (const [name, handle] of this.#gobgpd) {
        if (!handle.running()) throw new Error(`gobgpd of ${name} exited; see ${handle.log}`);
      }
      if (performance.now() > deadline) {
        throw new Error(
          `BGP sessions not established within ${timeoutMs} ms: ${
            missing.map((n) => n.name).join(", ")
          }`,
        );
      }
      await delay(200);
    }
  }

  /**
   * Starts, in every spoke, `bridge -timestamp monitor fdb` and the stamped
   * `gobgp monitor global rib -j` (`rib_monitor.ts`), before any device exists.
   */
  async startMonitors(): Promise<void> {
    for (const node of this.agentNodes) {
      const fifo = this.file(`${node.name}-rib.fifo`);
      await exec(null, ["mkfifo", fifo]);
      const stamped = this.file(`${node.name}-rib-monitor.txt`);
      await Deno.writeTextFile(stamped, "");
      this.ribMonitors.set(node.name, stamped);
      // The reader first: both ends block in open() until the other one is there.
      this.#processes.push(
        await spawnLogged({
          name: `${node.name}/rib-stamp`,
          ns: null,
          cmd: [
            "perl",
            "-MTime::HiRes=time",
            "-ne",
            'BEGIN { $| = 1 } printf "%.6f %s", time, $_',
            fifo,
          ],
          log: stamped,
        }),
        await spawnLogged({
          name: `${node.name}/rib-monitor`,
          ns: node.ns,
          cmd: [
            "gobgp",
            "-u",
            "127.0.0.1",
            "-p",
            String(API_PORT),
            "monitor",
            "global",
            "rib",
            "-j",
          ],
          log: fifo,
        }),
      );
      const out = this.file(`${node.name}-fdb-monitor.txt`);
      await Deno.writeTextFile(out, "");
      const handle = await spawnLogged({
        name: `${node.name}/monitor`,
        ns: node.ns,
        cmd: ["bridge", "-timestamp", "monitor", "fdb"],
        log: out,
        env: { TZ: "UTC" },
      });
      this.#processes.push(handle);
      this.monitors.set(node.name, new FdbMonitorFile(out));
    }
    // `bridge monitor` subscribes right after it starts; give the spawns a moment.
    await delay(300);
  }

  /** Starts every agent (at most `parallel` starting at once); waits until each has gobgpd's table. */
  async startAgents(parallel = 4, timeoutMs = 180_000): Promise<void> {
    this.#log(`starting ${this.agentNodes.length} agents, ${parallel} at a time`);
    const deadline = performance.now() + timeoutMs;
    await pool(this.agentNodes, parallel, async (node) => {
      const handle = await this.#startAgent(node);
      while (!(await this.#agentLogHas(node, /Received gobgpd's table/))) {
        if (!handle.running()) throw new Error(`agent of ${node.name} exited; see ${handle.log}`);
        if (performance.now() > deadline) throw new Error(`agent of ${node.name} not ready`);
        await delay(100);
      }
    });
  }

  async #startAgent(node: FabricNode): Promise<ProcessHandle> {
    const config = {
      logLevel: "info",
      advertiseSelf: true,
      communityAsn: ASN,
      gobgp: { address: `127.0.0.1:${API_PORT}`, timeout: "5s" },
      node: { localInterface: "eth0", localAddress: node.address, vxlanPort: VXLAN_PORT },
    };
    const path = this.file(`${node.name}-agent.yaml`);
    await Deno.writeTextFile(path, toYaml(config));
    const prof = this.#options.cpuProfDir;
    if (prof !== undefined) await Deno.mkdir(prof, { recursive: true });
    const handle = await this.#spawn(node, "agent", [
      Deno.execPath(),
      "run",
      "-A",
      "--cached-only",
      `--v8-flags=${AGENT_V8_FLAGS}`,
      ...(prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}`]),
      ...(this.#options.agentFlags ?? []),
      `${REPO_DIR}/main.ts`,
      "--config",
      path,
    ], { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" });
    this.#agents.set(node.name, handle);
    return handle;
  }

  async #agentLogHas(node: FabricNode, pattern: RegExp): Promise<boolean> {
    try {
      return pattern.test(await Deno.readTextFile(this.file(`${node.name}-agent.log`)));
    } catch {
      return false;
    }
  }

  /** The agent of `node`. */
  agent(node: FabricNode): ProcessHandle | undefined {
    return this.#agents.get(node.name);
  }

  /** The gobgpd of `node`. */
  gobgpd(node: FabricNode): ProcessHandle | undefined {
    return this.#gobgpd.get(node.name);
  }

  /**
   * Creates `vxlan10010` in `node` through the benchmark's own libnl socket
   * there (`ip link add vxlan10010 up type vxlan id 10010 local A dstport
   * 4789 dev eth0 nolearning`); returns the ms it took.
   */
  createDevice(node: FabricNode): number {
    const nl = this.#netlink.get(node.name)!;
    const start = performance.now();
    nl.links.createVxlan({
      name: DEVICE,
      vni: VNI,
      local: parseIpv4(node.address)!,
      port: VXLAN_PORT,
      underlayIfindex: this.#underlay.get(node.name)!,
    });
    return performance.now() - start;
  }

  /** Deletes `vxlan10010` in `node`; returns the ms it took. */
  deleteDevice(node: FabricNode): number {
    const nl = this.#netlink.get(node.name)!;
    const start = performance.now();
    const link = nl.links.getLink(DEVICE);
    if (link !== undefined) nl.links.deleteLink(link.ifindex, DEVICE);
    return performance.now() - start;
  }

  /** The flood list of `vxlan10010` in `node` from a fresh dump (`bridge -j fdb show`). */
  async floodList(node: FabricNode): Promise<string[]> {
    const out = await run(node.ns, ["bridge", "-j", "fdb", "show", "dev", DEVICE]);
    if (!out.success) return [];
    const entries = JSON.parse(out.stdout || "[]") as { mac: string; dst?: string }[];
    return entries.filter((e) => e.mac === "00:00:00:00:00:00" && e.dst !== undefined)
      .map((e) => e.dst!).sort();
  }

  /** PIDs of the running agents. */
  agentPids(): number[] {
    return [...this.#agents.values()].filter((h) => h.running()).map((h) => h.pid);
  }

  /** PIDs of every running process of the lab. */
  pids(): number[] {
    return this.#processes.filter((h) => h.running()).map((h) => h.pid);
  }

  /** Kills the gobgpd of `hub` with SIGKILL. */
  async killGobgpd(node: FabricNode): Promise<StopResult | undefined> {
    return await this.#gobgpd.get(node.name)?.stop("SIGKILL", 5_000);
  }

  /** Stops every process (agents first), removes the namespaces. Idempotent. */
  async destroy(options: { keepWorkDir?: boolean } = {}): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const rib of this.ribs.values()) rib.close();
    for (const nl of this.#netlink.values()) nl.close();
    this.#stay?.restore();
    const agents = [...this.#agents.values()];
    await Promise.allSettled(agents.map((h) => h.stop("SIGTERM", 5_000)));
    const rest = this.#processes.filter((h) => !agents.includes(h));
    await Promise.allSettled(rest.map((h) => h.stop("SIGTERM", 5_000)));
    for (const ns of this.#namespaces.toReversed()) {
      await run(null, ["ip", "netns", "del", ns]);
    }
    this.#namespaces = [];
    for (const [sig, fn] of this.#hooks.signals) Deno.removeSignalListener(sig, fn);
    globalThis.removeEventListener("unload", this.#hooks.unload);
    if (!options.keepWorkDir) await Deno.remove(this.workDir, { recursive: true }).catch(() => {});
  }

  /** Last resort (unload): SIGKILL by PID, delete the namespaces. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const p of this.#processes) p.kill("SIGKILL");
    for (const ns of this.#namespaces.toReversed()) runSync(null, ["ip", "netns", "del", ns]);
  }
}
