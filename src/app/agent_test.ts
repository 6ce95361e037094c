import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { Agent } from "./agent.ts";
import { dryRunEdges } from "./dry_run.ts";
import type { BgpPort, EventHandlers, FdbPort, LinkPort } from "./ports.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { resolveConfig } from "../config/schema.ts";
import type { LinkInfo, VxlanSpec } from "../netlink/types.ts";
import type { WatchHandlers } from "../bgp/client.ts";
import { decodePath, encodeMembershipPath, type PathMessage } from "../bgp/path_codec.ts";
import { formatCommunity, makeCommunity } from "../net/community.ts";
import { parseIp } from "../net/ip.ts";

const C = (v: number) => makeCommunity(65000, v);

class FakeKernel implements LinkPort, FdbPort {
  links = new Map<number, LinkInfo>();
  fdb = new Map<number, Set<string>>();
  next = 100;
  deleted: string[] = [];
  /** Reads of one link or one flood list (the calls a scrape must not make). */
  reads = 0;
  listLinks() {
    return [...this.links.values()];
  }
  getLink(name: string) {
    return [...this.links.values()].find((l) => l.name === name);
  }
  getLinkByIndex(ifindex: number) {
    // As the real netlink layer does.
    if (!(ifindex > 0)) {
      throw new RangeError(`Invalid ifindex ${ifindex}: expected a positive integer`);
    }
    return this.links.get(ifindex);
  }
  createVxlan(spec: VxlanSpec) {
    const ifindex = this.next++;
    this.links.set(ifindex, { ifindex, name: spec.name, kind: "vxlan", up: true, vni: spec.vni });
    return ifindex;
  }
  deleteLink(ifindex: number, name?: string) {
    this.links.delete(ifindex);
    this.deleted.push(name ?? String(ifindex));
  }
  listFlood(ifindex: number) {
    this.reads++;
    return [...(this.fdb.get(ifindex) ?? [])];
  }
  appendFlood(ifindex: number, dst: string) {
    let set = this.fdb.get(ifindex);
    if (!set) this.fdb.set(ifindex, set = new Set());
    set.add(dst);
  }
  delFlood(ifindex: number, dst: string) {
    this.fdb.get(ifindex)?.delete(dst);
  }
  close() {}
  addVxlan(ifindex: number, vni: number, name = `vxlan${vni}`) {
    this.links.set(ifindex, { ifindex, name, kind: "vxlan", up: true, vni });
  }
}

class FakeBgp implements BgpPort {
  watch: WatchHandlers | undefined;
  calls: string[] = [];
  watchBest(handlers: WatchHandlers) {
    this.watch = handlers;
    return { cancel: () => {} };
  }
  addPath(path: PathMessage) {
    const d = decodePath(path);
    this.calls.push(`add ${d.ok ? d.route.communities.map(formatCommunity).join(",") : "?"}`);
    return Promise.resolve(new Uint8Array(16));
  }
  deletePath(_path: PathMessage) {
    this.calls.push("delete");
    return Promise.resolve();
  }
  close() {}
}

function config(
  overrides: Partial<ResolvedConfig["node"]> = {},
  vnis: ResolvedConfig["vnis"] = [],
): ResolvedConfig {
  const resolved = resolveConfig({
    logLevel: "error",
    communityAsn: 65000,
    http: { listen: "" },
    resyncInterval: "0",
    node: { localAddress: "192.0.2.11" },
  }, { interfaceAddresses: () => undefined });
  return { ...resolved, node: { ...resolved.node, ...overrides }, vnis };
}

function route(vtep: string, communities: number[], withdraw = false): PathMessage {
  const path = encodeMembershipPath({ address: vtep, communities });
  return { ...path, isWithdraw: withdraw };
}

/**
 * Lets scheduled work run: 5 ms, then one `setImmediate` round queued after
 * the agent's own (the first immediate of a process can take longer than 5 ms).
 */
const tick = () =>
  new Promise((r) => setTimeout(r, 5)).then(() => new Promise((r) => setImmediate(r)));

