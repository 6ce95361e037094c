/**
 * The hub-spoke lab topology in network namespaces, shared by the
 * end-to-end test (`tests/e2e_test.ts`) and the lab command
 * (`scripts/lab.ts`).
 *
 * ```
 *            <prefix>sw: br0 (Linux bridge)
 *         n0 /      n1 |      n2 \  ...
 *   <prefix>hub   <prefix>s1   <prefix>s2
 *   eth0 .10      eth0 .11     eth0 .12        underlay 192.0.2.0/24
 *   gobgpd (RR,   gobgpd ──────────────▶ hub (static iBGP neighbour)
 *   dynamic-neighbors 192.0.2.0/24)
 * ```
 *
 * With `underlay: "ipv6"` the underlay is 2001:db8::/64 instead (node i =
 * 2001:db8::(10+i), added `nodad`), the BGP sessions run over IPv6 and the
 * hub accepts dynamic neighbours from 2001:db8::/64; router ids stay
 * 192.0.2.(10+i) (an identifier, never an address on a link).
 *
 * Everything lives in namespaces named with a per-run random prefix
 * (`evl<4 hex>-`); nothing is created in the caller's namespace. The only
 * addresses used are 192.0.2.0/24 and 2001:db8::/64 (underlay),
 * 198.51.100.0/24, 198.18.0.0/15 and 2001:db8:100::/48 (overlays) and
 * loopback, inside those namespaces.
 * {@linkcode Topology.destroy} ends every process it started, by PID, and
 * deletes the namespaces; a signal listener and an `unload` handler do the
 * same if the caller dies first.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { type AfiSafiName, renderGobgpdConfig } from "./gobgpd_config.ts";
import {
  argv,
  exec,
  type Netns,
  ProcessHandle,
  type ProcessRecord,
  run,
  runSync,
  spawnLogged,
} from "./proc.ts";
import { StopWaiting, waitFor } from "./wait.ts";

export { argv, exec, run } from "./proc.ts";
export { delay, StopWaiting, waitFor, WaitTimeoutError } from "./wait.ts";
export type { ProcessRecord, StopResult } from "./proc.ts";
export { ProcessHandle } from "./proc.ts";

/** The repository root (this file is `scripts/lab/topology.ts`). */
export const REPO_DIR: string = fileURLToPath(new URL("../../", import.meta.url)).replace(
  /\/$/,
  "",
);

/** Underlay prefix; node i has 192.0.2.(10+i). */
export const UNDERLAY_PREFIX = "192.0.2.0/24";
/** IPv6 underlay prefix (`underlay: "ipv6"`); node i has 2001:db8::(10+i). */
export const UNDERLAY_PREFIX6 = "2001:db8::/64";
/** The gRPC API address of gobgpd in every node (each namespace has its own loopback). */
export const GOBGP_API = "127.0.0.1:50051";
/** VXLAN UDP port. */
export const VXLAN_PORT = 4789;

/**
 * The V8 flags the agent runs with everywhere: `deno task start`, the
 * compiled build (`scripts/build.sh` bakes them in), the lab and the
 * benchmark. A 2 MiB semi-space keeps V8's young generation from growing to
 * 16-32 MiB during a burst of writes: about 25 MiB less RSS at 100,000
 * entries, 5 MiB less idle, no slower (docs/performance.md).
 * `tests/packaging_test.ts` holds the three places to this value.
 */
export const AGENT_V8_FLAGS = "--max-semi-space-size=2";

/** One host of the lab: the hub (index 0) or a spoke (index 1..N). */
export interface LabNode {
  /** 0 for the hub, i for spoke i. */
  readonly index: number;
  /** "hub" or "spoke<i>". */
  readonly name: string;
  readonly role: "hub" | "spoke";
  /** Network namespace name. */
  readonly ns: string;
  /** Underlay address on `eth0`, e.g. "192.0.2.11" (IPv6 underlay: "2001:db8::11"). */
  readonly address: string;
}

