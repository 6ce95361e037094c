/**
 * End to end, SIGHUP reload (issue 12): real gobgpd and agents on a hub and
 * two spokes in network namespaces (scripts/lab/topology.ts), with
 * `bridge monitor fdb` running on both spokes. spoke1 runs with static VNIs
 * 10010 and 10012, reloads to 10010 and 10011, then to 10010 alone; spoke2 discovers 10010,
 * 10011 and 10012. Then a restart-only change (gobgp.address) and a file
 * with a YAML syntax error are refused and change nothing.
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 * Run under the shared lock:
 * `flock /tmp/evpn-ns.lock deno test -A tests/reload_test.ts`.
 */
import assert from "node:assert/strict";
import { rootOnly } from "../scripts/lab/privileges.ts";
import { createDevice, DEVICES } from "../scripts/lab/scenario.ts";
import {
  cacheDependencies,
  delay,
  GOBGP_API,
  type LabNode,
  printFailureLogs,
  run,
  StopWaiting,
  tail,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";

const gate = rootOnly("reload e2e test");

const CONVERGE_MS = 15_000;

/** `bridge monitor fdb` inside a namespace, its lines collected. */
class FdbMonitor {
  readonly lines: string[] = [];
  #child: Deno.ChildProcess;
  #done: Promise<void>;

  constructor(ns: string) {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, "bridge", "monitor", "fdb"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#done = (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        this.lines.push(...parts);
      }
    })();
  }

  deleted(dev: string): string[] {
    return this.lines.filter((l) => l.startsWith("Deleted ") && l.includes(` dev ${dev} `));
  }

  async close(): Promise<void> {
    try {
      this.#child.kill("SIGTERM"); // the monitor this test started, by its own handle
    } catch {
      // already gone
    }
    await this.#done.catch(() => {});
    await this.#child.status;
  }
}

