/**
 * Graceful restart, fabric-wide: a hub and three spokes whose gobgpd
 * sessions have BGP graceful restart (`graceful-restart` with
 * `notification-enabled`, `mp-graceful-restart` per family, every gobgpd
 * started with `-r`; scripts/lab/gobgpd_config.ts), an agent on every node
 * and `vxlan10010` everywhere. A continuous ping runs between two other
 * nodes and to the restarting node while first spoke1's gobgpd and then the
 * hub's is restarted (SIGTERM, then started again); `bridge monitor fdb`
 * on every node must report no flood entry deleted.
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import { rootOnly } from "../scripts/lab/privileges.ts";
import {
  cacheDependencies,
  type LabNode,
  printFailureLogs,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";
import {
  Background,
  ContinuousPing,
  FdbMonitor,
  type PingReport,
  RibWatch,
} from "./_resilience_lab.ts";

const gate = rootOnly("graceful restart test");

const VNI = 10010;
const DEV = `vxlan${VNI}`;
/** Peers keep a restarting node's routes this long (seconds). */
const RESTART_TIME = 60;

/** Overlay address of node i (the hub is 0) on vxlan10010. */
function overlay(node: LabNode): string {
  return `198.51.100.${node.index + 1}`;
}

/** Prefixes whose path is marked stale in `gobgp -j global rib` output. */
function staleInRib(json: string): string[] {
  const table = JSON.parse(json) as Record<string, { stale?: boolean }[]> | null;
  return Object.entries(table ?? {}).filter(([, paths]) => paths.some((p) => p.stale === true))
    .map(([prefix]) => prefix).sort();
}

function lossLine(what: string, report: PingReport): string {
  return `${what}: ${report.lost.length} of ${report.transmitted} lost` +
    (report.lostRuns.length > 0 ? ` (${report.lostRuns.join(", ")})` : "");
}

