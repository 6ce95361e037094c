/**
 * FRR 8.4 (zebra + bgpd) as an EVPN VTEP inside a lab node's namespace, the
 * way `EVPN.md` describes it: no systemd, no watchfrr; one directory per
 * node (configs, pid files, logs, sockets, owned by frr:frr); zebra first,
 * then bgpd, both daemonised and tracked by the PID in their pid files, so
 * that the topology stops them with everything else. Queries go through
 * `vtysh --vty_socket DIR`.
 *
 * Also builds FRR's side of a VNI: a Linux bridge with the vxlan device as
 * a port (learning off) and, optionally, a host namespace behind the bridge.
 *
 * @module
 */
import { argv, exec, run } from "./proc.ts";
import { ProcessHandle, procStartTime } from "./proc.ts";
import { type LabNode, routerIdOf, type Topology } from "./topology.ts";
import { delay, waitFor } from "./wait.ts";

const FRR_LIB = "/usr/lib/frr";

/** What FRR's bgpd is told. */
export interface FrrOptions {
  /** iBGP AS (the lab's). */
  asn: number;
  /** Neighbour addresses (gobgpd), each `remote-as asn` with `update-source` = this node. */
  neighbors: string[];
  /** `advertise-svi-ip` under `address-family l2vpn evpn`. @default false */
  advertiseSviIp?: boolean;
  /**
   * Per-VNI route targets (`vni N` / `route-target import|export RT`), for
   * peers whose auto-RT differs. @default FRR's auto-RT `<asn>:<VNI>`
   */
  vniRouteTargets?: { vni: number; import: string[]; export: string[] }[];
}

/** One remote VTEP of a VNI as `show evpn vni N` lists it. */
export interface FrrRemoteVtep {
  vtep: string;
  /** `HER` (head-end replication: a flood entry) or `-` (none). */
  flood: string;
}

/**
 * Renders bgpd.conf for an FRR VTEP peering with gobgpd (EVPN.md's minimal
 * form). `source` is the session's source and the VTEP (default `routerId`;
 * an IPv6 underlay's node address, since a router id is IPv4).
 */
export function renderBgpdConf(routerId: string, options: FrrOptions, source = routerId): string {
  const lines = [
    "frr defaults traditional",
    `router bgp ${options.asn}`,
    ` bgp router-id ${routerId}`,
    " no bgp default ipv4-unicast",
    " no bgp ebgp-requires-policy",
  ];
  for (const n of options.neighbors) {
    lines.push(
      ` neighbor ${n} remote-as ${options.asn}`,
      ` neighbor ${n} update-source ${source}`,
    );
  }
  lines.push(" address-family l2vpn evpn");
  for (const n of options.neighbors) lines.push(`  neighbor ${n} activate`);
  lines.push("  advertise-all-vni");
  if (options.advertiseSviIp) lines.push("  advertise-svi-ip");
  for (const v of options.vniRouteTargets ?? []) {
    lines.push(`  vni ${v.vni}`);
    for (const rt of v.import) lines.push(`   route-target import ${rt}`);
    for (const rt of v.export) lines.push(`   route-target export ${rt}`);
    lines.push("  exit-vni");
  }
  lines.push(" exit-address-family", "exit", "");
  return lines.join("\n");
}

/** Parses the "Remote VTEPs for this VNI:" block of `show evpn vni N` (text). */
export function parseRemoteVteps(text: string): FrrRemoteVtep[] {
  const start = text.indexOf("Remote VTEPs for this VNI:");
  if (start < 0) return [];
  const out: FrrRemoteVtep[] = [];
  for (const line of text.slice(start).split("\n").slice(1)) {
    const m = /^\s+(\d+\.\d+\.\d+\.\d+)\s+flood:\s+(\S+)/.exec(line);
    if (!m) break;
    out.push({ vtep: m[1]!, flood: m[2]! });
  }
  return out;
}

/** One MAC of a VNI as `show evpn mac vni N json` lists it. */
export interface FrrMac {
  mac: string;
  /** `local` (learned on the bridge) or `remote` (from a Type 2 route). */
  type: string;
  /** The VTEP of a remote MAC. */
  remoteVtep?: string;
}

