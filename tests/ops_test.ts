/**
 * End to end, the operator's surface (issue 5): `/metrics`, `/healthz`,
 * `/readyz`, `/status`, `evpn-agent status`, `--dry-run` and JSON logs, with
 * real gobgpd and the real agent on a hub and two spokes in network
 * namespaces (scripts/lab/topology.ts). VNI 10010 on both spokes.
 *
 * The endpoint listens on each namespace's own loopback (the default
 * `127.0.0.1:9469`), so every request is made from inside the namespace by
 * tests/_ops_http.ts or by `main.ts status`.
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import type { AgentStatus } from "../src/status/types.ts";
import { rootOnly } from "../scripts/lab/privileges.ts";
import { createDevice, type DevicePlan, DEVICES } from "../scripts/lab/scenario.ts";
import {
  cacheDependencies,
  GOBGP_API,
  type LabNode,
  printFailureLogs,
  run,
  StopWaiting,
  tail,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";
import { type Family, parseExposition, sampleValue } from "./_ops_prom.ts";

const gate = rootOnly("ops e2e test");

const CONVERGE_MS = 10_000;
const HTTP = "127.0.0.1:9469";
const HELPER = new URL("./_ops_http.ts", import.meta.url).pathname;
const COMPONENTS = new Set(["agent", "bgp", "fdb", "link", "membership", "http", "config"]);

function plan(spoke: number, vni: number): DevicePlan {
  const found = DEVICES.find((d) => d.spoke === spoke && d.vni === vni);
  if (found === undefined) throw new Error(`No device planned for spoke${spoke} VNI ${vni}`);
  return found;
}

/** Agent config: fast reconnects, so readiness follows gobgpd within a second. */
function agentConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { gobgp: { address: GOBGP_API, timeout: "5s", reconnectMaxDelay: "1s" }, ...extra };
}

/** What `_ops_http.ts hammer` reports. */
interface Hammered {
  total: number;
  /** "METHOD PATH STATUS" (or the fetch error) → count. */
  statuses: Record<string, number>;
  startMs: number;
  endMs: number;
}

/** Every hammer request got its proper answer: 405 for POST, 404 for the unknown path, else 200. */
function assertStatuses(result: Hammered): void {
  for (const [key, count] of Object.entries(result.statuses)) {
    const want = key.startsWith("POST ") ? 405 : key.includes("/no-such-path") ? 404 : 200;
    assert.ok(key.endsWith(` ${want}`), `${count} × ${key}`);
  }
}

interface Reply {
  status: number;
  contentType?: string | null;
  body: string;
}

