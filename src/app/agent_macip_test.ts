/**
 * The agent in `mode: evpn` with fakes at its edges: received Type 2
 * routes into unicast FDB and neighbour entries, and the device's MAC and
 * addresses into our own Type 2 routes.
 */
import assert from "node:assert/strict";
import { Agent } from "./agent.ts";
import { dryRunEdges } from "./dry_run.ts";
import { bindAgentMetrics } from "../http/agent_metrics.ts";
import { Registry } from "../http/metrics.ts";
import type {
  AddressPort,
  BgpPort,
  EventHandlers,
  FdbPort,
  LinkPort,
  NeighbourPort,
  UnicastFdbPort,
} from "./ports.ts";
import { resolveConfig } from "../config/schema.ts";
import type { IpAddress } from "../net/ip.ts";
import type { LinkInfo, NeighEntry, UnicastEntry } from "../netlink/types.ts";
import type { WatchHandlers } from "../bgp/client.ts";
import { decodeEvpnPath, encodeMacIpPath } from "../bgp/evpn_codec.ts";
import type { PathMessage } from "../bgp/path_codec.ts";

const MAC = "02:00:00:00:00:07";
const A = "02:aa:00:00:00:01";

class Kernel implements LinkPort, FdbPort, UnicastFdbPort, NeighbourPort, AddressPort {
  links = new Map<number, LinkInfo>([[7, {
    ifindex: 7,
    name: "vxlan10010",
    kind: "vxlan",
    up: true,
    vni: 10010,
    mac: MAC,
  }]]);
  addrs = new Map<number, IpAddress[]>([[7, ["198.51.100.1", "fe80::7"] as IpAddress[]]]);
  unicast = new Map<string, UnicastEntry>();
  neigh = new Map<string, NeighEntry>();
  listLinks = () => [...this.links.values()];
  getLink = (name: string) => [...this.links.values()].find((l) => l.name === name);
  getLinkByIndex = (ifindex: number) => this.links.get(ifindex);
  createVxlan = () => undefined;
  deleteLink() {}
  listFlood = () => [];
  appendFlood() {}
  delFlood() {}
  listUnicast = () => [...this.unicast.values()];
  replaceUnicast(_i: number, mac: string, dst: string) {
    this.unicast.set(mac, { mac, dst: dst as IpAddress, ours: true });
  }
  delUnicast(_i: number, mac: string, dst: string) {
    if (this.unicast.get(mac)?.dst === dst) this.unicast.delete(mac);
  }
  list = () => [...this.neigh.values()];
  replace(_i: number, ip: string, mac: string) {
    this.neigh.set(ip, { ip: ip as IpAddress, mac, ours: true });
  }
  delete(_i: number, ip: string) {
    this.neigh.delete(ip);
  }
  listAddresses = () => new Map(this.addrs);
}

/** gobgpd: the paths we hold, by the decoded route's key. */
class Bgp implements BgpPort {
  watch: WatchHandlers | undefined;
  held = new Map<string, string>();
  watchBest(handlers: WatchHandlers) {
    this.watch = handlers;
    return { cancel: () => {} };
  }
  addPath(path: PathMessage) {
    const d = decodeEvpnPath(path);
    if (d.ok && d.evpn.type === 2) {
      assert.deepEqual([...d.evpn.esi.value], new Array(9).fill(0));
      assert.deepEqual(d.evpn.labels, [10010]);
      this.held.set(d.evpn.key, `${d.evpn.mac} ${d.evpn.ip ?? "-"} nh ${d.evpn.nextHop}`);
    }
    return Promise.resolve(new Uint8Array(16));
  }
  deletePath(path: PathMessage) {
    const d = decodeEvpnPath(path);
    if (d.ok) this.held.delete(d.evpn.key);
    return Promise.resolve();
  }
  close() {}
  type2(): string[] {
    return [...this.held.values()].sort();
  }
}