/** One IP of a VNI as `show evpn arp-cache vni N json` lists it. */
export interface FrrNeighbor {
  ip: string;
  type: string;
  mac?: string;
  remoteVtep?: string;
}

/** Parses `show evpn mac vni N json`: `{numMacs, macs: {MAC: {type, remoteVtep?}}}`. */
export function parseMacTable(json: string): FrrMac[] {
  if (json.trim() === "") return [];
  const data = JSON.parse(json) as {
    macs?: Record<string, { type?: string; remoteVtep?: string }>;
  };
  return Object.entries(data.macs ?? {}).map(([mac, m]) => ({
    mac,
    type: m.type ?? "",
    ...(m.remoteVtep ? { remoteVtep: m.remoteVtep } : {}),
  }));
}

/** Parses `show evpn arp-cache vni N json`: `{numArpNd, IP: {type, mac, remoteVtep?}}`. */
export function parseArpCache(json: string): FrrNeighbor[] {
  if (json.trim() === "") return [];
  const data = JSON.parse(json) as Record<string, unknown>;
  const out: FrrNeighbor[] = [];
  for (const [ip, value] of Object.entries(data)) {
    if (value === null || typeof value !== "object") continue; // numArpNd
    const n = value as { type?: string; mac?: string; remoteVtep?: string };
    out.push({
      ip,
      type: n.type ?? "",
      ...(n.mac ? { mac: n.mac } : {}),
      ...(n.remoteVtep ? { remoteVtep: n.remoteVtep } : {}),
    });
  }
  return out;
}

/** FRR running in one lab node. */
export class FrrNode {
  readonly node: LabNode;
  readonly dir: string;
  #topo: Topology;
  #daemons: ProcessHandle[] = [];

  private constructor(topo: Topology, node: LabNode, dir: string) {
    this.#topo = topo;
    this.node = node;
    this.dir = dir;
  }

  /** Writes the configs and starts zebra, then bgpd, in `node`; waits until vtysh answers. */
  static async start(topo: Topology, node: LabNode, options: FrrOptions): Promise<FrrNode> {
    const dir = topo.file(`${node.name}-frr`);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/zebra.conf`, `hostname ${node.name}\n`);
    await Deno.writeTextFile(
      `${dir}/bgpd.conf`,
      renderBgpdConf(routerIdOf(node), options, node.address),
    );
    await exec(null, ["chown", "-R", "frr:frr", dir]);
    // The daemons drop to user frr before writing their pid files: every
    // parent directory must let it through (Deno.makeTempDir makes 0700).
    await Deno.chmod(topo.workDir, 0o711);
    const frr = new FrrNode(topo, node, dir);
    await frr.#daemon("zebra");
    await waitFor(() => exists(`${dir}/zserv.api`), 10_000, `zebra's zserv.api in ${dir}`);
    await frr.#daemon("bgpd");
    await waitFor(
      async () => (await frr.vtysh("show bgp summary")).length > 0,
      10_000,
      `bgpd answering vtysh in ${node.name}`,
    );
    return frr;
  }