Deno.test({
  name: "a gobgpd restart on a spoke or on the hub removes no flood entry anywhere",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({
      spokes: 3,
      gracefulRestart: { restartTime: RESTART_TIME },
    });
    const bg = new Background(topo);
    const [hub, s1, s2, s3] = [topo.hub, topo.spoke(1), topo.spoke(2), topo.spoke(3)];
    const staleSeen: string[] = [];
    const failed: string[] = [];
    const monitors: FdbMonitor[] = [];
    const others = (node: LabNode) =>
      topo.nodes.filter((n) => n !== node).map((n) => n.address).sort();
    const converged = () =>
      Promise.all(topo.nodes.map((node) =>
        waitFor(
          async () => assert.deepEqual(await topo.floodList(node, DEV), others(node)),
          20_000,
          `${node.name} ${DEV} flood list = every other node`,
        )
      ));
    const noDeletions = async (what: string) => {
      const lines: string[] = [];
      for (const monitor of monitors) {
        for (const line of await monitor.floodLines()) {
          if (line.startsWith("Deleted ")) lines.push(`${monitor.node.name}: ${line}`);
        }
      }
      assert.deepEqual(lines, [], `flood entries deleted during ${what}`);
    };

    /** Restarts `node`'s gobgpd with pings running; returns the loss lines. */
    const restart = async (
      node: LabNode,
      between: [LabNode, LabNode],
      to: LabNode,
      peer: LabNode,
    ) => {
      // What a BGP peer of the restarting node streams meanwhile.
      const watch = await RibWatch.start(bg, peer);
      const pingOthers = await ContinuousPing.start(bg, between[0], overlay(between[1]));
      const pingTo = await ContinuousPing.start(bg, to, overlay(node));
      const gobgpd = topo.process(node, "gobgpd");
      assert.ok(gobgpd, `${node.name}'s gobgpd runs`);
      const t0 = Date.now();
      await gobgpd.stop("SIGTERM", 5_000);
      // While it is away, the peer's RIB (ListPath) holds its routes marked stale.
      let ribStale: string[] = [];
      await waitFor(
        async () => {
          ribStale = staleInRib(
            await topo.exec(peer, ["gobgp", "-j", "global", "rib", "-a", "ipv4"]),
          );
          return ribStale.length > 0;
        },
        3_000,
        `stale paths in ${peer.name}'s RIB`,
      ).catch(() => {});
      await topo.startGobgpd(node);
      await topo.waitForSessions(60_000);
      const sessionsMs = Date.now() - t0;
      // Stale paths are replaced (or dropped) when the restarted side sends
      // its End-of-RIB; give that and the agents' hold time to pass.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await converged();
      await pingOthers.waitForReplies(20);
      await pingTo.waitForReplies(20);
      const reports = [await pingOthers.stop(t0), await pingTo.stop(t0)];
      const paths = (await watch.events()).slice(1).flatMap((e) => e.paths);
      await watch.stop();
      const stale = paths.filter((p) => p.stale && !p.withdraw).map((p) => p.prefix);
      const withdrawn = paths.filter((p) => p.withdraw).map((p) => p.prefix);
      const lines = [
        `${node.name}'s gobgpd restarted, sessions back after ${(sessionsMs / 1000).toFixed(1)} s`,
        `${peer.name}'s RIB held stale [${ribStale.join(" ")}] while it was away`,
        `${peer.name}'s WatchEvent stream: ${paths.length} path updates, marked stale [${
          [...new Set(stale)].join(" ")
        }], withdrawn [${withdrawn.join(" ")}]`,
        lossLine(`${between[0].name} → ${between[1].name}`, reports[0]!),
        lossLine(`${to.name} → ${node.name}`, reports[1]!),
      ];
      console.log(lines.join("\n  "));
      staleSeen.push(...ribStale);
      return reports;
    };

    try {
      await t.step("sessions, agents and vxlan10010 on every node converge", async () => {
        await topo.startAllGobgpd();
        await topo.waitForSessions(40_000);
        for (const node of topo.nodes) {
          await topo.addVxlan(node, VNI, `${overlay(node)}/24`);
          await topo.startAgent(node);
        }
        await converged();
        for (const node of topo.nodes) monitors.push(await FdbMonitor.start(bg, topo, node, DEV));
      });

      const spokeOk = await t.step("spoke1's gobgpd restarts: nothing is removed", async () => {
        const [others, to] = await restart(s1, [s2, s3], s2, hub);
        await noDeletions("spoke1's gobgpd restart");
        assert.equal(others!.lost.length, 0, "no loss between spoke2 and spoke3");
        // spoke1's own data plane keeps forwarding and every peer keeps its entry.
        assert.equal(to!.lost.length, 0, "no loss from spoke2 to spoke1");
        // Graceful restart is what kept spoke1's route: the hub held it marked stale.
        assert.ok(staleSeen.includes(`${s1.address}/32`), `stale paths seen: ${staleSeen}`);
      });
      if (!spokeOk) failed.push("spoke restart");

      const hubOk = await t.step("the hub's gobgpd restarts: nothing is removed", async () => {
        const [others, to] = await restart(hub, [s2, s3], s2, s2);
        await noDeletions("the hub's gobgpd restart");
        assert.equal(others!.lost.length, 0, "no loss between spoke2 and spoke3");
        assert.equal(to!.lost.length, 0, "no loss from spoke2 to the hub");
        // The hub's own route is held stale at spoke2. The other spokes' routes may
        // not be: a stopping hub withdraws each closed client's routes from the
        // clients still open (gobgpd's StopBgp), which the agents' holds cover.
        assert.ok(staleSeen.includes(`${hub.address}/32`), `stale paths seen: ${staleSeen}`);
      });
      if (!hubOk) failed.push("hub restart");
    } finally {
      if (failed.length > 0) await printFailureLogs(topo, failed, { lines: 30 });
      await bg.stopAll();
      await topo.destroy();
    }
    assert.deepEqual(failed, []);
  },
});