/** The BGP router id of node `index` (IPv4 dotted quad, whatever the underlay). */
export function routerIdOf(node: Pick<LabNode, "index">): string {
  return `192.0.2.${10 + node.index}`;
}

/** Options for {@linkcode Topology.create}. */
export interface TopologyOptions {
  /** Number of spokes, 1..200. @default 3 */
  spokes?: number;
  /** Namespace name prefix, ≤ 9 characters. @default `evl<4 random hex>-` */
  prefix?: string;
  /** BGP AS number used everywhere (iBGP). @default 65000 */
  asn?: number;
  /** Directory for configs and logs. @default a new temporary directory */
  workDir?: string;
  /** Repository whose `main.ts` is the agent. @default {@linkcode REPO_DIR} */
  repoDir?: string;
  /** Start daemons in their own session so they outlive the caller (the lab's `up`). @default false */
  detached?: boolean;
  /** Underlay address family of `eth0` and the BGP sessions. @default "ipv4" */
  underlay?: "ipv4" | "ipv6";
  /**
   * Address families of every gobgpd session (`l2vpn-evpn` for EVPN).
   * @default ["ipv4-unicast"], or ["ipv6-unicast"] with an IPv6 underlay
   */
  families?: AfiSafiName[];
  /** Progress messages. @default no output */
  log?: (message: string) => void;
  /**
   * BGP graceful restart on every session (see `gobgpd_config.ts`), and
   * every gobgpd started with `-r`. @default off
   */
  gracefulRestart?: { restartTime: number };
}

/** Serialisable description of a running topology (the lab's state file). */
export interface TopologyState {
  version: 1;
  prefix: string;
  asn: number;
  workDir: string;
  repoDir: string;
  switchNs: string;
  nodes: LabNode[];
  processes: ProcessRecord[];
  /** Graceful restart, when the topology was created with it. */
  gracefulRestart?: { restartTime: number };
  /** @default "ipv4" */
  underlay?: "ipv4" | "ipv6";
  /** @default by underlay, as in {@linkcode TopologyOptions.families} */
  families?: AfiSafiName[];
}

/** Agent settings written to its YAML config; see the seed README for the keys. */
export interface AgentOptions {
  /** Extra or overriding top-level config keys (merged shallowly). */
  config?: Record<string, unknown>;
  /** Extra command-line arguments after `--config FILE`. */
  args?: string[];
}

/** Options for {@linkcode Topology.ping}. */
export interface PingOptions {
  /** Echo requests to send. @default 1 */
  count?: number;
  /** Bind to this interface (`ping -I`). */
  interface?: string;
  /** Overall deadline in seconds (`ping -w`). @default 2 */
  deadline?: number;
}

/** One entry of `bridge -j fdb show`. */
export interface FdbEntry {
  mac: string;
  dst?: string;
  flags?: string[];
  state?: string;
}

/** Neighbour session state names, indexed by GoBGP's `session_state` enum value. */
export const SESSION_STATES = [
  "UNKNOWN",
  "IDLE",
  "CONNECT",
  "ACTIVE",
  "OPENSENT",
  "OPENCONFIRM",
  "ESTABLISHED",
] as const;

/** A BGP neighbour as reported by `gobgp -j neighbor`. */
export interface Neighbor {
  address: string;
  state: typeof SESSION_STATES[number];
  peerGroup?: string;
}

/** Prefix → sorted communities ("ASN:VALUE") of the best path. */
export type Rib = Record<string, string[]>;

/** Formats a standard community (RFC 1997, a uint32) as "ASN:VALUE". */
export function formatCommunity(value: number): string {
  return `${value >>> 16}:${value & 0xffff}`;
}

/**
 * Parses `gobgp -j global rib -a ipv4` (GoBGP 3.10): an object keyed by
 * prefix whose values are arrays of paths; each path has `best` and `attrs`,
 * the COMMUNITIES attribute being `{"type": 8, "communities": [uint32...]}`.
 * An empty table prints `{}`. Takes the best path of each prefix (else the
 * first) and returns its communities sorted.
 */
