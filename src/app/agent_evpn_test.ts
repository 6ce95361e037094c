/** The agent in EVPN mode, with fake kernel and gobgpd: our Type 3 routes, theirs, the views. */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { Agent } from "./agent.ts";
import type { BgpPort, EventHandlers, FdbPort, LinkPort } from "./ports.ts";
import type { PeerInfo, WatchHandlers } from "../bgp/client.ts";
import { decodeAnyPath } from "../bgp/codec.ts";
import { encodeImetPath } from "../bgp/evpn_codec.ts";
import type { PathMessage } from "../bgp/path_codec.ts";
import { resolveConfig } from "../config/schema.ts";
import { type IpAddress, parseIp } from "../net/ip.ts";
import type { LinkInfo } from "../netlink/types.ts";
import { renderStatus } from "../cli/status.ts";

const ip = (t: string): IpAddress => parseIp(t)!;

class FakeKernel implements LinkPort, FdbPort {
  links = new Map<number, LinkInfo>();
  fdb = new Map<number, Set<string>>();
  listLinks = () => [...this.links.values()];
  getLink = (name: string) => [...this.links.values()].find((l) => l.name === name);
  getLinkByIndex = (ifindex: number) => this.links.get(ifindex);
  createVxlan = () => undefined;
  deleteLink() {}
  listFlood = (ifindex: number) => [...(this.fdb.get(ifindex) ?? [])];
  appendFlood(ifindex: number, dst: string) {
    if (!this.fdb.has(ifindex)) this.fdb.set(ifindex, new Set());
    this.fdb.get(ifindex)!.add(dst);
  }
  delFlood(ifindex: number, dst: string) {
    this.fdb.get(ifindex)?.delete(dst);
  }
  addVxlan(ifindex: number, vni: number) {
    this.links.set(ifindex, { ifindex, name: `vxlan${vni}`, kind: "vxlan", up: true, vni });
  }
}

/** Records our calls as `add|del <NLRI key>`; every DeletePath must carry a path. */
class FakeBgp implements BgpPort {
  watch: WatchHandlers | undefined;
  calls: string[] = [];
  peers: PeerInfo[] = [];
  watchBest(handlers: WatchHandlers) {
    this.watch = handlers;
    return { cancel: () => {} };
  }
  #key(path: PathMessage) {
    const d = decodeAnyPath(path);
    return d.ok && "evpn" in d ? d.evpn.key : "?";
  }
  addPath(path: PathMessage) {
    this.calls.push(`add ${this.#key(path)}`);
    return Promise.resolve(new Uint8Array(16));
  }
  deletePath(path: PathMessage) {
    assert.ok(path.nlri, "never a DeletePath without a path");
    this.calls.push(`del ${this.#key(path)}`);
    return Promise.resolve();
  }
  listPeers() {
    return Promise.resolve(this.peers);
  }
  close() {}
}

const tick = () =>
  new Promise((r) => setTimeout(r, 5)).then(() => new Promise((r) => setImmediate(r)));

function start(kernel: FakeKernel, bgp = new FakeBgp(), extra: Record<string, unknown> = {}) {
  const config = resolveConfig({
    logLevel: "error",
    communityAsn: 65000,
    mode: "evpn",
    http: { listen: "" },
    resyncInterval: "0",
    node: { localAddress: "192.0.2.11" },
    vnis: [{ id: 10010 }, { id: 10011, routeTarget: ["65001:11", "65000:10011"] }],
    ...extra,
  }, { interfaceAddresses: () => undefined });
  let handlers: EventHandlers | undefined;
  const agent = new Agent(config, {
    links: kernel,
    fdb: kernel,
    bgp,
    openEvents: (h) => {
      handlers = h;
      return { start() {}, close() {} };
    },
  });
  agent.start();
  return { agent, bgp, events: () => handlers! };
}

function theirs(vtep: string, rt: number, asn = 65000): PathMessage {
  return {
    ...encodeImetPath({
      rd: { kind: "ipv4", admin: ip(vtep), assigned: 2 },
      vtep: ip(vtep),
      vni: rt,
      routeTargets: [{ kind: "as2", asn, value: rt }],
    }),
    neighborIp: "192.0.2.10",
  };
}

const OURS = "3:192.0.2.11:10010:0:192.0.2.11";

/** Our own Type 3 as gobgpd lists it (added through its API: neighbour "<nil>"). */
function held(vni: number, rt: { asn: number; value: number }): PathMessage {
  const path = encodeImetPath({
    rd: { kind: "ipv4", admin: ip("192.0.2.11"), assigned: vni },
    vtep: ip("192.0.2.11"),
    vni,
    routeTargets: [{ kind: "as2", ...rt }],
  });
  return { ...path, neighborIp: "<nil>" };
}

Deno.test("EVPN agent: our Type 3 follows the device; a stale one of an earlier run is withdrawn", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  const { agent, bgp, events } = start(kernel);
  await tick();
  assert.deepEqual(bgp.calls, [], "nothing is written before gobgpd's table says what it holds");
  // The table holds a Type 3 of an earlier run for VNI 10011 (no device now).
  const stale = held(10011, { asn: 65000, value: 10011 });
  bgp.watch!.onTable([stale, theirs("192.0.2.12", 10010)]);
  await tick();
  assert.deepEqual(bgp.calls, ["del 3:192.0.2.11:10011:0:192.0.2.11", `add ${OURS}`]);
  assert.deepEqual([...kernel.fdb.get(7)!], ["192.0.2.12"]);

  kernel.links.delete(7);
  events().onLink({
    type: "del",
    link: { ifindex: 7, name: "vxlan10010", kind: "vxlan", up: false },
  });
  await tick();
  assert.deepEqual(bgp.calls.at(-1), `del ${OURS}`);
  assert.equal(agent.stats.type3Updates, 3);
  await agent.stop();
});