function remote(mac: string, vtep: string, ip?: string, withdraw = false, seq?: number) {
  const path = encodeMacIpPath({
    rd: { kind: "ipv4", admin: vtep as IpAddress, assigned: 2 },
    vtep: vtep as IpAddress,
    vni: 10010,
    mac,
    ip: ip as IpAddress | undefined,
    routeTargets: [{ kind: "as2", asn: 65000, value: 10010 }],
    mobility: seq === undefined ? undefined : { sequence: seq, sticky: false },
  });
  return { ...path, neighborIp: vtep, isWithdraw: withdraw };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

function start(dryRun = false) {
  const cfg = resolveConfig({
    mode: "evpn",
    logLevel: "error",
    communityAsn: 65000,
    http: { listen: "" },
    resyncInterval: "0",
    node: { localAddress: "192.0.2.11" },
  }, { interfaceAddresses: () => undefined });
  const kernel = new Kernel();
  const bgp = new Bgp();
  let handlers: EventHandlers | undefined;
  const edges = {
    links: kernel,
    fdb: kernel,
    unicast: kernel,
    neighbours: kernel,
    addresses: kernel,
    bgp,
    openEvents: (h: EventHandlers) => {
      handlers = h;
      return { start() {}, close() {} };
    },
  };
  const agent = new Agent(cfg, dryRun ? dryRunEdges(edges) : edges);
  agent.start();
  bgp.watch!.onPeer?.({ type: "init", address: "192.0.2.10", established: true });
  return { agent, kernel, bgp, events: () => handlers! };
}

Deno.test("EVPN agent: Type 2 routes become unicast FDB and neighbour entries; withdrawal removes exactly those", async () => {
  const { agent, kernel, bgp, events } = start();
  // A user adds an entry by hand: the notification says it is not ours.
  const user = { mac: "02:bb:00:00:00:09", dst: "192.0.2.99" as IpAddress, ours: false };
  kernel.unicast.set(user.mac, user);
  events().onNeigh({ type: "new", ifindex: 7, ...user });
  bgp.watch!.onTable([
    remote(A, "192.0.2.12"),
    remote(A, "192.0.2.12", "198.51.100.2"),
    remote(A, "192.0.2.12", "fe80::aa:1"),
    remote("02:bb:00:00:00:09", "192.0.2.12"), // a user's entry holds this MAC
    remote("02:aa:00:00:00:05", "127.0.0.1"), // hostile next hop
  ]);
  await tick();
  assert.deepEqual(kernel.unicast.get(A), { mac: A, dst: "192.0.2.12", ours: true });
  assert.equal(kernel.unicast.get("02:bb:00:00:00:09")?.dst, "192.0.2.99");
  assert.deepEqual([...kernel.neigh.keys()].sort(), ["198.51.100.2", "fe80::aa:1"]);
  assert.equal(agent.stats.skipped["not_a_vtep"], 1);
  const status = agent.status().vnis[0]!.macIp!;
  assert.deepEqual(status.remoteMacs.programmed, [`${A} 192.0.2.12`]);
  assert.equal(status.remoteMacs.userHeld, 1);
  assert.deepEqual(status.neighbours.missing, []);
  const registry = new Registry();
  bindAgentMetrics(registry, agent);
  const lines = registry.render().split("\n");
  const d = 'device="vxlan10010"';
  for (
    const line of [
      `evpn_agent_unicast_entries{${d},state="desired",vni="10010"} 1`,
      `evpn_agent_unicast_entries{${d},state="programmed",vni="10010"} 1`,
      `evpn_agent_neighbour_entries{${d},state="programmed",vni="10010"} 2`,
      `evpn_agent_own_type2_routes{${d},vni="10010"} 3`,
    ]
  ) assert.ok(lines.includes(line), line);
  // A move with a higher sequence number: replaced in place.
  bgp.watch!.onTable([remote(A, "192.0.2.13", undefined, false, 1)]);
  await tick();
  assert.deepEqual(kernel.unicast.get(A), { mac: A, dst: "192.0.2.13", ours: true });
  // Withdrawing the MAC+IP route removes its neighbour only.
  bgp.watch!.onTable([remote(A, "192.0.2.12", "198.51.100.2", true)]);
  await tick();
  assert.deepEqual([...kernel.neigh.keys()], ["fe80::aa:1"]);
  assert.equal(kernel.unicast.get(A)?.dst, "192.0.2.13");
  await agent.stop();
});

Deno.test("EVPN agent: the device's MAC and addresses are our Type 2 routes and follow notifications", async () => {
  const { agent, kernel, bgp, events } = start();
  bgp.watch!.onTable([]);
  await tick();
  assert.deepEqual(bgp.type2(), [
    `${MAC} - nh 192.0.2.11`,
    `${MAC} 198.51.100.1 nh 192.0.2.11`,
    `${MAC} fe80::7 nh 192.0.2.11`,
  ]);
  events().onAddr!({ type: "new", ifindex: 7, ip: "2001:db8:100::1" as IpAddress });
  events().onAddr!({ type: "del", ifindex: 7, ip: "198.51.100.1" as IpAddress });
  await tick();
  assert.deepEqual(bgp.type2(), [
    `${MAC} - nh 192.0.2.11`,
    `${MAC} 2001:db8:100::1 nh 192.0.2.11`,
    `${MAC} fe80::7 nh 192.0.2.11`,
  ]);
  // A new MAC: the old MAC's routes are withdrawn.
  const NEW = "02:00:00:00:00:70";
  kernel.links.set(7, { ...kernel.links.get(7)!, mac: NEW });
  events().onLink({ type: "new", link: kernel.links.get(7)! });
  await tick();
  assert.deepEqual(bgp.type2(), [
    `${NEW} - nh 192.0.2.11`,
    `${NEW} 2001:db8:100::1 nh 192.0.2.11`,
    `${NEW} fe80::7 nh 192.0.2.11`,
  ]);
  assert.deepEqual(agent.status().vnis[0]!.macIp!.ownRoutes, [
    NEW,
    `${NEW} 2001:db8:100::1`,
    `${NEW} fe80::7`,
  ]);
  // The device goes: every Type 2 route is withdrawn.
  kernel.links.delete(7);
  events().onLink({
    type: "del",
    link: { ifindex: 7, name: "vxlan10010", kind: "vxlan", up: false },
  });
  await tick();
  assert.deepEqual(bgp.type2(), []);
  await agent.stop();
});

Deno.test("EVPN agent: an own Type 2 path of a previous run for an old MAC is withdrawn", async () => {
  const { agent, bgp } = start();
  // gobgpd still holds the MAC-only route of a MAC the device no longer has.
  const stale = remote("02:00:00:00:00:99", "192.0.2.11");
  const decoded = decodeEvpnPath(stale);
  assert.ok(decoded.ok);
  bgp.held.set(decoded.evpn.key, "02:00:00:00:00:99 - nh 192.0.2.11");
  bgp.watch!.onTable([{ ...stale, neighborIp: "" }]);
  await tick();
  assert.deepEqual(bgp.type2(), [
    `${MAC} - nh 192.0.2.11`,
    `${MAC} 198.51.100.1 nh 192.0.2.11`,
    `${MAC} fe80::7 nh 192.0.2.11`,
  ]);
  await agent.stop();
});

Deno.test("EVPN agent in a dry run writes no entry and shows the kernel as it is", async () => {
  const { agent, kernel, bgp } = start(true);
  bgp.watch!.onTable([remote(A, "192.0.2.12", "198.51.100.2")]);
  await tick();
  assert.equal(kernel.unicast.size, 0);
  assert.equal(kernel.neigh.size, 0);
  const status = agent.status().vnis[0]!.macIp!;
  assert.deepEqual(status.remoteMacs.desired, [`${A} 192.0.2.12`]);
  assert.deepEqual(status.remoteMacs.programmed, []);
  assert.deepEqual(status.remoteMacs.missing, [`${A} 192.0.2.12`]);
  assert.deepEqual(status.neighbours.missing, [`198.51.100.2 ${A}`]);
  await agent.stop();
});