export function parseRib(json: string): Rib {
  const table = JSON.parse(json) as
    | Record<
      string,
      { best?: boolean; attrs?: { type: number; communities?: number[] }[] }[]
    >
    | null;
  const rib: Rib = {};
  for (const [prefix, paths] of Object.entries(table ?? {})) {
    const path = paths.find((p) => p.best) ?? paths[0];
    if (path === undefined) continue;
    const communities = path.attrs?.find((a) => a.type === 8)?.communities ?? [];
    rib[prefix] = communities.map(formatCommunity).sort();
  }
  return rib;
}

/**
 * Parses `gobgp -j neighbor`: an array whose items carry
 * `state.neighbor_address`, `state.session_state` (enum; 6 = ESTABLISHED;
 * omitted when 0) and `conf.peer_group`. Dynamic neighbours appear only
 * once connected.
 */
export function parseNeighbors(json: string): Neighbor[] {
  const list = JSON.parse(json) as {
    conf?: { peer_group?: string; neighbor_address?: string };
    state?: { neighbor_address?: string; session_state?: number };
  }[] | null;
  return (list ?? []).map((n) => {
    const neighbor: Neighbor = {
      address: n.state?.neighbor_address ?? n.conf?.neighbor_address ?? "",
      state: SESSION_STATES[n.state?.session_state ?? 0] ?? "UNKNOWN",
    };
    if (n.conf?.peer_group) neighbor.peerGroup = n.conf.peer_group;
    return neighbor;
  });
}

/** A fresh namespace prefix, `evl<4 random hex>-`. */
export function randomPrefix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2));
  return `evl${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}-`;
}

const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
const SIGNAL_EXIT: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

/** The lab topology. Create with {@linkcode Topology.create}; always {@linkcode Topology.destroy}. */
export class Topology implements AsyncDisposable {
  readonly prefix: string;
  readonly asn: number;
  readonly workDir: string;
  readonly repoDir: string;
  readonly switchNs: string;
  /** Hub first, then spokes 1..N. */
  readonly nodes: readonly LabNode[];
  readonly gracefulRestart: { restartTime: number } | undefined;
  readonly underlay: "ipv4" | "ipv6";
  readonly families: readonly AfiSafiName[];
  #namespaces: string[] = [];
  #processes: ProcessHandle[] = [];
  #detached: boolean;
  #log: (message: string) => void;
  #destroyed = false;
  #hooks: { signals: [Deno.Signal, () => void][]; unload: () => void } | undefined;

  private constructor(
    state: Omit<TopologyState, "version" | "processes">,
    detached: boolean,
    log: (m: string) => void,
  ) {
    this.prefix = state.prefix;
    this.asn = state.asn;
    this.workDir = state.workDir;
    this.repoDir = state.repoDir;
    this.switchNs = state.switchNs;
    this.nodes = state.nodes;
    this.gracefulRestart = state.gracefulRestart;
    this.underlay = state.underlay ?? "ipv4";
    this.families = state.families ??
      [this.underlay === "ipv6" ? "ipv6-unicast" : "ipv4-unicast"];
    this.#detached = detached;
    this.#log = log;
  }

  /** The hub (node 0). */
  get hub(): LabNode {
    return this.nodes[0]!;
  }

  /** Spokes 1..N. */
  get spokes(): readonly LabNode[] {
    return this.nodes.slice(1);
  }

  /** Spoke `i` (1-based). */
  spoke(i: number): LabNode {
    const node = this.nodes[i];
    if (i < 1 || node === undefined) throw new RangeError(`No spoke ${i} in this topology`);
    return node;
  }

  /** Every process started (or attached) and not yet reaped by destroy(). */
  get processes(): readonly ProcessHandle[] {
    return this.#processes;
  }