  async #daemon(name: "zebra" | "bgpd"): Promise<void> {
    const d = this.dir;
    const pidFile = `${d}/${name}.pid`;
    // A `log file` line in the conf as well makes FRR 8.4 refuse it: logging on the command line only.
    const r = await run(
      this.node.ns,
      argv`${FRR_LIB}/${name} -d -u frr -g frr -f ${d}/${name}.conf -i ${pidFile} -z ${d}/zserv.api --vty_socket ${d} -A 127.0.0.1 -P 0 --log file:${d}/${name}.log`,
    );
    if (!r.success) throw new Error(`Cannot start FRR ${name} in ${this.node.name}: ${r.stderr}`);
    const pid = await waitFor(
      async () => {
        const text = await Deno.readTextFile(pidFile).catch(() => "");
        const n = Number(text.trim());
        return n > 0 && procStartTime(n) !== undefined ? n : false;
      },
      10_000,
      `${name}'s pid file ${pidFile}`,
    );
    const handle = ProcessHandle.attach({
      name: `${this.node.name}/frr-${name}`,
      pid,
      startTime: procStartTime(pid)!,
      log: `${d}/${name}.log`,
    });
    this.#daemons.push(handle);
    this.#topo.track(handle);
  }

  /** Whether both daemons still run. */
  running(): boolean {
    return this.#daemons.every((d) => d.running());
  }

  /** `vtysh -c CMD` against this node's daemons. */
  vtysh(command: string): Promise<string> {
    return exec(this.node.ns, ["vtysh", "--vty_socket", this.dir, "-c", command]);
  }

  /** The remote VTEPs of `vni` (`show evpn vni N`). */
  async remoteVteps(vni: number): Promise<FrrRemoteVtep[]> {
    return parseRemoteVteps(await this.vtysh(`show evpn vni ${vni}`));
  }

  /** zebra's MAC table of `vni` (`show evpn mac vni N json`): local and remote MACs. */
  async macTable(vni: number): Promise<FrrMac[]> {
    return parseMacTable(await this.vtysh(`show evpn mac vni ${vni} json`));
  }

  /** zebra's ARP/ND cache of `vni` (`show evpn arp-cache vni N json`). */
  async arpCache(vni: number): Promise<FrrNeighbor[]> {
    return parseArpCache(await this.vtysh(`show evpn arp-cache vni ${vni} json`));
  }

  /** The EVPN routes in bgpd's table, as `show bgp l2vpn evpn` prints them. */
  evpnTable(): Promise<string> {
    return this.vtysh("show bgp l2vpn evpn");
  }

  /** The state of bgpd's session with `neighbor` ("Established", "Active", ...). */
  async sessionState(neighbor: string): Promise<string> {
    const json = JSON.parse(await this.vtysh(`show bgp neighbor ${neighbor} json`)) as Record<
      string,
      { bgpState?: string }
    >;
    return json[neighbor]?.bgpState ?? "absent";
  }

  /**
   * FRR's side of a VNI: bridge `br<VNI>` (up), vxlan device `vxlan<VNI>`
   * (local = this node, dstport 4789, nolearning) as its port with learning
   * off, and an optional address on the bridge (the SVI).
   */
  async addVni(vni: number, sviCidr?: string): Promise<{ bridge: string; vxlan: string }> {
    const ns = this.node.ns;
    const bridge = `br${vni}`;
    const vxlan = `vxlan${vni}`;
    await exec(ns, argv`ip link add ${bridge} type bridge`);
    await exec(ns, argv`ip link set ${bridge} addrgenmode none`).catch(() => "");
    await exec(ns, argv`ip link set ${bridge} up`);
    await exec(
      ns,
      argv`ip link add ${vxlan} type vxlan id ${vni} local ${this.node.address} dstport 4789 nolearning`,
    );
    await exec(ns, argv`ip link set ${vxlan} master ${bridge}`);
    await exec(ns, argv`bridge link set dev ${vxlan} learning off`);
    await exec(ns, argv`ip link set ${vxlan} up`);
    if (sviCidr) await exec(ns, argv`ip addr add ${sviCidr} dev ${bridge}`);
    return { bridge, vxlan };
  }

  /**
   * A host namespace `<prefix><name>` behind bridge `bridge`: a veth pair,
   * `eth0` with `cidr` in the host. Returns the namespace.
   */
  async addHost(name: string, bridge: string, cidr: string): Promise<string> {
    const ns = await this.#topo.addNamespace(name);
    const port = `v-${name}`.slice(0, 15);
    await exec(ns, argv`ip link add eth0 type veth peer name ${port} netns ${this.node.ns}`);
    await exec(this.node.ns, argv`ip link set ${port} master ${bridge} up`);
    await exec(ns, argv`ip addr add ${cidr} dev eth0`);
    await exec(ns, argv`ip link set eth0 up`);
    return ns;
  }

  /** Stops bgpd, then zebra (SIGTERM, SIGKILL after 5 s), by PID. */
  async stop(): Promise<void> {
    for (const d of this.#daemons.toReversed()) await d.stop("SIGTERM", 5000);
    await delay(0);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