function start(kernel: FakeKernel, cfg = config()) {
  const bgp = new FakeBgp();
  let handlers: EventHandlers | undefined;
  const agent = new Agent(cfg, {
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

Deno.test("Agent programs each online VNI's flood list from the initial table", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  kernel.addVxlan(8, 10011);
  kernel.fdb.set(7, new Set(["192.0.2.12", "192.0.2.66"])); // adopted; .66 is stale
  const { agent, bgp } = start(kernel);
  bgp.watch!.onPeer?.({ type: "init", address: "192.0.2.10", established: true });
  bgp.watch!.onTable([
    route("192.0.2.12", [C(10010)]),
    route("192.0.2.13", [C(10011), C(10010)]),
    route("192.0.2.11", [C(10010)]), // our own address
    route("192.0.2.14", [C(999)]), // no device for this VNI
  ]);
  await tick();
  assert.deepEqual([...kernel.fdb.get(7)!].sort(), ["192.0.2.12", "192.0.2.13"]);
  assert.deepEqual([...kernel.fdb.get(8)!], ["192.0.2.13"]);
  assert.equal(agent.stats.skipped["own_address"], 1);
  assert.equal(agent.stats.skipped["unknown_vni"], 1);
  assert.deepEqual(bgp.calls, ["add 65000:10010,65000:10011"]);
  await agent.stop();
});

Deno.test("Agent follows updates and withdrawals incrementally", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  const { agent, bgp } = start(kernel);
  bgp.watch!.onTable([]);
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)])]);
  await tick();
  assert.deepEqual([...kernel.fdb.get(7)!], ["192.0.2.12"]);
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)], true)]);
  await tick();
  assert.deepEqual([...kernel.fdb.get(7)!], []);
  await agent.stop();
});

Deno.test("Agent withdraws membership when the last device goes and re-advertises on return", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  const { agent, bgp, events } = start(kernel);
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)])]);
  await tick();
  kernel.links.delete(7);
  events().onLink({
    type: "del",
    link: { ifindex: 7, name: "vxlan10010", kind: "vxlan", up: false },
  });
  await tick();
  kernel.addVxlan(9, 10010);
  kernel.fdb.set(9, new Set());
  events().onLink({
    type: "new",
    link: { ifindex: 9, name: "vxlan10010", kind: undefined, up: true },
  });
  await tick();
  assert.deepEqual([...kernel.fdb.get(9)!], ["192.0.2.12"], "the new device is programmed");
  assert.deepEqual(bgp.calls, ["add 65000:10010", "delete", "add 65000:10010"]);
  await agent.stop();
  assert.equal(bgp.calls.at(-1), "delete", "shutdown withdraws the membership");
});

Deno.test("Agent creates configured devices only with autoRecreateVxlan and deletes only those", async () => {
  const kernel = new FakeKernel();
  kernel.links.set(2, { ifindex: 2, name: "eth0", kind: "veth", up: true });
  kernel.addVxlan(8, 10011); // created by the user
  const vnis = [
    {
      id: 10010,
      community: C(10010),
      device: "vxlan10010",
      underlayInterface: undefined,
      routeTargets: [],
      rd: undefined,
    },
    {
      id: 10011,
      community: C(10011),
      device: "vxlan10011",
      underlayInterface: undefined,
      routeTargets: [],
      rd: undefined,
    },
  ];
  const { agent } = start(kernel, config({ autoRecreateVxlan: true }, vnis));
  assert.ok(kernel.getLink("vxlan10010"), "missing device was created");
  assert.deepEqual(agent.vnis.online().map((v) => v.id), [10010, 10011]);
  await agent.stop();
  assert.deepEqual(kernel.deleted, ["vxlan10010"], "the user's device stays");
});

Deno.test("Agent leaves FDB entries in place when gobgpd's stream is lost", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  const { agent, bgp } = start(kernel);
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)])]);
  await tick();
  bgp.watch!.onEnd(new Error("UNAVAILABLE"));
  await tick();
  assert.deepEqual([...kernel.fdb.get(7)!], ["192.0.2.12"]);
  assert.equal(agent.stats.streamDowns, 1);
  await agent.stop();
});