  /**
   * Builds the namespaces, the switch bridge and one veth per node. Daemons
   * are started separately ({@linkcode startGobgpd}, {@linkcode startAgent}).
   * On failure everything built so far is removed.
   */
  static async create(options: TopologyOptions = {}): Promise<Topology> {
    const spokes = options.spokes ?? 3;
    if (!Number.isInteger(spokes) || spokes < 1 || spokes > 200) {
      throw new RangeError(`Cannot create topology: spokes ${spokes} is outside 1..200`);
    }
    const prefix = options.prefix ?? randomPrefix();
    if (!/^[a-z0-9-]{1,9}$/.test(prefix)) {
      throw new TypeError(`Cannot create topology: prefix "${prefix}" must be ≤ 9 of [a-z0-9-]`);
    }
    const workDir = options.workDir ?? await Deno.makeTempDir({ prefix: `${prefix}lab-` });
    await Deno.mkdir(workDir, { recursive: true });
    const nodes: LabNode[] = [];
    const v6 = options.underlay === "ipv6";
    for (let i = 0; i <= spokes; i++) {
      nodes.push({
        index: i,
        name: i === 0 ? "hub" : `spoke${i}`,
        role: i === 0 ? "hub" : "spoke",
        ns: i === 0 ? `${prefix}hub` : `${prefix}s${i}`,
        address: v6 ? `2001:db8::${10 + i}` : `192.0.2.${10 + i}`,
      });
    }
    const topo = new Topology(
      {
        prefix,
        asn: options.asn ?? 65000,
        workDir,
        repoDir: options.repoDir ?? REPO_DIR,
        switchNs: `${prefix}sw`,
        nodes,
        ...(options.gracefulRestart ? { gracefulRestart: options.gracefulRestart } : {}),
        ...(v6 ? { underlay: "ipv6" } : {}),
        ...(options.families ? { families: options.families } : {}),
      },
      options.detached ?? false,
      options.log ?? (() => {}),
    );
    topo.#installHooks();
    try {
      await topo.#build();
    } catch (err) {
      await topo.destroy();
      throw err;
    }
    return topo;
  }

  /**
   * Re-attaches to a topology described by a state file (written by
   * {@linkcode toState} in another process). Processes are tracked by PID
   * and start time only.
   */
  static attach(state: TopologyState, log: (message: string) => void = () => {}): Topology {
    if (state.version !== 1) throw new TypeError(`Unknown lab state version ${state.version}`);
    const topo = new Topology(state, true, log);
    topo.#namespaces = [state.switchNs, ...state.nodes.map((n) => n.ns)];
    topo.#processes = state.processes.map((p) => ProcessHandle.attach(p));
    return topo;
  }

  /** A serialisable description, for {@linkcode attach} in another process. */
  toState(): TopologyState {
    return {
      version: 1,
      prefix: this.prefix,
      asn: this.asn,
      workDir: this.workDir,
      repoDir: this.repoDir,
      switchNs: this.switchNs,
      nodes: [...this.nodes],
      processes: this.#processes.map((p) => p.toRecord()),
      ...(this.gracefulRestart ? { gracefulRestart: this.gracefulRestart } : {}),
      ...(this.underlay === "ipv6" ? { underlay: "ipv6" as const } : {}),
      families: [...this.families],
    };
  }

  /**
   * Lets the caller exit while the lab keeps running: removes the cleanup
   * hooks and un-refs child processes. Only meaningful with `detached: true`.
   */
  disown(): TopologyState {
    this.#removeHooks();
    for (const p of this.#processes) p.unref();
    return this.toState();
  }

  async #build(): Promise<void> {
    const sw = this.switchNs;
    this.#log(`creating namespaces ${this.prefix}{sw,hub,s1..s${this.nodes.length - 1}}`);
    await exec(null, ["ip", "netns", "add", sw]);
    this.#namespaces.push(sw);
    await exec(sw, ["ip", "link", "set", "lo", "up"]);
    await exec(sw, ["ip", "link", "add", "br0", "type", "bridge"]);
    await exec(sw, ["ip", "link", "set", "br0", "up"]);
    for (const node of this.nodes) {
      await exec(null, ["ip", "netns", "add", node.ns]);
      this.#namespaces.push(node.ns);
      const port = `n${node.index}`;
      // Created inside the node, peer moved straight into the switch: nothing
      // ever appears in the caller's namespace.
      await exec(node.ns, argv`ip link add eth0 type veth peer name ${port} netns ${sw}`);
      await exec(sw, ["ip", "link", "set", port, "master", "br0", "up"]);
      await exec(node.ns, ["ip", "link", "set", "lo", "up"]);
      await this.addAddress(node, "eth0", `${node.address}/${this.underlay === "ipv6" ? 64 : 24}`);
      await exec(node.ns, ["ip", "link", "set", "eth0", "up"]);
    }
  }