Deno.test({
  name: "the agent's endpoint, status command, dry run and JSON logs tell the truth in a lab",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({ spokes: 2 });
    const hub = topo.hub;
    const [s1, s2] = [topo.spoke(1), topo.spoke(2)];
    const failed: string[] = [];
    const step = async (name: string, fn: () => Promise<void>) => {
      const ok = await t.step(name, fn);
      if (!ok) {
        failed.push(name);
        throw new Error(`Step failed: ${name}`); // later steps build on each one
      }
    };

    /** Runs the helper inside `node`; parses its JSON. */
    const helper = async <T>(node: LabNode, ...args: string[]): Promise<T> => {
      const r = await run(node.ns, [
        Deno.execPath(),
        "run",
        "-A",
        "--cached-only",
        HELPER,
        ...args,
      ]);
      if (!r.success) throw new Error(`_ops_http.ts ${args[0]} in ${node.name}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };
    const get = (node: LabNode, path: string) =>
      helper<Reply>(node, "get", `http://${HTTP}${path}`);
    const rawRequest = (node: LabNode, request: string) =>
      helper<Reply>(node, "raw", HTTP, JSON.stringify(request));
    const status = async (node: LabNode) => {
      const r = await get(node, "/status");
      assert.equal(r.status, 200, r.body);
      return JSON.parse(r.body) as AgentStatus;
    };
    const metrics = async (node: LabNode) => {
      const r = await get(node, "/metrics");
      assert.equal(r.status, 200);
      assert.equal(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
      return parseExposition(r.body);
    };
    /** `main.ts status ARGS` inside `node`. */
    const statusCommand = (node: LabNode, ...args: string[]) =>
      run(node.ns, [
        Deno.execPath(),
        "run",
        "-A",
        "--cached-only",
        `${topo.repoDir}/main.ts`,
        "status",
        "--addr",
        HTTP,
        ...args,
      ]);
    const alive = async (node: LabNode) => {
      if (topo.process(node, "agent") === undefined) {
        throw new StopWaiting(
          `The agent on ${node.name} has exited:\n${await tail(
            topo.file(`${node.name}-agent.log`),
          )}`,
        );
      }
    };
    const readyz = async (node: LabNode, want: number, what: string, ms = CONVERGE_MS) => {
      await waitFor(
        async () => {
          await alive(node);
          assert.equal((await get(node, "/readyz")).status, want);
        },
        ms,
        `${node.name} /readyz ${want} ${what}`,
      );
    };
    const flood = (node: LabNode, want: string[], ms = CONVERGE_MS) =>
      waitFor(
        async () => {
          await alive(node);
          assert.deepEqual(await topo.floodList(node, "vxlan10010"), want);
        },
        ms,
        `${node.name} vxlan10010 flood list = [${want.join(", ")}]`,
        { intervalMs: 50 },
      );
    const hubRib = (want: Record<string, string[]>) =>
      waitFor(
        async () => assert.deepEqual(await topo.rib(hub), want),
        CONVERGE_MS,
        `hub RIB ${JSON.stringify(want)}`,
      );
    const logOf = (node: LabNode) => Deno.readTextFile(topo.file(`${node.name}-agent.log`));

    try {
      await step("/readyz is 503 while gobgpd is unreachable, 200 once it answers", async () => {
        await createDevice(topo, plan(1, 10010));
        await createDevice(topo, plan(2, 10010));
        // The hub and spoke2 first: their 5–9 s connect delay runs meanwhile.
        await Promise.all([topo.startGobgpd(hub), topo.startGobgpd(s2)]);
        await topo.startAgent(s1, { config: agentConfig() });
        await waitFor(
          async () => {
            await alive(s1);
            return (await get(s1, "/readyz")).status !== 0;
          },
          15_000,
          "spoke1's endpoint to answer",
        );
        const early = await get(s1, "/readyz");
        assert.deepEqual([early.status, early.body], [503, "not ready\n"]);
        const health = await get(s1, "/healthz");
        assert.equal(health.status, 200, `alive though not ready: ${health.body}`);
        assert.equal((await statusCommand(s1)).code, 3, "status exits 3 while not ready");
        await topo.startGobgpd(s1);
        await readyz(s1, 200, "after gobgpd started");
      });

      await step("spoke1's membership reaches the hub", async () => {
        await topo.waitForSessions(30_000);
        await hubRib({ "192.0.2.11/32": ["65000:10010"] });
      });

      let fdbBefore = "";
      await step("--dry-run on spoke2 logs the changes it would make and makes none", async () => {
        fdbBefore = await topo.exec(s2, ["bridge", "-j", "fdb", "show", "dev", "vxlan10010"]);
        await topo.startAgent(s2, {
          config: agentConfig({ logLevel: "info" }),
          args: ["--dry-run"],
        });
        await waitFor(
          async () => {
            await alive(s2);
            const log = await logOf(s2);
            assert.match(
              log,
              /\[INF\] fdb: Dry run: would add flood entry 00:00:00:00:00:00 dst 192\.0\.2\.11 on vxlan10010/,
            );
            assert.match(
              log,
              /\[INF\] membership: Dry run: would advertise 192\.0\.2\.12\/32 with 65000:10010/,
            );
          },
          CONVERGE_MS,
          "spoke2's dry-run log lines",
        );
        await readyz(s2, 200, "in dry run");
        const st = await status(s2);
        assert.equal(st.dryRun, true);
        assert.deepEqual(
          st.vnis.map((v) => [v.vni, v.online, v.desired, v.programmed, v.missing, v.extra]),
          [[10010, true, ["192.0.2.11"], [], ["192.0.2.11"], []]],
        );
        const text = await statusCommand(s2);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /: ready \(dry run\),/);
        assert.match(
          text.stdout,
          /00:00:00:00:00:00 dst 192\.0\.2\.11 +would add$/m,
        );
        const m = await metrics(s2);
        assert.equal(
          sampleValue(m, "evpn_agent_flood_entries", { vni: "10010", state: "programmed" }),
          0,
        );
        assert.equal(
          sampleValue(m, "evpn_agent_flood_entries", { vni: "10010", state: "desired" }),
          1,
        );
        // Nothing reached the kernel or the RIB, here or anywhere.
        assert.equal(
          await topo.exec(s2, ["bridge", "-j", "fdb", "show", "dev", "vxlan10010"]),
          fdbBefore,
        );
        assert.deepEqual(Object.keys(await topo.rib(s2)), ["192.0.2.11/32"]);
        assert.deepEqual(Object.keys(await topo.rib(hub)), ["192.0.2.11/32"]);
        assert.deepEqual(await topo.floodList(s1, "vxlan10010"), []);

        const stopped = await topo.process(s2, "agent")!.stop("SIGTERM", 2_000);
        assert.deepEqual([stopped.code, stopped.killed], [0, false]);
        assert.match(await logOf(s2), /Dry run: would withdraw 192\.0\.2\.12\/32/);
        assert.equal(
          await topo.exec(s2, ["bridge", "-j", "fdb", "show", "dev", "vxlan10010"]),
          fdbBefore,
          "the dry-run agent's exit changed nothing either",
        );
        assert.deepEqual(Object.keys(await topo.rib(s2)), ["192.0.2.11/32"]);
      });

      await step("spoke2's real agent (logFormat json) joins VNI 10010", async () => {
        await topo.startAgent(s2, { config: agentConfig({ logFormat: "json" }) });
        await flood(s2, ["192.0.2.11"]);
        await flood(s1, ["192.0.2.12"]);
        await hubRib({ "192.0.2.11/32": ["65000:10010"], "192.0.2.12/32": ["65000:10010"] });
        await readyz(s2, 200, "spoke2 after joining");
      });

      await step("/status and /metrics agree with bridge fdb show and the RIB", async () => {
        const [st, m, fdb, rib, link] = await Promise.all([
          status(s1),
          metrics(s1),
          topo.floodList(s1, "vxlan10010"),
          topo.rib(hub),
          topo.exec(s1, ["ip", "-j", "link", "show", "vxlan10010"]),
        ]);
        const ifindex = (JSON.parse(link) as { ifindex: number }[])[0]!.ifindex;
        assert.equal(st.ready, true);
        assert.equal(st.dryRun, false);
        assert.deepEqual(st.node, {
          localAddress: "192.0.2.11",
          addressFamily: "ipv4",
          mode: "discover",
          routes: ["community"],
        });
        assert.equal(st.bgp.stream, "up");
        assert.equal(st.bgp.remoteVteps, 1);
        assert.deepEqual(st.bgp.membership, {
          enabled: true,
          prefix: "192.0.2.11/32",
          communities: rib["192.0.2.11/32"],
        });
        assert.deepEqual(st.vnis, [{
          vni: 10010,
          community: "65000:10010",
          device: "vxlan10010",
          ifindex,
          online: true,
          localAddress: "192.0.2.11",
          desired: Object.keys(rib).filter((p) => p !== "192.0.2.11/32").map((p) =>
            p.replace("/32", "")
          ),
          programmed: fdb,
          missing: [],
          extra: [],
          familyMismatch: [],
          lastError: null,
          remoteVteps: Object.keys(rib).filter((p) => p !== "192.0.2.11/32").map((p) => ({
            vtep: p.replace("/32", ""),
            via: ["community"],
          })),
        }]);
        assert.ok(st.lastSync !== null && Date.now() - Date.parse(st.lastSync) < 60_000);

        const v = (name: string, labels: Record<string, string> = {}) =>
          sampleValue(m, name, labels);
        const labels = { vni: "10010", device: "vxlan10010" };
        assert.equal(v("evpn_agent_vnis_online"), 1);
        assert.equal(v("evpn_agent_flood_entries", { ...labels, state: "desired" }), fdb.length);
        assert.equal(v("evpn_agent_flood_entries", { ...labels, state: "programmed" }), fdb.length);
        assert.equal(v("evpn_agent_ready"), 1);
        assert.equal(v("evpn_agent_bgp_stream_up"), 1);
        assert.equal(v("evpn_agent_membership_advertised"), 1);
        assert.ok(v("evpn_agent_fdb_operations_total", { op: "append", result: "ok" })! >= 1);
        assert.equal(v("evpn_agent_fdb_operations_total", { op: "append", result: "error" }), 0);
        assert.ok(v("evpn_agent_route_events_total", { kind: "add" })! >= 1);
        assert.ok(v("evpn_agent_bgp_stream_losses_total")! >= 1, "it started before gobgpd");
        assert.ok(v("evpn_agent_event_to_kernel_seconds_count")! >= 1);
        const synced = v("evpn_agent_last_sync_timestamp_seconds")!;
        assert.ok(Math.abs(Date.now() / 1000 - synced) < 60, `last sync ${synced}`);
        assert.ok(v("process_resident_memory_bytes")! > 10_000_000);
        assert.ok(v("process_open_fds")! > 0);
      });

      await step("evpn-agent status prints the VNI row and the flood entries", async () => {
        const text = await statusCommand(s1);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^evpn-agent \S+: ready, VTEP 192\.0\.2\.11 \(discovered VNIs\)/);
        assert.match(
          text.stdout,
          /^BGP 127\.0\.0\.1:50051: stream up, \d+ reconnects, 1 remote VTEPs$/m,
        );
        assert.match(text.stdout, /^Membership 192\.0\.2\.11\/32: 65000:10010$/m);
        assert.match(
          text.stdout,
          /^10010\s+65000:10010\s+vxlan10010\s+\d+\s+online\s+192\.0\.2\.11\s+1\s+1\s+in sync$/m,
        );
        assert.match(
          text.stdout,
          /^ {2}00:00:00:00:00:00 dst 192\.0\.2\.12 +ok$/m,
        );
        const json = await statusCommand(s1, "--json");
        assert.equal(json.code, 0, json.stderr);
        assert.deepEqual((JSON.parse(json.stdout) as AgentStatus).vnis, (await status(s1)).vnis);
      });

      await step("requests with bodies, other methods and unknown paths are refused", async () => {
        const bodied = await rawRequest(
          s1,
          "GET /metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\n\r\nhello world",
        );
        assert.deepEqual([bodied.status, bodied.body], [413, "request bodies are not accepted\n"]);
        const chunked = await rawRequest(
          s1,
          "GET /status HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        );
        assert.equal(chunked.status, 413);
        const post = await rawRequest(
          s1,
          "POST /readyz HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}",
        );
        assert.equal(post.status, 405);
        const unknown = await get(s1, "/admin");
        assert.equal(unknown.status, 404);
        assert.match(unknown.body, /^not found: \/admin\n/);
        assert.equal((await rawRequest(s1, "garbage\r\n\r\n")).status, 400);
        assert.equal((await get(s1, "/readyz")).status, 200, "still serving");
      });

      await step(
        "1,000+ requests neither block route changes reaching the kernel nor leak memory",
        async () => {
          const warmStop = topo.file("warm.stop");
          await Deno.writeTextFile(warmStop, "");
          const warm = await helper<Hammered>(
            s1,
            "hammer",
            `http://${HTTP}`,
            "200",
            warmStop,
            "30000",
          );
          assert.equal(warm.total, 200);
          assertStatuses(warm);
          const before = await metrics(s1);
          const rssBefore = sampleValue(before, "process_resident_memory_bytes")!;
          const latencyBefore = sampleValue(before, "evpn_agent_event_to_kernel_seconds_count")!;
          const stopFile = topo.file("hammer.stop");
          const hammer = helper<Hammered>(
            s1,
            "hammer",
            `http://${HTTP}`,
            "1000",
            stopFile,
            "30000",
          );
          await waitFor(
            () => Deno.stat(`${stopFile}.started`).then(() => true),
            10_000,
            "the hammer's first request",
            { intervalMs: 20 },
          );
          /** Time from spoke1's RIB changing to spoke1's kernel following. */
          const follow = async (change: () => Promise<void>, want: string[]) => {
            const ribWant = want.length > 0;
            await change();
            let ribAt: number | undefined;
            let kernelAt: number | undefined;
            await waitFor(
              async () => {
                await alive(s1);
                const [rib, fdb] = await Promise.all([
                  topo.rib(s1),
                  topo.floodList(s1, "vxlan10010"),
                ]);
                const now = Date.now();
                if (ribAt === undefined && ("192.0.2.12/32" in rib) === ribWant) ribAt = now;
                if (kernelAt === undefined && JSON.stringify(fdb) === JSON.stringify(want)) {
                  kernelAt = now;
                }
                return ribAt !== undefined && kernelAt !== undefined;
              },
              CONVERGE_MS,
              `spoke1 flood list = [${want.join(", ")}]`,
              { intervalMs: 20 },
            );
            return { lagMs: kernelAt! - ribAt!, at: kernelAt! };
          };
          const gone = await follow(() => topo.delLink(s2, "vxlan10010"), []);
          const back = await follow(() => createDevice(topo, plan(2, 10010)), ["192.0.2.12"]);
          await Deno.writeTextFile(stopFile, "");
          const result = await hammer;

          assert.ok(result.total >= 1000, `${result.total} requests`);
          assert.ok(
            result.startMs < gone.at && back.at < result.endMs,
            `both changes reached the kernel while requests ran: ${
              JSON.stringify({ ...result, statuses: undefined, gone, back })
            }`,
          );
          assert.ok(
            gone.lagMs <= 1_000,
            `withdrawal reached the kernel ${gone.lagMs} ms after RIB`,
          );
          assert.ok(back.lagMs <= 1_000, `re-add reached the kernel ${back.lagMs} ms after RIB`);
          assertStatuses(result);

          const after = await metrics(s1);
          const rssAfter = sampleValue(after, "process_resident_memory_bytes")!;
          const grew = (rssAfter - rssBefore) / 1e6;
          assert.ok(grew < 30, `RSS grew by ${grew.toFixed(1)} MB over ${result.total} requests`);
          const latency = (f: Map<string, Family>, le: string) =>
            sampleValue(f, "evpn_agent_event_to_kernel_seconds_bucket", { le })!;
          assert.equal(
            sampleValue(after, "evpn_agent_event_to_kernel_seconds_count")! - latencyBefore,
            2,
            "one withdrawal, one re-add",
          );
          assert.equal(latency(after, "1") - latency(before, "1"), 2, "both within 1 s");
          console.log(
            `      ${result.total} requests in ${result.endMs - result.startMs} ms; ` +
              `RIB→kernel ${gone.lagMs} ms and ${back.lagMs} ms; RSS ${grew.toFixed(1)} MB`,
          );
        },
      );

      await step("/readyz turns 503 when gobgpd is SIGKILLed and 200 once it is back", async () => {
        const gobgpd = topo.process(s1, "gobgpd");
        assert.ok(gobgpd);
        await gobgpd.stop("SIGKILL", 2_000);
        await readyz(s1, 503, "after SIGKILL of gobgpd", 5_000);
        const m = await metrics(s1);
        assert.equal(sampleValue(m, "evpn_agent_bgp_stream_up"), 0);
        assert.equal(sampleValue(m, "evpn_agent_ready"), 0);
        assert.equal((await get(s1, "/healthz")).status, 200, "down, not stuck");
        assert.equal((await status(s1)).ready, false);
        await topo.startGobgpd(s1);
        await readyz(s1, 200, "after gobgpd restarted");
        // Once the session is back (gobgpd waits 5–9 s before connecting),
        // spoke1's membership and flood list are as before.
        await waitFor(
          async () => assert.ok("192.0.2.12/32" in await topo.rib(s1)),
          20_000,
          "spoke2's route back in spoke1's RIB",
        );
        await hubRib({ "192.0.2.11/32": ["65000:10010"], "192.0.2.12/32": ["65000:10010"] });
        await flood(s1, ["192.0.2.12"]);
        await readyz(s1, 200, "after the session came back");
      });

      await step("with logFormat json every log line is JSON with a component", async () => {
        const stopped = await topo.process(s2, "agent")!.stop("SIGTERM", 2_000);
        assert.deepEqual([stopped.code, stopped.killed], [0, false]);
        const lines = (await logOf(s2)).split("\n");
        // The log file holds the dry-run agent's text lines first; the JSON
        // agent's part starts at the last header that topology.ts writes.
        const start = lines.findLastIndex((l) => l.startsWith("--- "));
        const json = lines.slice(start + 1).filter((l) => l !== "");
        assert.ok(json.length > 10, `${json.length} lines`);
        const seen = new Set<string>();
        for (const line of json) {
          let record: Record<string, unknown>;
          try {
            record = JSON.parse(line);
          } catch {
            assert.fail(`not JSON: ${line}`);
          }
          assert.ok(COMPONENTS.has(String(record.logger)), `logger of ${line}`);
          assert.equal(typeof record.message, "string", line);
          assert.equal(typeof record["@timestamp"], "string", line);
          assert.equal(typeof record.level, "string", line);
          seen.add(String(record.logger));
        }
        for (const component of ["agent", "http", "bgp", "fdb", "link", "membership"]) {
          assert.ok(seen.has(component), `a ${component} line among ${[...seen].join(", ")}`);
        }
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