Deno.test({
  name: "SIGHUP applies VNIs and log level live, refuses restart-only keys and bad files",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({ spokes: 2 });
    const hub = topo.hub;
    const [s1, s2] = [topo.spoke(1), topo.spoke(2)];
    const failed: string[] = [];
    const monitors: FdbMonitor[] = [];
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!await t.step(name, fn)) {
        failed.push(name);
        throw new Error(`Step failed: ${name}`);
      }
    };
    const logOf = (node: LabNode) => Deno.readTextFile(topo.file(`${node.name}-agent.log`));
    const alive = async (node: LabNode) => {
      if (topo.process(node, "agent") === undefined) {
        throw new StopWaiting(
          `The agent on ${node.name} has exited:\n${await tail(
            topo.file(`${node.name}-agent.log`),
          )}`,
        );
      }
    };
    const floods = async (node: LabNode, devs: string[]) =>
      Object.fromEntries(
        await Promise.all(devs.map(async (d) => [d, await topo.floodList(node, d)] as const)),
      );
    const DEVS = ["vxlan10010", "vxlan10011", "vxlan10012"];
    const converge = (node: LabNode, want: Record<string, string[]>, what: string) =>
      waitFor(
        async () => {
          await alive(node);
          assert.deepEqual(await floods(node, DEVS), want);
        },
        CONVERGE_MS,
        what,
      );
    const hubRib = (want: Record<string, string[]>) =>
      waitFor(
        async () => {
          await alive(s1);
          assert.deepEqual(await topo.rib(hub), want);
        },
        CONVERGE_MS,
        `hub RIB ${JSON.stringify(want)}`,
      );
    const spoke1Config = (extra: Record<string, unknown> = {}) => ({
      logLevel: "info",
      advertiseSelf: true,
      communityAsn: 65000,
      gobgp: { address: GOBGP_API, timeout: "5s", reconnectMaxDelay: "1s" },
      node: { localInterface: "eth0", vxlanPort: 4789 },
      ...extra,
    });
    /** Writes spoke1's file (JSON is YAML) and sends SIGHUP to the agent's PID. */
    const reload = async (text: string) => {
      await Deno.writeTextFile(topo.agentConfigPath(s1), text);
      const agent = topo.process(s1, "agent");
      assert.ok(agent, "spoke1's agent runs");
      Deno.kill(agent.pid, "SIGHUP");
    };
    const logLines = async (pattern: RegExp) =>
      (await logOf(s1)).split("\n").filter((l) => pattern.test(l));

    const before = {
      vxlan10010: ["192.0.2.12"],
      vxlan10011: [] as string[],
      vxlan10012: ["192.0.2.12"],
    };
    const after = {
      vxlan10010: ["192.0.2.12"],
      vxlan10011: ["192.0.2.12"],
      vxlan10012: [] as string[],
    };
    const final = { vxlan10010: ["192.0.2.12"], vxlan10011: [] as string[], vxlan10012: [] };
    const ribFinal = {
      "192.0.2.11/32": ["65000:10010"],
      "192.0.2.12/32": ["65000:10010", "65000:10011", "65000:10012"],
    };
    const ribAfter = {
      "192.0.2.11/32": ["65000:10010", "65000:10011"],
      "192.0.2.12/32": ["65000:10010", "65000:10011", "65000:10012"],
    };

    try {
      await step("spoke1 serves static VNIs 10010 and 10012", async () => {
        for (const plan of DEVICES.filter((d) => d.spoke <= 2)) await createDevice(topo, plan);
        await topo.addVxlan(s1, 10012);
        await topo.addVxlan(s2, 10011);
        await topo.addVxlan(s2, 10012);
        await topo.startAllGobgpd();
        await topo.waitForSessions(40_000);
        await topo.startAgent(s2, {
          config: { logLevel: "info", gobgp: { address: GOBGP_API, reconnectMaxDelay: "1s" } },
        });
        await topo.startAgent(s1, {
          config: spoke1Config({ vnis: [{ id: 10010 }, { id: 10012 }] }),
        });
        await converge(s1, before, "spoke1's flood lists before the reload");
        await hubRib({
          "192.0.2.11/32": ["65000:10010", "65000:10012"],
          "192.0.2.12/32": ["65000:10010", "65000:10011", "65000:10012"],
        });
        assert.deepEqual(await logLines(/\[DBG\]/), [], "logLevel info: no debug lines yet");
        monitors.push(new FdbMonitor(s1.ns), new FdbMonitor(s2.ns));
        await delay(500); // the monitors are subscribed
      });

      await step("SIGHUP: VNI 10011 added, 10012 removed, logLevel debug", async () => {
        await reload(JSON.stringify(spoke1Config({
          logLevel: "debug",
          vnis: [{ id: 10010 }, { id: 10011 }],
        })));
        await converge(s1, after, "spoke1's flood lists after the reload");
        await hubRib(ribAfter);
        await waitFor(
          async () => {
            const applied = await logLines(/Reload applied "?logLevel"?: "?info"? -> "?debug"?/);
            assert.equal(applied.length, 1);
            assert.ok((await logLines(/\[DBG\]/)).length > 0, "debug lines after the reload");
          },
          CONVERGE_MS,
          "logLevel debug in force",
        );
        await delay(1_000); // late deletions would show up now
        const [m1, m2] = monitors as [FdbMonitor, FdbMonitor];
        assert.ok(
          m1.deleted("vxlan10012").some((l) => l.includes("dst 192.0.2.12")),
          `the monitor saw the removed VNI's entry go:\n${m1.lines.join("\n")}`,
        );
        assert.deepEqual(m1.deleted("vxlan10010"), [], "the unchanged VNI did not flap");
        assert.deepEqual(
          m2.deleted("vxlan10010"),
          [],
          "spoke2 kept spoke1 in 10010: the membership was replaced, not withdrawn",
        );
        assert.deepEqual(await floods(s2, DEVS), {
          vxlan10010: ["192.0.2.11"],
          vxlan10011: ["192.0.2.11"],
          vxlan10012: [],
        });
      });

      await step("SIGHUP: VNI 10011 removed alone (no new table to read)", async () => {
        await reload(JSON.stringify(spoke1Config({ logLevel: "debug", vnis: [{ id: 10010 }] })));
        await converge(s1, final, "spoke1's flood lists after removing 10011");
        await hubRib(ribFinal);
        await delay(500);
        const [m1, m2] = monitors as [FdbMonitor, FdbMonitor];
        assert.ok(m1.deleted("vxlan10011").some((l) => l.includes("dst 192.0.2.12")));
        assert.deepEqual(m1.deleted("vxlan10010"), [], "the unchanged VNI did not flap");
        assert.deepEqual(m2.deleted("vxlan10010"), [], "no membership withdraw in between");
      });

      await step("SIGHUP: a gobgp.address change is refused and nothing changes", async () => {
        const lines = monitors[0]!.lines.length;
        const applied = (await logLines(/Reload applied/)).length;
        await reload(JSON.stringify(spoke1Config({
          logLevel: "info",
          gobgp: { address: "127.0.0.1:50052", timeout: "5s", reconnectMaxDelay: "1s" },
          vnis: [{ id: 10010 }],
        })));
        await waitFor(
          async () => {
            await alive(s1);
            const refused = await logLines(/Reload refused: "?gobgp\.address"? changed/);
            assert.equal(refused.length, 1);
            assert.match(refused[0]!, /restart/);
          },
          CONVERGE_MS,
          "the refusal log line",
        );
        await delay(1_500);
        assert.deepEqual(await floods(s1, DEVS), final);
        assert.deepEqual(await topo.rib(hub), ribFinal);
        assert.deepEqual(monitors[0]!.lines.slice(lines), [], "no FDB change at all");
        assert.equal((await logLines(/Reload applied/)).length, applied, "nothing applied");
      });

      await step("SIGHUP: a file with a syntax error is refused and nothing changes", async () => {
        const lines = monitors[0]!.lines.length;
        await reload("logLevel: info\nvnis: [ { id: 10010 }\n");
        await waitFor(
          async () => {
            await alive(s1);
            const refused = await logLines(/Reload refused: .*(line|column|YAML|syntax)/i);
            assert.equal(refused.length, 1);
          },
          CONVERGE_MS,
          "the refusal of the bad file",
        );
        await delay(1_500);
        await alive(s1);
        assert.deepEqual(await floods(s1, DEVS), final);
        assert.deepEqual(await topo.rib(hub), ribFinal);
        assert.deepEqual(monitors[0]!.lines.slice(lines), [], "no FDB change at all");
      });
      await step(
        "SIGHUP: http.listen moves, new listener first; a failed bind keeps the old",
        async () => {
          /** The HTTP status of GET /readyz on `addr` inside spoke1, 0 when nothing answers. */
          const readyz = async (addr: string) => {
            const r = await run(s1.ns, [
              "curl",
              "-s",
              "-o",
              "/dev/null",
              "-m",
              "3",
              "-w",
              "%{http_code}",
              `http://${addr}/readyz`,
            ]);
            return Number(r.stdout.trim() || "0");
          };
          assert.equal(await readyz("127.0.0.1:9469"), 200);
          await reload(JSON.stringify(spoke1Config({
            logLevel: "debug",
            vnis: [{ id: 10010 }],
            http: { listen: "127.0.0.1:9470" },
          })));
          await waitFor(
            async () => {
              await alive(s1);
              assert.equal(await readyz("127.0.0.1:9470"), 200);
              assert.equal(await readyz("127.0.0.1:9469"), 0, "the old listener is closed");
            },
            CONVERGE_MS,
            "the endpoint on 127.0.0.1:9470 only",
          );
          // gobgpd holds 127.0.0.1:50051 in this namespace: the bind fails.
          await reload(JSON.stringify(spoke1Config({
            logLevel: "debug",
            vnis: [{ id: 10010 }],
            http: { listen: GOBGP_API },
          })));
          await waitFor(
            async () => {
              await alive(s1);
              const lines = await logLines(/cannot serve http\.listen/);
              assert.equal(lines.length, 1);
              assert.match(lines[0]!, /still serving "?127\.0\.0\.1:9470/);
            },
            CONVERGE_MS,
            "the failed bind's log line",
          );
          assert.equal(await readyz("127.0.0.1:9470"), 200, "the old listener stays");
          assert.deepEqual(await floods(s1, DEVS), final);
        },
      );
    } finally {
      for (const monitor of monitors) await monitor.close();
      if (failed.length > 0) await printFailureLogs(topo, failed);
      await topo.destroy({ keepWorkDir: Deno.env.get("EVPN_E2E_KEEP_LOGS") === "1" });
    }
  },
});