Deno.test("EVPN agent: after an agent restart a Type 3 that says the same is adopted, not re-sent", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  const { agent, bgp } = start(kernel);
  const previous = held(10010, { asn: 65000, value: 10010 });
  bgp.watch!.onTable([previous]);
  await tick();
  assert.deepEqual(bgp.calls, []);
  assert.equal(agent.status().vnis[0]!.evpn?.type3?.state, "advertised");
  await agent.stop();
  assert.deepEqual(bgp.calls, [`del ${OURS}`], "SIGTERM withdraws it");

  // The same NLRI held with other attributes (here an RT): withdrawn, then
  // added (FRR 8.4 would ignore an implicit replace with another PMSI).
  const next = start(kernel);
  const other = held(10010, { asn: 65009, value: 10010 });
  next.bgp.watch!.onTable([other]);
  await tick();
  assert.deepEqual(next.bgp.calls, [`del ${OURS}`, `add ${OURS}`]);
  await next.agent.stop();
});

Deno.test("EVPN agent: any route target of a VNI imports; /status shows RD, RTs, sources", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(8, 10011);
  const { agent, bgp } = start(kernel);
  bgp.watch!.onTable([theirs("192.0.2.12", 11, 65001), theirs("192.0.2.13", 10011)]);
  await tick();
  assert.deepEqual([...kernel.fdb.get(8)!].sort(), ["192.0.2.12", "192.0.2.13"]);
  const vni = agent.status().vnis.find((v) => v.vni === 10011)!;
  assert.deepEqual(vni.evpn, {
    rd: "192.0.2.11:10011",
    routeTargets: ["65001:11", "65000:10011"],
    type3: {
      route: "[type:multicast][rd:192.0.2.11:10011][etag:0][ip:192.0.2.11]",
      state: "advertised",
    },
  });
  assert.deepEqual(vni.remoteVteps, [
    { vtep: "192.0.2.12", via: ["evpn-type3"] },
    { vtep: "192.0.2.13", via: ["evpn-type3"] },
  ]);
  assert.equal(agent.stats.evpnRoutes.inclusive_multicast, 2);
  assert.equal(agent.type3Advertised, 1);
  assert.equal(agent.advertised, undefined, "no membership route in EVPN-only mode");
  const text = renderStatus(agent.status());
  assert.match(
    text,
    /VNI 10011 EVPN: RD 192\.0\.2\.11:10011, RT 65001:11 65000:10011, our Type 3 /,
  );
  assert.match(text, /dst 192\.0\.2\.12 +ok {2}\(evpn-type3\)/);
  assert.doesNotMatch(text, /Membership/, "no membership route in EVPN-only mode");
  await agent.stop();
});

Deno.test("EVPN agent: a warning names the fix when no gobgpd neighbour has l2vpn-evpn", async () => {
  const records: LogRecord[] = [];
  configureSync({
    sinks: { mem: (r) => records.push(r) },
    loggers: [{ category: ["evpn-agent"], sinks: ["mem"], lowestLevel: "warning" }],
    reset: true,
  });
  try {
    const bgp = new FakeBgp();
    bgp.peers = [{ address: "192.0.2.10", families: [{ afi: 1, safi: 1 }], established: true }];
    const { agent } = start(new FakeKernel(), bgp);
    bgp.watch!.onTable([]);
    await tick();
    const text = records.map((r) => r.message.join("")).join("\n");
    assert.match(text, /no BGP neighbour of gobgpd .* has the l2vpn-evpn family/);
    assert.match(text, /afi-safi-name = "l2vpn-evpn"/);
    await agent.stop();
    records.length = 0;
    bgp.peers[0]!.families.push({ afi: 25, safi: 70 });
    const second = start(new FakeKernel(), bgp);
    bgp.watch!.onTable([]);
    await tick();
    assert.equal(records.length, 0, records.map((r) => r.message.join("")).join("\n"));
    await second.agent.stop();
  } finally {
    resetSync();
  }
});

Deno.test("EVPN agent: a reloaded route target withdraws our Type 3 and adds it with the new RT", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  const { agent, bgp } = start(kernel);
  bgp.watch!.onTable([]);
  await tick();
  assert.deepEqual(bgp.calls, [`add ${OURS}`]);
  const next = resolveConfig({
    logLevel: "error",
    communityAsn: 65000,
    mode: "evpn",
    http: { listen: "" },
    resyncInterval: "0",
    node: { localAddress: "192.0.2.11" },
    vnis: [{ id: 10010, routeTarget: "65001:10010" }, { id: 10011 }],
  }, { interfaceAddresses: () => undefined });
  await agent.reconfigure(next);
  // The re-read table (the reload asked for a new stream) still lists our route.
  const ours = held(10010, { asn: 65000, value: 10010 });
  bgp.watch!.onTable([ours]);
  await tick();
  assert.deepEqual(bgp.calls, [`add ${OURS}`, `del ${OURS}`, `add ${OURS}`]);
  assert.deepEqual(agent.status().vnis[0]!.evpn?.routeTargets, ["65001:10010"]);
  await agent.stop();
});
