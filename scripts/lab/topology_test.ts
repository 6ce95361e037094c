/**
 * The lab topology itself, without the agent: namespaces, gobgpd sessions,
 * route reflection, VXLAN helpers and cleanup. Needs root.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./privileges.ts";
import { argv, exec, parseNeighbors, parseRib, Topology, waitFor } from "./topology.ts";

Deno.test("parseRib() maps gobgp 3.10 JSON to prefix → sorted ASN:VALUE communities", () => {
  const json = JSON.stringify({
    "192.0.2.11/32": [{
      nlri: { prefix: "192.0.2.11/32" },
      best: true,
      attrs: [
        { type: 1, value: 2 },
        { type: 3, nexthop: "192.0.2.11" },
        { type: 8, communities: [4259850011, 4259850010] },
      ],
    }],
    "192.0.2.12/32": [{ nlri: { prefix: "192.0.2.12/32" }, best: true, attrs: [{ type: 1 }] }],
  });
  assert.deepEqual(parseRib(json), {
    "192.0.2.11/32": ["65000:10010", "65000:10011"],
    "192.0.2.12/32": [],
  });
  assert.deepEqual(parseRib("{}"), {});
});

Deno.test("parseNeighbors() reads address, session state name and peer group", () => {
  const json = JSON.stringify([
    {
      conf: { peer_asn: 65000, peer_group: "spokes" },
      state: { neighbor_address: "192.0.2.12", session_state: 6 },
    },
    { conf: { neighbor_address: "192.0.2.10" }, state: { neighbor_address: "192.0.2.10" } },
  ]);
  assert.deepEqual(parseNeighbors(json), [
    { address: "192.0.2.12", state: "ESTABLISHED", peerGroup: "spokes" },
    { address: "192.0.2.10", state: "UNKNOWN" },
  ]);
});

const gate = rootOnly("topology test");

Deno.test({
  name: "Topology builds a hub-spoke lab whose gobgpd reflects routes, and removes it all",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    const topo = await Topology.create({ spokes: 2 });
    const [s1, s2] = [topo.spoke(1), topo.spoke(2)];
    let pids: number[] = [];
    try {
      await t.step("nodes reach each other over the underlay switch", async () => {
        assert.ok(await topo.ping(s1, topo.hub.address));
        assert.ok(await topo.ping(s2, s1.address));
      });

      await t.step("every spoke's session with the hub gets established", async () => {
        await topo.startAllGobgpd();
        await topo.waitForSessions(40_000);
        const hub = await topo.neighbors(topo.hub);
        assert.deepEqual(
          hub.map((n) => [n.address, n.state, n.peerGroup]).sort(),
          [["192.0.2.11", "ESTABLISHED", "spokes"], ["192.0.2.12", "ESTABLISHED", "spokes"]],
        );
      });

      await t.step("a route added on one spoke is reflected to the other", async () => {
        await topo.exec(
          s1,
          argv`gobgp global rib add 192.0.2.11/32 community 65000:10010,65000:10011 -a ipv4`,
        );
        const want = { "192.0.2.11/32": ["65000:10010", "65000:10011"] };
        await waitFor(async () => assert.deepEqual(await topo.rib(s2), want), 5000, "spoke2 RIB");
        assert.deepEqual(await topo.rib(topo.hub), want);
        await topo.exec(s1, argv`gobgp global rib del 192.0.2.11/32 -a ipv4`);
        await waitFor(async () => assert.deepEqual(await topo.rib(s2), {}), 5000, "withdrawal");
      });

      await t.step("hand-made flood entries carry overlay traffic", async () => {
        await topo.addVxlan(s1, 10010, "198.51.100.1/24");
        await topo.addVxlan(s2, 10010, "198.51.100.2/24");
        assert.deepEqual(await topo.floodList(s1, "vxlan10010"), []);
        for (const [node, peer] of [[s1, s2], [s2, s1]] as const) {
          await topo.exec(
            node,
            argv`bridge fdb append 00:00:00:00:00:00 dst ${peer.address} dev vxlan10010 self permanent`,
          );
        }
        assert.deepEqual(await topo.floodList(s1, "vxlan10010"), ["192.0.2.12"]);
        assert.ok(await topo.ping(s1, "198.51.100.2", { count: 2, deadline: 4 }));
        await topo.delLink(s2, "vxlan10010");
        assert.equal(await topo.ping(s1, "198.51.100.2", { deadline: 2 }), false);
      });

      await t.step("a state snapshot re-attaches to the same processes", () => {
        const state = topo.toState();
        assert.equal(state.processes.length, 3);
        const again = Topology.attach(JSON.parse(JSON.stringify(state)));
        assert.deepEqual(again.processes.map((p) => p.running()), [true, true, true]);
        pids = state.processes.map((p) => p.pid);
      });
    } finally {
      await topo.destroy();
    }

    const left = await exec(null, ["ip", "netns", "list"]);
    assert.ok(!left.includes(topo.prefix), `namespaces left behind: ${left}`);
    for (const pid of pids) {
      assert.equal(await Deno.stat(`/proc/${pid}`).then(() => true, () => false), false);
    }
  },
});