  #installHooks(): void {
    const signals: [Deno.Signal, () => void][] = SIGNALS.map((sig) => [
      sig,
      () => {
        console.error(`\n${sig}: removing lab ${this.prefix}*`);
        this.destroy().finally(() => Deno.exit(SIGNAL_EXIT[sig] ?? 1));
      },
    ]);
    for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
    const unload = () => this.destroySync();
    globalThis.addEventListener("unload", unload);
    this.#hooks = { signals, unload };
  }

  #removeHooks(): void {
    if (this.#hooks === undefined) return;
    for (const [sig, fn] of this.#hooks.signals) Deno.removeSignalListener(sig, fn);
    globalThis.removeEventListener("unload", this.#hooks.unload);
    this.#hooks = undefined;
  }

  /** Runs `cmd` inside `node` (a node or a namespace name); returns stdout, throws on failure. */
  exec(node: LabNode | Netns, cmd: readonly string[]): Promise<string> {
    return exec(typeof node === "object" && node !== null ? node.ns : node, cmd);
  }

  /** Path of a file in the work directory. */
  file(name: string): string {
    return `${this.workDir}/${name}`;
  }

  /** The gobgpd TOML this topology uses for `node`. */
  gobgpdConfig(node: LabNode): string {
    const gr = this.gracefulRestart ? { gracefulRestart: this.gracefulRestart } : {};
    return node.role === "hub"
      ? renderGobgpdConfig({
        ...gr,
        role: "hub",
        asn: this.asn,
        routerId: routerIdOf(node),
        dynamicPrefix: this.underlay === "ipv6" ? UNDERLAY_PREFIX6 : UNDERLAY_PREFIX,
        peerGroup: "spokes",
        clusterId: routerIdOf(node),
        families: [...this.families],
      })
      : renderGobgpdConfig({
        ...gr,
        role: "spoke",
        asn: this.asn,
        routerId: routerIdOf(node),
        hub: this.hub.address,
        families: [...this.families],
      });
  }

  /** Tracks a process started elsewhere (FRR's daemons): `destroy()` stops it by PID. */
  track(handle: ProcessHandle): void {
    this.#processes.push(handle);
  }

  /**
   * Creates namespace `<prefix><suffix>` with `lo` up, removed by
   * `destroy()` like the topology's own (a host behind a node's bridge).
   */
  async addNamespace(suffix: string): Promise<string> {
    const ns = `${this.prefix}${suffix}`;
    await exec(null, ["ip", "netns", "add", ns]);
    this.#namespaces.push(ns);
    await exec(ns, ["ip", "link", "set", "lo", "up"]);
    return ns;
  }

  /**
   * Starts gobgpd in `node` (API on {@linkcode GOBGP_API}, log in the work
   * directory) and waits until its API answers. `toml` replaces the
   * topology's own configuration ({@linkcode gobgpdConfig}). With graceful
   * restart, always with `-r` (as the chart does: a start cannot tell
   * whether it is a restart, and on a first start peers simply hold nothing
   * stale).
   */
  async startGobgpd(node: LabNode, timeoutMs = 10_000, toml?: string): Promise<ProcessHandle> {
    const config = this.file(`${node.name}-gobgpd.toml`);
    await Deno.writeTextFile(config, toml ?? this.gobgpdConfig(node));
    const handle = await this.#spawn(
      node,
      "gobgpd",
      [
        ...argv`gobgpd -f ${config} --api-hosts ${GOBGP_API} -p --pprof-disable`,
        ...(this.gracefulRestart ? ["-r"] : []),
      ],
    );
    await waitFor(
      async () => {
        if (!handle.running()) {
          throw new Error(`gobgpd in ${node.name} exited: ${await tail(handle.log)}`);
        }
        return (await run(node.ns, ["gobgp", "global"])).success;
      },
      timeoutMs,
      `gobgpd API in ${node.name}`,
    );
    return handle;
  }

  /** Starts gobgpd on every node. */
  async startAllGobgpd(): Promise<void> {
    this.#log("starting gobgpd on every node");
    await Promise.all(this.nodes.map((n) => this.startGobgpd(n)));
  }

  /** `gobgp -j neighbor` in `node`, parsed. */
  async neighbors(node: LabNode): Promise<Neighbor[]> {
    return parseNeighbors(await this.exec(node, ["gobgp", "-j", "neighbor"]));
  }

  /**
   * Waits until every spoke's session with the hub is ESTABLISHED, as seen
   * from both ends. gobgpd 3.10 waits a random 5–9 s before its first
   * connection attempt, hence the default budget.
   */
  async waitForSessions(timeoutMs = 40_000): Promise<void> {
    this.#log("waiting for BGP sessions");
    await waitFor(
      async () => {
        const hub = await this.neighbors(this.hub);
        const up = new Set(hub.filter((n) => n.state === "ESTABLISHED").map((n) => n.address));
        const missing = this.spokes.filter((s) => !up.has(s.address)).map((s) => s.name);
        for (const s of this.spokes) {
          const view = (await this.neighbors(s)).find((n) => n.address === this.hub.address);
          if (view?.state !== "ESTABLISHED") {
            missing.push(`${s.name}→hub ${view?.state ?? "absent"}`);
          }
        }
        if (missing.length > 0) throw new Error(`not established: ${missing.join(", ")}`);
        return true;
      },
      timeoutMs,
      "every spoke's BGP session with the hub",
    );
  }

  /** Path of the agent's config file for `node`. */
  agentConfigPath(node: LabNode): string {
    return this.file(`${node.name}-agent.yaml`);
  }

  /**
   * Starts the agent (`deno run -A main.ts --config FILE`) in `node`, with
   * stdout and stderr in `<workDir>/<node>-agent.log`. Run
   * {@linkcode cacheDependencies} first: namespaces have no route out.
   */
  async startAgent(node: LabNode, options: AgentOptions = {}): Promise<ProcessHandle> {
    const config = {
      logLevel: "debug",
      advertiseSelf: true,
      communityAsn: this.asn,
      gobgp: { address: GOBGP_API, timeout: "5s" },
      node: {
        localInterface: "eth0",
        vxlanPort: VXLAN_PORT,
        ...(this.underlay === "ipv6" ? { addressFamily: "ipv6" } : {}),
      },
      ...options.config,
    };
    const path = this.agentConfigPath(node);
    await Deno.writeTextFile(path, toYaml(config));
    const main = `${this.repoDir}/main.ts`;
    return await this.#spawn(node, "agent", [
      ...argv`${Deno.execPath()} run -A --cached-only --v8-flags=${AGENT_V8_FLAGS} ${main} --config ${path}`,
      ...(options.args ?? []),
    ], { cwd: this.repoDir, env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } });
  }

  async #spawn(
    node: LabNode,
    what: string,
    cmd: string[],
    extra: { cwd?: string; env?: Record<string, string> } = {},
  ): Promise<ProcessHandle> {
    const log = this.file(`${node.name}-${what}.log`);
    await Deno.writeTextFile(log, `--- ${new Date().toISOString()} ${cmd.join(" ")}\n`, {
      append: true,
    });
    const handle = await spawnLogged({
      name: `${node.name}/${what}`,
      ns: node.ns,
      cmd,
      log,
      detached: this.#detached,
      ...extra,
    });
    this.#processes.push(handle);
    return handle;
  }

  /**
   * Throws {@linkcode StopWaiting} (with the tail of its log) when the agent
   * of a node not named in `stopped` has exited: waiting on would only time out.
   */
  async agentsAlive(stopped: ReadonlySet<string> = new Set()): Promise<void> {
    for (const node of this.nodes.filter((n) => !stopped.has(n.name))) {
      if (this.process(node, "agent") === undefined) {
        const log = this.file(`${node.name}-agent.log`);
        throw new StopWaiting(`The agent on ${node.name} has exited:\n${await tail(log, 15)}`);
      }
    }
  }

  /** The running process labelled `"<node>/<what>"` (e.g. "spoke1/agent"), if any. */
  process(node: LabNode, what: "gobgpd" | "agent"): ProcessHandle | undefined {
    return this.#processes.findLast((p) => p.name === `${node.name}/${what}` && p.running());
  }

  /**
   * `ip link add vxlan<VNI> type vxlan id <VNI> local <node address> dev eth0
   * dstport 4789 nolearning`, set up, and optionally an overlay address.
   * `local` overrides the node's underlay address.
   */
  async addVxlan(
    node: LabNode,
    vni: number,
    overlayCidr?: string,
    local: string = node.address,
  ): Promise<string> {
    const dev = `vxlan${vni}`;
    await this.exec(
      node,
      argv`ip link add ${dev} type vxlan id ${vni} local ${local} dev eth0 dstport ${VXLAN_PORT} nolearning`,
    );
    await this.exec(node, ["ip", "link", "set", dev, "up"]);
    if (overlayCidr !== undefined) await this.addAddress(node, dev, overlayCidr);
    return dev;
  }

  /** `ip addr add CIDR dev DEV` (IPv6: `nodad`, so it is usable at once). */
  async addAddress(node: LabNode, dev: string, cidr: string): Promise<void> {
    const nodad = cidr.includes(":") ? ["nodad"] : [];
    await this.exec(node, ["ip", "addr", "add", cidr, "dev", dev, ...nodad]);
  }

  /** `ip link del DEV`. */
  async delLink(node: LabNode, dev: string): Promise<void> {
    await this.exec(node, ["ip", "link", "del", dev]);
  }

  /** `bridge -j fdb show dev DEV`, parsed. */
  async fdb(node: LabNode, dev: string): Promise<FdbEntry[]> {
    const out = await this.exec(node, ["bridge", "-j", "fdb", "show", "dev", dev]);
    return out.trim() === "" ? [] : JSON.parse(out) as FdbEntry[];
  }

  /** Sorted destinations of the flood (00:00:00:00:00:00) entries on `dev`. */
  async floodList(node: LabNode, dev: string): Promise<string[]> {
    return (await this.fdb(node, dev))
      .filter((e) => e.mac === "00:00:00:00:00:00" && e.dst !== undefined)
      .map((e) => e.dst!)
      .sort(compareAddresses);
  }

  /** `gobgp -j global rib -a FAMILY` in `node`: prefix → sorted "ASN:VALUE" communities. */
  async rib(node: LabNode, family: "ipv4" | "ipv6" = "ipv4"): Promise<Rib> {
    return parseRib(await this.exec(node, ["gobgp", "-j", "global", "rib", "-a", family]));
  }

  /** `ping -n -q -c COUNT -W 1 -w DEADLINE [-I IFACE] ADDR` in `node`: true if any reply came. */
  async ping(node: LabNode, address: string, options: PingOptions = {}): Promise<boolean> {
    const count = options.count ?? 1;
    const deadline = options.deadline ?? 2;
    const cmd = ["ping", "-n", "-q", "-c", String(count), "-W", "1", "-w", String(deadline)];
    if (options.interface !== undefined) cmd.push("-I", options.interface);
    cmd.push(address);
    return (await run(node.ns, cmd)).success;
  }

  /** `ip -j route get ADDR` in `node`: the output device, or undefined when unroutable. */
  async routeDevice(node: LabNode, address: string): Promise<string | undefined> {
    const r = await run(node.ns, ["ip", "-j", "route", "get", address]);
    if (!r.success) return undefined;
    return (JSON.parse(r.stdout) as { dev?: string }[])[0]?.dev;
  }

  /**
   * Stops every process (SIGTERM, then SIGKILL after 5 s), by PID, and
   * deletes the namespaces. Idempotent; errors are collected and thrown
   * together at the end, after everything was attempted.
   *
   * @param options.keepWorkDir keep configs and logs (default: remove them)
   */
  async destroy(options: { keepWorkDir?: boolean } = {}): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const errors: unknown[] = [];
    // Agents first, so they can still withdraw their paths from a live gobgpd.
    const isAgent = (p: ProcessHandle) => p.name.endsWith("/agent");
    for (
      const group of [
        this.#processes.filter(isAgent),
        this.#processes.filter((p) => !isAgent(p)),
      ]
    ) {
      const results = await Promise.allSettled(group.map((p) => p.stop("SIGTERM", 5000)));
      for (const r of results) if (r.status === "rejected") errors.push(r.reason);
    }
    this.#processes = [];
    for (const ns of this.#namespaces.toReversed()) {
      const r = await run(null, ["ip", "netns", "del", ns]);
      if (!r.success && !/No such file/.test(r.stderr)) {
        errors.push(new Error(`Cannot delete netns "${ns}": ${r.stderr.trim()}`));
      }
    }
    this.#namespaces = [];
    this.#removeHooks();
    if (!options.keepWorkDir) {
      await Deno.remove(this.workDir, { recursive: true }).catch(() => {});
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, `Lab ${this.prefix}* was not fully removed`);
    }
  }

  /** Last-resort synchronous cleanup (for `unload`): SIGKILL by PID, delete namespaces. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const p of this.#processes) p.kill("SIGKILL");
    for (const ns of this.#namespaces.toReversed()) runSync(null, ["ip", "netns", "del", ns]);
    this.#removeHooks();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

/** Sorts dotted quads numerically, IPv6 text after them as text. */
export function compareAddresses(a: string, b: string): number {
  const v6 = (x: string) => x.includes(":");
  if (v6(a) || v6(b)) return Number(v6(a)) - Number(v6(b)) || a.localeCompare(b);
  return compareIpv4(a, b);
}

