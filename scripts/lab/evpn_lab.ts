/**
 * The EVPN variant of the lab (`scripts/lab.sh evpn`): a gobgpd route
 * reflector on the hub (IPv4 unicast and L2VPN EVPN), our agent in
 * `mode: evpn` on spokes 1 and 2 (bridgeless `vxlan10010`), and FRR 8.4 on
 * spoke 3 with a bridge, its vxlan device as a port, an SVI address and a
 * host namespace behind the bridge. FRR peers with the hub like any spoke
 * (the hub's dynamic neighbours accept it).
 *
 * @module
 */
import { FrrNode } from "./frr.ts";
import { argv, exec, run } from "./proc.ts";
import { compareIpv4, type Topology } from "./topology.ts";
import { waitFor } from "./wait.ts";

export const EVPN_VNI = 10010;
export const EVPN_FAMILIES = ["ipv4-unicast", "l2vpn-evpn"] as const;
/** Overlay addresses: our spokes .1 and .2, FRR's SVI .4, the host behind FRR's bridge .3. */
export const EVPN_HOST = "198.51.100.3";
const SVI = "198.51.100.4";

/** What `verify` and `down` need beyond the topology (kept in the lab's state file). */
export interface EvpnLabInfo {
  frrNode: string;
  frrDir: string;
  hostNs: string;
}

/** Starts gobgpd on the hub and spokes 1-2, FRR on spoke 3, the agents and the devices. */
export async function upEvpn(topo: Topology, say: (m: string) => void): Promise<EvpnLabInfo> {
  const [s1, s2, s3] = [topo.spoke(1), topo.spoke(2), topo.spoke(3)];
  say("starting gobgpd on the hub, spoke1 and spoke2; FRR 8.4 on spoke3");
  await Promise.all([topo.hub, s1, s2].map((n) => topo.startGobgpd(n)));
  const frr = await FrrNode.start(topo, s3, { asn: topo.asn, neighbors: [topo.hub.address] });
  const { bridge } = await frr.addVni(EVPN_VNI, `${SVI}/24`);
  const hostNs = await frr.addHost("h1", bridge, `${EVPN_HOST}/24`);
  say("waiting for BGP sessions (gobgpd waits 5-9 s before its first attempt)");
  await waitFor(
    async () => {
      const out = await exec(topo.hub.ns, ["gobgp", "-j", "neighbor"]);
      const up = (JSON.parse(out) as { state?: { session_state?: number } }[])
        .filter((n) => n.state?.session_state === 6).length;
      return up === 3;
    },
    40_000,
    "three sessions on the hub",
  );
  say("starting our agents (mode: evpn) and creating vxlan10010 on spoke1 and spoke2");
  for (const node of [s1, s2]) {
    await topo.addVxlan(node, EVPN_VNI, `198.51.100.${node.index}/24`);
    await topo.startAgent(node, { config: { mode: "evpn", vnis: [{ id: EVPN_VNI }] } });
  }
  return { frrNode: s3.name, frrDir: frr.dir, hostNs };
}

/** Prints the EVPN lab's state and checks it; `check` records each result. */
export async function verifyEvpn(
  topo: Topology,
  info: EvpnLabInfo,
  say: (m: string) => void,
  check: (ok: boolean, label: string) => string,
): Promise<void> {
  const [s1, s2, s3] = [topo.spoke(1), topo.spoke(2), topo.spoke(3)];
  const vtysh = (cmd: string) =>
    run(s3.ns, ["vtysh", "--vty_socket", info.frrDir, "-c", cmd]).then((r) => r.stdout);
  const dev = `vxlan${EVPN_VNI}`;
  const expected: [string, string[]][] = [
    [s1.name, [s2.address, s3.address]],
    [s2.name, [s1.address, s3.address]],
    [s3.name, [s1.address, s2.address]],
  ];
  const floodOf = async (name: string) => {
    const node = topo.nodes.find((n) => n.name === name)!;
    return (await topo.floodList(node, dev).catch(() => [])).sort(compareIpv4);
  };
  await waitFor(
    async () => {
      for (const [name, want] of expected) {
        if (JSON.stringify(await floodOf(name)) !== JSON.stringify(want)) return false;
      }
      return true;
    },
    20_000,
    "convergence",
  ).catch(() => {});

  say("\n== BGP neighbours on the hub (gobgp neighbor)");
  say((await run(topo.hub.ns, ["gobgp", "neighbor"])).stdout.trimEnd());
  say("\n== Hub RIB, evpn (gobgp global rib -a evpn)");
  const rib = (await run(topo.hub.ns, argv`gobgp global rib -a evpn`)).stdout.trimEnd();
  say(rib);
  for (const node of [s1, s2, s3]) {
    check(
      new RegExp(`\\[type:multicast\\]\\[rd:[^\\]]+\\]\\[etag:0\\]\\[ip:${node.address}\\]`)
        .test(rib),
      `hub RIB holds ${node.name}'s Type 3`,
    );
  }

  say(`\n== FRR on ${s3.name}: show evpn vni ${EVPN_VNI}`);
  const vni = await vtysh(`show evpn vni ${EVPN_VNI}`);
  say(vni.trimEnd());
  for (const node of [s1, s2]) {
    const ok = new RegExp(`${node.address.replaceAll(".", "\\.")}\\s+flood: HER`).test(vni);
    say(`  ${node.name} ${node.address} flood: HER  ${check(ok, `FRR lists ${node.name} HER`)}`);
  }

  say(`\n== Flood FDB (00:00:00:00:00:00) on ${dev}`);
  for (const [name, want] of expected) {
    const got = await floodOf(name);
    const status = check(JSON.stringify(got) === JSON.stringify(want), `flood list ${name}`);
    say(
      `  ${name.padEnd(8)} ${(got.join(" ") || "(empty)").padEnd(26)} ${status}${
        status === "ok" ? "" : ` (expected ${want.join(" ")})`
      }`,
    );
  }

  say("\n== Data plane (ping; Type 3 flood entries only)");
  const pings: [string, string, string][] = [
    [s1.ns, EVPN_HOST, `${s1.name} → host behind FRR`],
    [s2.ns, SVI, `${s2.name} → FRR's SVI`],
    [s1.ns, "198.51.100.2", `${s1.name} → ${s2.name}`],
    [info.hostNs, "198.51.100.1", `host behind FRR → ${s1.name}`],
  ];
  for (const [ns, to, what] of pings) {
    const ok = (await run(ns, argv`ping -n -q -c 2 -W 1 -w 3 ${to}`)).success;
    say(`  ${what.padEnd(28)} ${to.padEnd(14)} ${check(ok, `ping ${what}`)}`);
  }
}

/** Removes what the topology's state does not know: the host namespace. */
export async function downEvpn(info: EvpnLabInfo): Promise<void> {
  await run(null, ["ip", "netns", "del", info.hostNs]);
}
