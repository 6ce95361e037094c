/**
 * Standard EVPN mode end to end, in network namespaces with real daemons:
 *
 * 1. Interop with FRR 8.4: our agent + gobgpd on one node (a bridgeless
 *    vxlan device with an overlay address), FRR (zebra + bgpd, a bridge
 *    with the vxlan device and a host behind it) on another, an underlay
 *    switch between them. Type 3 both ways: FRR lists our VTEP `flood: HER`
 *    and installs our flood entry, we install FRR's; ping across the
 *    overlay both ways with flood entries only; our Type 3 withdrawn at FRR
 *    within a second of deleting the device; after an agent SIGKILL and a
 *    device removed meanwhile, the restarted agent withdraws the stale
 *    route; after a gobgpd restart it is advertised again; gobgpd never
 *    crashes.
 * 2. Mixed mode: a gobgpd route reflector, two agents in
 *    `[community, evpn]`, one in `community`, one in `evpn`; each sees the
 *    VTEPs that advertise a route kind it reads, and a VTEP known through
 *    both kinds is not flapped when one of them is withdrawn.
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import { FrrNode } from "../scripts/lab/frr.ts";
import { alive, printFrrLogs, stepper } from "./_evpn_steps.ts";
import { rootOnly } from "../scripts/lab/privileges.ts";
import {
  argv,
  cacheDependencies,
  type LabNode,
  printFailureLogs,
  run,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";

const gate = rootOnly("EVPN e2e test");
const CONVERGE_MS = 10_000;
const VNI = 10010;
const DEV = `vxlan${VNI}`;
const FAMILIES = ["ipv4-unicast", "l2vpn-evpn"] as const;

Deno.test({
  name: "EVPN mode interoperates with FRR 8.4: Type 3 both ways, ping, withdrawal",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({ spokes: 1, families: [...FAMILIES] });
    const frrNode = topo.hub; // 192.0.2.10: FRR instead of gobgpd
    const ours = topo.spoke(1); // 192.0.2.11: gobgpd + our agent
    const failed: string[] = [];
    const step = stepper(t, failed);
    let frr: FrrNode | undefined;
    let host = "";
    const agentUp = () => alive(topo, [ours], "agent");
    const frrVteps = () => frr!.remoteVteps(VNI);

    try {
      await step("FRR and gobgpd establish an iBGP session with l2vpn-evpn", async () => {
        frr = await FrrNode.start(topo, frrNode, { asn: topo.asn, neighbors: [ours.address] });
        const { bridge } = await frr.addVni(VNI, "198.51.100.2/24");
        host = await frr.addHost("h1", bridge, "198.51.100.3/24");
        await topo.startGobgpd(ours);
        await waitFor(
          async () => (await frr!.sessionState(ours.address)) === "Established",
          40_000,
          "FRR's session with gobgpd",
        );
      }, true);

      await step("our agent starts in mode evpn with a bridgeless vxlan device", async () => {
        await topo.addVxlan(ours, VNI, "198.51.100.1/24");
        await topo.startAgent(ours, { config: { mode: "evpn", vnis: [{ id: VNI }] } });
        await agentUp();
      }, true);

      await step("FRR lists our VTEP with flood: HER and installs our flood entry", async () => {
        await waitFor(
          async () => {
            await agentUp();
            assert.deepEqual(await frrVteps(), [{ vtep: ours.address, flood: "HER" }]);
          },
          CONVERGE_MS,
          "FRR's remote VTEPs of VNI 10010",
        );
        await waitFor(
          async () => {
            assert.deepEqual(await topo.floodList(frrNode, DEV), [ours.address]);
          },
          CONVERGE_MS,
          "FRR's flood entry towards us",
        );
        const table = await frr!.evpnTable();
        assert.match(table, /\[3\]:\[0\]:\[32\]:\[192\.0\.2\.11\]/, table);
        assert.match(table, /Route Distinguisher: 192\.0\.2\.11:10010/, table);
      }, true);

      await step("our agent installs FRR's flood entry from its Type 3", async () => {
        await waitFor(
          async () => {
            await agentUp();
            assert.deepEqual(await topo.floodList(ours, DEV), [frrNode.address]);
          },
          CONVERGE_MS,
          "our flood entry towards FRR",
        );
      }, true);

      await step("ping crosses the overlay both ways with Type 3 flood entries alone", async () => {
        // ARP and the first unicast frames are flooded (head-end replication);
        // without Type 2 routes the replies are flooded too, and still arrive.
        await waitFor(
          () => topo.ping(ours, "198.51.100.3", { count: 2, deadline: 3 }),
          CONVERGE_MS,
          "our node → the host behind FRR's bridge",
        );
        const back = await run(host, argv`ping -n -q -c 2 -W 1 -w 3 198.51.100.1`);
        assert.ok(back.success, `host → our node: ${back.stdout}${back.stderr}`);
        assert.ok(await topo.ping(ours, "198.51.100.2", { count: 1, deadline: 3 }), "→ FRR's SVI");
      });

      await step(
        "evpn-agent status shows the RD, RTs, our Type 3 and each VTEP's source",
        async () => {
          const main = `${topo.repoDir}/main.ts`;
          const cmd =
            argv`${Deno.execPath()} run -A --cached-only ${main} status --addr 127.0.0.1:9469`;
          const out = await waitFor(
            async () => {
              const r = await run(ours.ns, cmd);
              return r.success && /advertised/.test(r.stdout) ? r.stdout : false;
            },
            CONVERGE_MS,
            "status with our Type 3 advertised",
          );
          assert.match(out, /evpn routes\)/, out);
          assert.match(
            out,
            /VNI 10010 EVPN: RD 192\.0\.2\.11:10010, RT 65000:10010, our Type 3 \[type:multicast\]\[rd:192\.0\.2\.11:10010\]\[etag:0\]\[ip:192\.0\.2\.11\] advertised/,
            out,
          );
          assert.match(out, /dst 192\.0\.2\.10 +ok {2}\(evpn-type3\)/, out);
        },
      );

      // ---- Type 2 (MAC/IP) assertions: the unicast half (branch evpn-b) goes here ----
      // FRR's Type 2s (the host, the SVI with advertise-svi-ip) become our unicast FDB
      // and neighbour entries; ours appear in FRR's MAC table and ARP cache.

      await step("deleting our device withdraws our Type 3 at FRR within a second", async () => {
        await topo.delLink(ours, DEV);
        const start = performance.now();
        await waitFor(async () => (await frrVteps()).length === 0, 5_000, "FRR forgets us", {
          intervalMs: 20,
        });
        const ms = performance.now() - start;
        assert.ok(ms < 1_000, `withdrawn at FRR after ${Math.round(ms)} ms`);
        await waitFor(
          async () => (await topo.floodList(frrNode, DEV)).length === 0,
          CONVERGE_MS,
          "FRR's flood entry towards us removed",
        );
      });

      await step("re-creating the device advertises it again", async () => {
        await topo.addVxlan(ours, VNI, "198.51.100.1/24");
        await waitFor(
          async () => {
            assert.deepEqual(await frrVteps(), [{ vtep: ours.address, flood: "HER" }]);
          },
          CONVERGE_MS,
          "FRR lists us again",
        );
        await waitFor(
          async () => {
            assert.deepEqual(await topo.floodList(ours, DEV), [frrNode.address]);
          },
          CONVERGE_MS,
          "our flood entry towards FRR on the new device",
        );
      });

      await step(
        "a restarted agent leaves no stale Type 3 behind (SIGKILL, device gone)",
        async () => {
          const agent = topo.process(ours, "agent")!;
          await agent.stop("SIGKILL", 2000);
          // The killed agent could not withdraw: gobgpd still holds its path.
          await topo.delLink(ours, DEV);
          await new Promise((r) => setTimeout(r, 500));
          assert.deepEqual(await frrVteps(), [{ vtep: ours.address, flood: "HER" }]);
          await topo.startAgent(ours, { config: { mode: "evpn", vnis: [{ id: VNI }] } });
          await waitFor(
            async () => {
              await agentUp();
              return (await frrVteps()).length === 0;
            },
            CONVERGE_MS,
            "the stale Type 3 withdrawn by the new run",
          );
          await topo.addVxlan(ours, VNI, "198.51.100.1/24");
          await waitFor(
            async () => {
              assert.deepEqual(await frrVteps(), [{ vtep: ours.address, flood: "HER" }]);
            },
            CONVERGE_MS,
            "FRR lists us after the restart",
          );
        },
      );

      await step("after a gobgpd restart our Type 3 is advertised again", async () => {
        await topo.process(ours, "gobgpd")!.stop("SIGKILL", 2000);
        await waitFor(async () => (await frrVteps()).length === 0, 10_000, "FRR drops us");
        await topo.startGobgpd(ours);
        await waitFor(
          async () => {
            await agentUp();
            assert.deepEqual(await frrVteps(), [{ vtep: ours.address, flood: "HER" }]);
          },
          40_000,
          "FRR lists us after gobgpd's restart",
        );
        // Our flood entry towards FRR stayed in place all along.
        assert.deepEqual(await topo.floodList(ours, DEV), [frrNode.address]);
      });

      await step("SIGTERM withdraws our Type 3; gobgpd never crashed", async () => {
        await alive(topo, [ours], "gobgpd");
        assert.ok(frr!.running(), "FRR's daemons run");
        const r = await topo.process(ours, "agent")!.stop("SIGTERM", 2000);
        assert.equal(r.code, 0, JSON.stringify(r));
        await waitFor(async () => (await frrVteps()).length === 0, 2_000, "withdrawn at stop");
        await alive(topo, [ours], "gobgpd");
        const log = await Deno.readTextFile(topo.file(`${ours.name}-gobgpd.log`));
        assert.doesNotMatch(log, /panic|invalid mp reach/i);
      });
    } catch (err) {
      if (failed.length === 0) failed.push((err as Error).message);
      throw err;
    } finally {
      if (failed.length > 0) {
        await printFailureLogs(topo, failed);
        if (frr) {
          await printFrrLogs(frr);
        }
      }
      await topo.destroy({ keepWorkDir: Deno.env.get("EVPN_E2E_KEEP_LOGS") === "1" });
    }
  },
});

Deno.test({
  name:
    "mixed mode: [community, evpn], community and evpn agents converge on the right flood lists",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({ spokes: 4, families: [...FAMILIES] });
    const [s1, s2, s3, s4] = [1, 2, 3, 4].map((i) => topo.spoke(i)) as [
      LabNode,
      LabNode,
      LabNode,
      LabNode,
    ];
    const failed: string[] = [];
    const step = stepper(t, failed);
    const modes: [LabNode, unknown][] = [
      [s1, ["community", "evpn"]],
      [s2, ["community", "evpn"]],
      [s3, "community"],
      [s4, "evpn"],
    ];
    const flood = (node: LabNode, want: string[]) =>
      waitFor(
        async () => {
          await alive(topo, topo.spokes, "agent");
          assert.deepEqual(await topo.floodList(node, DEV), want);
        },
        CONVERGE_MS,
        `${node.name} ${DEV} flood list = [${want.join(", ")}]`,
      );

    try {
      await step("gobgpd everywhere, the hub reflects both families", async () => {
        await topo.startAllGobgpd();
        await topo.waitForSessions(40_000);
      }, true);

      await step("four agents, one vxlan10010 each, in their modes", async () => {
        for (const [node, mode] of modes) {
          await topo.addVxlan(node, VNI, `198.51.100.${node.index}/24`);
          await topo.startAgent(node, { config: { mode, vnis: [{ id: VNI }] } });
        }
        await alive(topo, topo.spokes, "agent");
      }, true);

      // Who sees whom: an agent reads the route kinds of its mode; the dual
      // agents advertise both kinds, so everybody sees them; the community-only
      // and the EVPN-only agent share no route kind and do not see each other.
      await step("each agent sees the VTEPs that advertise a kind it reads", async () => {
        await flood(s1, ["192.0.2.12", "192.0.2.13", "192.0.2.14"]);
        await flood(s2, ["192.0.2.11", "192.0.2.13", "192.0.2.14"]);
        await flood(s3, ["192.0.2.11", "192.0.2.12"]);
        await flood(s4, ["192.0.2.11", "192.0.2.12"]);
      });

      await step(
        "a VTEP known through both kinds is not flapped when one is withdrawn",
        async () => {
          // Watch spoke1's FDB while spoke2's community route goes away (its
          // Type 3 stays): spoke1 must not delete (and re-add) 192.0.2.12.
          const monitor = new Deno.Command("ip", {
            args: ["netns", "exec", s1.ns, "bridge", "monitor", "fdb"],
            stdout: "piped",
            stderr: "null",
          }).spawn();
          const chunks: Uint8Array[] = [];
          const reading = (async () => {
            for await (const chunk of monitor.stdout) chunks.push(chunk);
          })();
          try {
            await new Promise((r) => setTimeout(r, 300));
            await topo.exec(s2, argv`gobgp global rib -a ipv4 del 192.0.2.12/32`);
            await waitFor(
              async () => {
                const rib = await topo.rib(topo.hub);
                return !("192.0.2.12/32" in rib);
              },
              CONVERGE_MS,
              "spoke2's membership route gone from the hub",
            );
            // spoke3 (community only) loses spoke2; spoke1 keeps it through Type 3.
            await flood(s3, ["192.0.2.11"]);
            await new Promise((r) => setTimeout(r, 500));
            assert.deepEqual(await topo.floodList(s1, DEV), [
              "192.0.2.12",
              "192.0.2.13",
              "192.0.2.14",
            ]);
          } finally {
            monitor.kill("SIGTERM");
            await reading.catch(() => {});
            await monitor.status;
          }
          const events = new TextDecoder().decode(
            chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
          );
          assert.doesNotMatch(events, /192\.0\.2\.12/, `spoke1's FDB events:\n${events}`);
        },
      );

      await step("SIGTERM: every agent exits 0 and withdraws both kinds", async () => {
        const results = await Promise.all(topo.spokes.map(async (node) => {
          const r = await topo.process(node, "agent")!.stop("SIGTERM", 2000);
          return [node.name, r.code] as const;
        }));
        assert.deepEqual(results, topo.spokes.map((n) => [n.name, 0]));
        await waitFor(
          async () => {
            const ipv4 = await topo.rib(topo.hub);
            const evpn = await topo.exec(topo.hub, argv`gobgp global rib -a evpn`);
            return Object.keys(ipv4).length === 0 && !/multicast/.test(evpn);
          },
          CONVERGE_MS,
          "an empty hub RIB in both families",
        );
        await alive(topo, topo.nodes, "gobgpd");
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