/** Sorts dotted-quad strings numerically. */
export function compareIpv4(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 4; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** The last `lines` lines of a log file ("" if unreadable). */
export async function tail(path: string, lines = 20): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * After a failed test: prints the reasons and the tail of each process's log
 * (those whose name matches `only`, when given; each log file once).
 */
export async function printFailureLogs(
  topo: Topology,
  failed: readonly string[],
  options: { lines?: number; only?: (name: string) => boolean } = {},
): Promise<void> {
  console.error(`\nfailed: ${failed.join("; ")}\nlogs from ${topo.workDir}:`);
  const shown = new Set<string>();
  for (const p of topo.processes) {
    if ((options.only && !options.only(p.name)) || shown.has(p.log)) continue;
    shown.add(p.log);
    console.error(`--- ${p.name} (${p.log})\n${await tail(p.log, options.lines ?? 40)}`);
  }
}

/**
 * Caches the repository's npm dependencies (`deno install`, plus the agent's
 * module graph when `main.ts` exists). Must run before an agent starts in a
 * namespace, which has no route out.
 */
export async function cacheDependencies(repoDir: string = REPO_DIR): Promise<void> {
  const deno = Deno.execPath();
  const run1 = async (args: string[]) => {
    const out = await new Deno.Command(deno, { args, cwd: repoDir, stdin: "null" }).output();
    if (!out.success) {
      throw new Error(
        `"deno ${args.join(" ")}" failed in ${repoDir}: ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
  };
  await run1(["install"]);
  try {
    await Deno.stat(`${repoDir}/main.ts`);
  } catch {
    return;
  }
  await run1(["install", "--entrypoint", "main.ts"]);
}