Deno.test("Agent.status() shows desired, programmed and differences per VNI", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  const { agent, bgp } = start(kernel);
  assert.equal(agent.ready, false, "not ready before the initial table");
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)]), route("192.0.2.13", [C(10010)])]);
  await tick();
  assert.equal(agent.ready, true);
  kernel.fdb.get(7)!.delete("192.0.2.13"); // drift not yet noticed
  agent.reconciler.resync();
  const status = agent.status();
  assert.equal(status.bgp.stream, "up");
  assert.deepEqual(status.bgp.membership.communities, ["65000:10010"]);
  const vni = status.vnis[0]!;
  assert.equal(vni.device, "vxlan10010");
  assert.deepEqual(vni.desired, ["192.0.2.12", "192.0.2.13"]);
  assert.deepEqual(vni.programmed, ["192.0.2.12"]);
  assert.deepEqual(vni.missing, ["192.0.2.13"]);
  await tick();
  assert.deepEqual(agent.status().vnis[0]!.missing, [], "the drift was repaired");
  assert.ok(agent.health().ok);
  await agent.stop();
});

Deno.test("Agent keeps entries a fresh gobgpd lacks until its sessions are up", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  kernel.fdb.set(7, new Set(["192.0.2.12", "192.0.2.66"]));
  const cfg = config();
  cfg.gobgp.restartHoldMs = 300;
  const { agent, bgp } = start(kernel, cfg);
  bgp.watch!.onPeer?.({ type: "init", address: "192.0.2.10", established: false });
  bgp.watch!.onTable([]); // gobgpd just restarted: its table is empty
  await tick();
  assert.deepEqual([...kernel.fdb.get(7)!].sort(), ["192.0.2.12", "192.0.2.66"], "nothing flaps");
  bgp.watch!.onPeer?.({ type: "state", address: "192.0.2.10", established: true });
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)])]);
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual([...kernel.fdb.get(7)!], ["192.0.2.12"], "the stale entry went after the hold");
  await agent.stop();
});

