/**
 * End to end: real gobgpd and the real agent (`main.ts`) on a hub and three
 * spokes in network namespaces (scripts/lab/topology.ts). Hub: route
 * reflector with dynamic neighbours; spokes: static iBGP to the hub; an
 * agent on every node. VNI 10010 joins spokes 1 and 2, VNI 10011 spokes 1
 * and 3 (address plan and cross-VNI probes: scripts/lab/scenario.ts).
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import { rootOnly } from "../scripts/lab/privileges.ts";
import { createDevice, type DevicePlan, DEVICES } from "../scripts/lab/scenario.ts";
import {
  argv,
  cacheDependencies,
  type FdbEntry,
  type LabNode,
  printFailureLogs,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";

const gate = rootOnly("e2e test");

/** Budget for the agents to converge after a change. */
const CONVERGE_MS = 10_000;

function plan(spoke: number, vni: number): DevicePlan {
  const found = DEVICES.find((d) => d.spoke === spoke && d.vni === vni);
  if (found === undefined) throw new Error(`No device planned for spoke${spoke} VNI ${vni}`);
  return found;
}

Deno.test({
  name: "evpn-agent keeps VXLAN flood lists and memberships in step across a hub-spoke lab",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({ spokes: 3 });
    const hub = topo.hub;
    const [s1, s2, s3] = [topo.spoke(1), topo.spoke(2), topo.spoke(3)];
    const failed: string[] = [];

    /** Runs a step; a failed essential step stops the test (later steps would only time out). */
    const step = async (name: string, fn: () => Promise<void>, essential = false) => {
      const ok = await t.step(name, fn);
      if (!ok) {
        failed.push(name);
        if (essential) throw new Error(`Essential step failed: ${name}`);
      }
    };
    /** Nodes whose agent the test stopped on purpose. */
    const stopped = new Set<string>();
    const agentsAlive = () => topo.agentsAlive(stopped);
    const flood = (node: LabNode, dev: string, want: string[], what = "") =>
      waitFor(
        async () => {
          await agentsAlive();
          assert.deepEqual(await topo.floodList(node, dev), want);
        },
        CONVERGE_MS,
        `${node.name} ${dev} flood list = [${want.join(", ")}]${what}`,
      );
    const hubRib = (want: Record<string, string[]>, what: string) =>
      waitFor(
        async () => {
          await agentsAlive();
          assert.deepEqual(await topo.rib(hub), want);
        },
        CONVERGE_MS,
        what,
      );

    const FULL_RIB = {
      "192.0.2.11/32": ["65000:10010", "65000:10011"],
      "192.0.2.12/32": ["65000:10010"],
      "192.0.2.13/32": ["65000:10011"],
    };
    const UNICAST: FdbEntry = {
      mac: "aa:bb:cc:dd:ee:01",
      dst: "192.0.2.99",
      flags: ["self"],
      state: "permanent",
    };

    try {
      await step("every spoke's BGP session with the hub gets established", async () => {
        await topo.startAllGobgpd();
        await topo.waitForSessions(40_000);
      }, true);

      await step("agents start on every node and find VXLAN devices old and new", async () => {
        // spoke1's devices exist before its agent starts (found by listing
        // links); spoke2's and spoke3's appear later (found through link
        // notifications). The hub has no VXLAN device at all.
        await createDevice(topo, plan(1, 10010));
        await createDevice(topo, plan(1, 10011));
        for (const node of topo.nodes) await topo.startAgent(node);
        await createDevice(topo, plan(2, 10010));
        await createDevice(topo, plan(3, 10011));
        await flood(s1, "vxlan10010", ["192.0.2.12"]);
        await agentsAlive();
      }, true);

      await step("each VNI's flood list holds exactly the other members' VTEPs", async () => {
        await flood(s1, "vxlan10010", ["192.0.2.12"]);
        await flood(s2, "vxlan10010", ["192.0.2.11"]);
        await flood(s1, "vxlan10011", ["192.0.2.13"]);
        await flood(s3, "vxlan10011", ["192.0.2.11"]);
      });

      await step("the hub RIB has each spoke's /32 with one community per VNI", async () => {
        await hubRib(FULL_RIB, "hub RIB with all three memberships");
      });

      await step(
        "a hand-added unicast FDB entry is accepted next to the flood entries",
        async () => {
          await topo.exec(
            s1,
            argv`bridge fdb append ${UNICAST.mac} dst ${UNICAST.dst} dev vxlan10010 self permanent`,
          );
          assert.deepEqual(
            (await topo.fdb(s1, "vxlan10010")).filter((e) => e.mac === UNICAST.mac),
            [UNICAST],
          );
        },
      );

      await step("overlay traffic flows within each VNI", async () => {
        assert.ok(
          await topo.ping(s1, "198.51.100.2", { count: 2, deadline: 4 }),
          "spoke1 → 198.51.100.2 (VNI 10010)",
        );
        assert.ok(
          await topo.ping(s1, "198.18.11.3", { count: 2, deadline: 4 }),
          "spoke1 → 198.18.11.3 (VNI 10011)",
        );
      });

      await step("no traffic crosses VNIs, though the target is on-link", async () => {
        // The probe addresses (scenario.ts) make each target on-link through
        // the sender's own VXLAN device: a failure here is the VNI boundary,
        // not a missing route.
        assert.equal(await topo.routeDevice(s2, "198.18.11.3"), "vxlan10010");
        assert.equal(await topo.routeDevice(s3, "198.51.100.2"), "vxlan10011");
        assert.equal(await topo.ping(s2, "198.18.11.3", { count: 2, deadline: 3 }), false);
        assert.equal(await topo.ping(s3, "198.51.100.2", { count: 2, deadline: 3 }), false);
      });

      await step("deleting spoke2's vxlan10010 withdraws its membership everywhere", async () => {
        await topo.delLink(s2, "vxlan10010");
        // spoke2 has no other VNI, so its whole path is withdrawn.
        await hubRib(
          { "192.0.2.11/32": FULL_RIB["192.0.2.11/32"], "192.0.2.13/32": ["65000:10011"] },
          "hub RIB without 192.0.2.12/32",
        );
        await flood(s1, "vxlan10010", []);
        assert.equal(await topo.ping(s1, "198.51.100.2", { deadline: 2 }), false);
        assert.deepEqual(await topo.floodList(s1, "vxlan10011"), ["192.0.2.13"]);
        assert.deepEqual(await topo.floodList(s3, "vxlan10011"), ["192.0.2.11"]);
        await agentsAlive();
      });

      await step("re-creating spoke2's vxlan10010 rejoins the VNI", async () => {
        await createDevice(topo, plan(2, 10010));
        await hubRib(FULL_RIB, "hub RIB with 192.0.2.12/32 back");
        await flood(s1, "vxlan10010", ["192.0.2.12"]);
        await flood(s2, "vxlan10010", ["192.0.2.11"]);
        // The new device has a new MAC, but spoke1 may still hold a REACHABLE
        // ARP entry for 198.51.100.2 with the old one (sent to the new VTEP
        // and dropped there until the entry ages out, 15-45 s). That is the
        // kernel's business, not the agent's: start from an empty cache.
        await topo.exec(s1, argv`ip neigh flush dev vxlan10010`);
        await waitFor(
          () => topo.ping(s1, "198.51.100.2", { deadline: 2 }),
          CONVERGE_MS,
          "spoke1 → 198.51.100.2 after the rejoin",
        );
      });

      await step(
        "SIGTERM stops an agent with exit 0 within 2 s and withdraws its path",
        async () => {
          const agent = topo.process(s3, "agent");
          assert.ok(agent, "spoke3's agent is running");
          stopped.add(s3.name);
          const result = await agent.stop("SIGTERM", 2000);
          assert.deepEqual(
            { code: result.code, killed: result.killed },
            { code: 0, killed: false },
            `stop result ${JSON.stringify(result)}`,
          );
          assert.ok(result.elapsedMs < 2000, `exited after ${result.elapsedMs} ms`);
          await hubRib(
            { "192.0.2.11/32": FULL_RIB["192.0.2.11/32"], "192.0.2.12/32": ["65000:10010"] },
            "hub RIB without 192.0.2.13/32",
          );
          await flood(s1, "vxlan10011", [], " after spoke3 left");
          // The data plane outlives the control plane (DESIGN.md, principle 3).
          assert.deepEqual(await topo.floodList(s3, "vxlan10011"), ["192.0.2.11"]);
        },
      );

      await step("a restarted agent re-advertises its membership", async () => {
        await topo.startAgent(s3);
        stopped.delete(s3.name);
        await hubRib(FULL_RIB, "hub RIB with 192.0.2.13/32 back");
        await flood(s1, "vxlan10011", ["192.0.2.13"]);
        await flood(s3, "vxlan10011", ["192.0.2.11"]);
      });

      await step("the hand-added unicast FDB entry survived everything", async () => {
        assert.deepEqual(
          (await topo.fdb(s1, "vxlan10010")).filter((e) => e.mac === UNICAST.mac),
          [UNICAST],
        );
        await agentsAlive();
      });

      await step("every agent exits 0 on SIGTERM and the hub RIB empties", async () => {
        for (const node of topo.nodes) stopped.add(node.name);
        const results = await Promise.all(topo.nodes.map(async (node) => {
          const r = await topo.process(node, "agent")!.stop("SIGTERM", 2000);
          return [node.name, r.code, r.killed] as const;
        }));
        assert.deepEqual(results, topo.nodes.map((n) => [n.name, 0, false]));
        await hubRib({}, "an empty hub RIB");
      });
    } catch (err) {
      if (failed.length === 0) failed.push((err as Error).message);
      throw err;
    } finally {
      if (failed.length > 0) await printFailureLogs(topo, failed);
      await topo.destroy({ keepWorkDir: Deno.env.get("EVPN_E2E_KEEP_LOGS") === "1" });
    }
  },
});