/** Collects the agent's log lines (rendered) until `resetSync()`. */
function captureLogs(): string[] {
  const lines: string[] = [];
  configureSync({
    reset: true,
    sinks: { memory: (r: LogRecord) => lines.push(r.message.map(String).join("")) },
    loggers: [
      { category: ["evpn-agent"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  return lines;
}

Deno.test("Dry run with autoRecreateVxlan creates nothing, retries nothing and deletes nothing at stop", async () => {
  // The defect: the dry-run createVxlan returned -1, the agent looked up ifindex -1 (which the
  // netlink layer refuses), logged the error, retried every second, and on stop claimed to
  // delete the device it never created.
  const lines = captureLogs();
  try {
    const kernel = new FakeKernel();
    kernel.links.set(2, { ifindex: 2, name: "eth0", kind: "veth", up: true });
    const vnis = [
      {
        id: 10010,
        community: C(10010),
        device: "vxlan10010",
        underlayInterface: undefined,
        routeTargets: [],
        rd: undefined,
      },
    ];
    const bgp = new FakeBgp();
    const agent = new Agent(
      config({ autoRecreateVxlan: true }, vnis),
      dryRunEdges({
        links: kernel,
        fdb: kernel,
        bgp,
        openEvents: () => ({ start() {}, close() {} }),
      }),
    );
    agent.start();
    await new Promise((r) => setTimeout(r, 1_300)); // longer than the 1 s re-creation interval
    await agent.stop();
    assert.deepEqual([...kernel.links.keys()], [2], "no device was created");
    assert.deepEqual(lines.filter((l) => /Cannot create|Invalid ifindex/.test(l)), []);
    assert.equal(lines.filter((l) => l.startsWith("Dry run: would create vxlan10010")).length, 1);
    assert.deepEqual(kernel.deleted, []);
    assert.deepEqual(lines.filter((l) => /Deleted|would delete/.test(l)), [], "nothing to delete");
  } finally {
    resetSync();
  }
});

Deno.test("Agent.status() and health() are built from memory: a scrape never calls the kernel", async () => {
  for (const dryRun of [false, true]) {
    const kernel = new FakeKernel();
    kernel.addVxlan(7, 10010);
    kernel.links.set(7, { ...kernel.links.get(7)!, local: parseIp("192.0.2.11")! });
    kernel.fdb.set(7, new Set(["192.0.2.66"]));
    const bgp = new FakeBgp();
    const edges = {
      links: kernel,
      fdb: kernel,
      bgp,
      openEvents: () => ({ start() {}, close() {} }),
    };
    const agent = new Agent(config(), dryRun ? dryRunEdges(edges) : edges);
    agent.start();
    bgp.watch!.onPeer?.({ type: "init", address: "192.0.2.10", established: true });
    bgp.watch!.onTable([route("192.0.2.12", [C(10010)])]);
    await tick();
    kernel.reads = 0;
    const vni = agent.status().vnis[0]!;
    agent.health();
    assert.equal(kernel.reads, 0, dryRun ? "dry run" : "normal run");
    assert.equal(vni.localAddress, "192.0.2.11");
    assert.deepEqual(vni.programmed, dryRun ? ["192.0.2.66"] : ["192.0.2.12"]);
    assert.deepEqual(vni.missing, dryRun ? ["192.0.2.12"] : []);
    assert.equal(agent.status().dryRun, dryRun);
    await agent.stop();
  }
});

Deno.test("Agent.reconfigure() swaps VNIs without touching those that stay, one membership update", async () => {
  const kernel = new FakeKernel();
  kernel.addVxlan(7, 10010);
  kernel.addVxlan(8, 10020);
  kernel.addVxlan(9, 10030);
  const dels: string[] = [];
  const del = kernel.delFlood.bind(kernel);
  kernel.delFlood = (ifindex, dst) => {
    dels.push(`${ifindex} ${dst}`);
    del(ifindex, dst);
  };
  const spec = (id: number) => ({
    id,
    community: C(id),
    device: `vxlan${id}`,
    underlayInterface: undefined,
    routeTargets: [],
    rd: undefined,
  });
  const table = [
    route("192.0.2.12", [C(10010), C(10020), C(10030)]),
    route("192.0.2.13", [C(10030)]),
  ];
  const { agent, bgp } = start(kernel, config({}, [spec(10010), spec(10020)]));
  bgp.watch!.onPeer?.({ type: "init", address: "192.0.2.10", established: true });
  bgp.watch!.onTable(table);
  await tick();
  assert.deepEqual([...kernel.fdb.get(7)!], ["192.0.2.12"]);
  assert.deepEqual([...kernel.fdb.get(8)!], ["192.0.2.12"]);
  assert.deepEqual(bgp.calls, ["add 65000:10010,65000:10020"]);
  const firstStream = bgp.watch;

  await agent.reconfigure(config({}, [spec(10010), spec(10030)]));
  await tick();
  assert.deepEqual([...kernel.fdb.get(8)!], [], "the removed VNI's entries are gone");
  assert.notEqual(bgp.watch, firstStream, "gobgpd's table is read again for the new VNI");
  bgp.watch!.onPeer?.({ type: "init", address: "192.0.2.10", established: true });
  bgp.watch!.onTable(table);
  await tick();
  assert.deepEqual([...kernel.fdb.get(9)!].sort(), ["192.0.2.12", "192.0.2.13"]);
  assert.deepEqual([...kernel.fdb.get(7)!], ["192.0.2.12"]);
  assert.deepEqual(dels, ["8 192.0.2.12"], "nothing else was deleted");
  dels.length = 0;
  assert.deepEqual(bgp.calls, ["add 65000:10010,65000:10020", "add 65000:10010,65000:10030"]);
  assert.deepEqual(agent.vnis.all().map((v) => v.id), [10010, 10030]);

  // A removal alone: no new table to wait for; the entries go and the device is let go.
  const stream = bgp.watch;
  await agent.reconfigure(config({}, [spec(10010)]));
  await tick();
  assert.equal(bgp.watch, stream, "nothing to read again");
  assert.deepEqual([...kernel.fdb.get(9)!], [], "the removed VNI's entries are gone");
  assert.equal(agent.reconciler.programmed(10030), undefined, "no longer managed");
  assert.deepEqual(dels.sort(), ["9 192.0.2.12", "9 192.0.2.13"], "only its entries");
  assert.equal(bgp.calls.at(-1), "add 65000:10010");

  await agent.reconfigure({ ...config({}, [spec(10010)]), advertiseSelf: false });
  assert.equal(bgp.calls.at(-1), "delete", "advertiseSelf off withdraws the route");
  const calls = bgp.calls.length;
  await agent.stop();
  assert.equal(bgp.calls.length, calls, "nothing more to withdraw at stop");
});
