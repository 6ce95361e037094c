/**
 * End to end, issue 4 (resilience): every fault of the issue's list against
 * real gobgpd, the real agent (`main.ts`) and the real kernel, on one shared
 * hub-spoke lab (scripts/lab/topology.ts, scenario in scripts/lab/scenario.ts):
 * VNI 10010 joins spokes 1 and 2, VNI 10011 spokes 1 and 3. Agents run on the
 * spokes (the hub, a route reflector without VXLAN devices, needs none).
 *
 * One step per fault, named by the behaviour it proves. Each step starts from
 * the scenario's converged state ("the baseline") and restores it at the end,
 * so a failing step does not take the next one down. Each step prints what it
 * measured (times, ping loss, monitor lines) whether it passes or not.
 *
 * Observers: a continuous `ping -i 0.05` over the overlay (loss counted per
 * sequence number), `bridge monitor fdb` (no "Deleted" line for a valid
 * entry), and a WatchEvent observer on the hub's gobgpd (a peer must never
 * see the membership prefix withdrawn) — see tests/_resilience_lab.ts.
 *
 * `EVPN_AGENT_REPO=/path/to/checkout` tests the agent of another checkout
 * (e.g. a snapshot of HEAD); the helpers always come from this one.
 * `EVPN_E2E_KEEP_LOGS=1` keeps the logs. Needs root; skipped otherwise,
 * except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import { rootOnly } from "../scripts/lab/privileges.ts";
import {
  createDevice,
  createDevices,
  type DevicePlan,
  DEVICES,
  EXPECTED_FLOOD,
  EXPECTED_RIB,
} from "../scripts/lab/scenario.ts";
import {
  argv,
  cacheDependencies,
  type LabNode,
  printFailureLogs,
  REPO_DIR,
  type Rib,
  StopWaiting,
  tail,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";
import {
  Background,
  ContinuousPing,
  FdbMonitor,
  floodByHand,
  gobgpInject,
  httpGet,
  lineTime,
  linkExists,
  logMark,
  logSince,
  type PingReport,
  pinReturnPath,
  RibWatch,
  rssKiB,
  timeUntil,
} from "./_resilience_lab.ts";

const gate = rootOnly("resilience e2e test");

/** The checkout whose agent is tested. */
const AGENT_REPO = Deno.env.get("EVPN_AGENT_REPO") ?? REPO_DIR;
/** Budget for the agents to converge after a change. */
const CONVERGE_MS = 10_000;
/** gobgpd 3.10 waits 5–9 s before its first connection to a neighbour. */
const SESSION_MS = 40_000;
/** Drift repair and graceful withdraw budget (the issue's "within a second"). */
const ONE_SECOND = 1_000;
/** Agent RSS bound under hostile routes. */
const RSS_LIMIT_KIB = 150 * 1024;

const FLOOD = "00:00:00:00:00:00";

/** Expected flood lists ("spoke<i>/vxlan<VNI>" → sorted dsts) and hub RIB entries. */
interface State {
  flood: Record<string, string[]>;
  rib: Rib;
  /** Compare only these prefixes of the hub RIB (default: the whole RIB). */
  ribSubset?: boolean;
}

const BASE: State = { flood: { ...EXPECTED_FLOOD }, rib: { ...EXPECTED_RIB } };

function plan(spoke: number, vni: number): DevicePlan {
  const found = DEVICES.find((d) => d.spoke === spoke && d.vni === vni);
  if (found === undefined) throw new Error(`No device planned for spoke${spoke} VNI ${vni}`);
  return found;
}

/** Collects a step's checks and measurements; fails once, at the end, with all of them. */
class Checks {
  #step: string;
  #lines: string[] = [];
  #failed: string[] = [];

  constructor(step: string) {
    this.#step = step;
  }

  note(line: string): void {
    this.#lines.push(`      ${line}`);
  }

  check(ok: boolean, what: string, evidence = ""): boolean {
    this.#lines.push(`  ${ok ? "ok  " : "FAIL"} ${what}${evidence ? ` [${evidence}]` : ""}`);
    if (!ok) this.#failed.push(evidence ? `${what}\n      ${evidence}` : what);
    return ok;
  }

  /** Waits for `probe`; on timeout records a failure with the last observation. */
  async wait(probe: () => Promise<unknown>, timeoutMs: number, what: string): Promise<boolean> {
    const start = performance.now();
    try {
      await waitFor(probe, timeoutMs, what, { intervalMs: 50 });
      return this.check(true, what, `${Math.round(performance.now() - start)} ms`);
    } catch (error) {
      return this.check(false, what, (error as Error).message);
    }
  }

  done(): void {
    console.log(`\n  [${this.#step}]\n${this.#lines.join("\n")}`);
    if (this.#failed.length > 0) {
      throw new Error(
        `${this.#failed.length} check(s) failed in "${this.#step}":\n - ${
          this.#failed.join("\n - ")
        }`,
      );
    }
  }
}

function pingSummary(r: PingReport): string {
  return `${r.transmitted} sent, ${r.received} received, ${r.duplicates} dup, ` +
    `${r.summaryLoss}% loss; lost (excl. in-flight last): ${r.lost.length}` +
    (r.lostRuns.length > 0 ? ` → ${r.lostRuns.join("; ")}` : "");
}

Deno.test({
  name: "evpn-agent survives restarts, drift, churn and hostile routes (issue 4)",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies(REPO_DIR);
    if (AGENT_REPO !== REPO_DIR) await cacheDependencies(AGENT_REPO);
    const topo = await Topology.create({ spokes: 3, repoDir: AGENT_REPO });
    const bg = new Background(topo);
    const hub = topo.hub;
    const [s1, s2, s3] = [topo.spoke(1), topo.spoke(2), topo.spoke(3)];
    const spokes = [s1, s2, s3];
    const failed: string[] = [];
    /** Spokes whose agent the test stopped on purpose. */
    const stopped = new Set<string>();

    const node = (name: string): LabNode => {
      const found = topo.nodes.find((n) => n.name === name);
      if (found === undefined) throw new Error(`No node ${name}`);
      return found;
    };
    const agentLog = (n: LabNode) => topo.file(`${n.name}-agent.log`);
    const agentsAlive = async () => {
      for (const n of spokes.filter((s) => !stopped.has(s.name))) {
        if (topo.process(n, "agent") === undefined) {
          throw new StopWaiting(
            `The agent on ${n.name} has exited:\n${await tail(agentLog(n), 15)}`,
          );
        }
      }
    };
    /** Throws (with actual vs expected) unless the lab is in `want` now. */
    const inState = async (want: State) => {
      await agentsAlive();
      const flood: Record<string, string[]> = {};
      for (const key of Object.keys(want.flood)) {
        const [name, dev] = key.split("/") as [string, string];
        flood[key] = await topo.floodList(node(name), dev);
      }
      assert.deepEqual(flood, want.flood, "flood lists");
      let rib = await topo.rib(hub);
      if (want.ribSubset) {
        rib = Object.fromEntries(Object.keys(want.rib).map((p) => [p, rib[p] ?? ["(absent)"]]));
      }
      assert.deepEqual(rib, want.rib, "hub RIB");
      return true;
    };
    const waitState = (want: State, timeoutMs: number, what: string) =>
      waitFor(() => inState(want), timeoutMs, what, { intervalMs: 50 });
    const baseline = () => waitState(BASE, 15_000, "the baseline (scenario converged)");

    const step = async (name: string, fn: () => Promise<void>, essential = false) => {
      const ok = await t.step(name, fn);
      if (!ok) {
        failed.push(name);
        if (essential) throw new Error(`Essential step failed: ${name}`);
      }
    };

    try {
      // ---- fault 8 doubles as the set-up: spoke3's agent starts before its gobgpd.
      await step(
        "fault 8: an agent started before its gobgpd stays up and converges once gobgpd appears",
        async () => {
          const c = new Checks("fault 8: gobgpd unreachable at start");
          await createDevices(topo);
          await Promise.all([hub, s1, s2].map((n) => topo.startGobgpd(n)));
          for (const n of spokes) await topo.startAgent(n);
          await waitFor(
            async () => {
              const up = new Set(
                (await topo.neighbors(hub)).filter((n) => n.state === "ESTABLISHED").map((n) =>
                  n.address
                ),
              );
              if (!up.has(s1.address) || !up.has(s2.address)) throw new Error([...up].join());
              return true;
            },
            SESSION_MS,
            "spoke1's and spoke2's sessions with the hub",
          );
          // By now (≥ 5 s) spoke3's agent has been failing to reach gobgpd for a while.
          const lines = await logSince(agentLog(s3), 0);
          const retries = lines.filter((l) => /retry|retrying/i.test(l));
          c.check(
            topo.process(s3, "agent") !== undefined,
            "spoke3's agent is still running while its gobgpd is absent",
            `${lines.length} log lines`,
          );
          c.check(
            retries.length > 0,
            "spoke3's agent reports that it cannot reach gobgpd and retries",
            retries.slice(0, 2).concat(retries.length > 2 ? [retries.at(-1)!] : []).join(" | ") ||
              lines.slice(-3).join(" | "),
          );
          const notReady = await httpGet(s3, "/readyz");
          c.check(
            notReady?.status === 503,
            "spoke3's agent reports not-ready (/readyz 503) while gobgpd is absent",
            notReady === undefined
              ? "nothing answers on 127.0.0.1:9469"
              : `${notReady.status} ${notReady.body}`,
          );
          const t0 = performance.now();
          await topo.startGobgpd(s3);
          const apiUp = performance.now();
          await topo.waitForSessions(SESSION_MS);
          const sessionUp = performance.now();
          // Backoff cap ~10 s: converged within 3 s of the session, or within 12 s of
          // gobgpd's API answering, whichever is later.
          const budget = Math.max(sessionUp - apiUp + 3_000, 12_000);
          const ok = await c.wait(
            () => inState(BASE),
            budget,
            `the lab converges (hub RIB, every flood list) within ${Math.round(budget)} ms of ` +
              `spoke3's gobgpd answering`,
          );
          const ready = await httpGet(s3, "/readyz");
          c.check(
            ready?.status === 200,
            "spoke3's agent reports ready (/readyz 200) once converged",
            ready === undefined ? "nothing answers" : `${ready.status} ${ready.body}`,
          );
          c.note(
            `gobgpd API up after ${Math.round(apiUp - t0)} ms; session up ${
              Math.round(sessionUp - apiUp)
            } ms later; converged ${ok ? Math.round(performance.now() - apiUp) : "never"} ms ` +
              `after the API was up`,
          );
          c.done();
        },
      );

      await step("the lab reaches the scenario's converged state", async () => {
        try {
          await baseline();
        } catch (error) {
          // Fault 8 failed: give the other steps a chance with a fresh spoke3 agent.
          console.log(
            `  baseline not reached (${(error as Error).message}); restarting spoke3's agent`,
          );
          await topo.process(s3, "agent")?.stop("SIGKILL", 3_000);
          await topo.startAgent(s3);
          await baseline();
        }
      }, true);

      await step(
        "fault 6: without CAP_NET_ADMIN the agent says so at start and exits non-zero",
        async () => {
          const c = new Checks("fault 6: no CAP_NET_ADMIN");
          const drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_admin", "--"];
          const capEff = (await topo.exec(hub, [...drop, "grep", "CapEff", "/proc/self/status"]))
            .trim();
          const eff = BigInt(`0x${capEff.split(/\s+/)[1]}`);
          c.check((eff & (1n << 12n)) === 0n, "setpriv drops CAP_NET_ADMIN", capEff);
          // In the hub's namespace: no VXLAN device, so even a misbehaving agent changes nothing.
          const config = topo.file("nocap-agent.yaml");
          await Deno.writeTextFile(
            config,
            JSON.stringify({
              logLevel: "debug",
              advertiseSelf: true,
              communityAsn: topo.asn,
              gobgp: { address: "127.0.0.1:50051", timeout: "5s" },
              node: { localInterface: "eth0", vxlanPort: 4789 },
            }),
          );
          const agent = await bg.start(hub, "agent-nocap", [
            ...drop,
            ...argv`${Deno.execPath()} run -A --cached-only --config ${topo.repoDir}/deno.json`,
            ...argv`${topo.repoDir}/main.ts --config ${config}`,
          ]);
          const started = performance.now();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const status = await Promise.race([
            agent.exited(),
            new Promise<"running">((r) => timer = setTimeout(r, 15_000, "running")),
          ]).finally(() => clearTimeout(timer));
          const elapsed = Math.round(performance.now() - started);
          if (status === "running") await bg.stop(agent, "SIGKILL");
          const log = (await Deno.readTextFile(agent.log)).trim().split("\n");
          const said = log.filter((l) => /CAP_NET_ADMIN|net_admin/i.test(l));
          c.check(
            status !== "running",
            "the agent exits by itself",
            status === "running" ? `still running after 15 s; killed` : `after ${elapsed} ms`,
          );
          c.check(
            status !== "running" && status !== undefined && status.code !== 0,
            "the exit code is non-zero",
            status === "running" ? "n/a" : `code ${status?.code}`,
          );
          c.check(
            said.length > 0,
            "its output names CAP_NET_ADMIN",
            said.length > 0 ? said[0]! : `last lines: ${log.slice(-4).join(" | ")}`,
          );
          c.done();
        },
      );

      await step(
        "fault 4: a deleted or stray flood entry is repaired within 1 s; unicast entries are untouched",
        async () => {
          await baseline();
          const c = new Checks("fault 4: drift");
          const dev = "vxlan10010";
          const valid = "192.0.2.12";
          const unicast = ["aa:bb:cc:dd:ee:02", "dst", valid, "dev", dev];
          await topo.exec(s1, ["bridge", "fdb", "append", ...unicast, "self", "permanent"]);
          const mon = await FdbMonitor.start(bg, topo, s1, dev);
          try {
            const list = () => topo.floodList(s1, dev);
            const eq = (a: string[], b: string[]) => JSON.stringify(a) === JSON.stringify(b);

            let t0 = performance.now();
            await floodByHand(topo, s1, "del", valid, dev);
            const gone = await list();
            c.note(`right after "bridge fdb del": ${JSON.stringify(gone)}`);
            try {
              const ms = await timeUntil(async () => eq(await list(), [valid]), 3_000, "", t0);
              c.check(
                ms <= ONE_SECOND,
                `a deleted valid flood entry is restored within 1 s`,
                `${ms} ms`,
              );
            } catch {
              const later = await timeUntil(
                async () => eq(await list(), [valid]),
                CONVERGE_MS,
                "",
                t0,
              )
                .catch(() => undefined);
              c.check(
                false,
                "a deleted valid flood entry is restored within 1 s",
                later === undefined
                  ? `not restored after ${CONVERGE_MS} ms; flood list ${
                    JSON.stringify(await list())
                  }`
                  : `restored only after ${later} ms`,
              );
            }

            t0 = performance.now();
            await floodByHand(topo, s1, "append", "192.0.2.99", dev);
            c.note(
              `right after "bridge fdb append ... 192.0.2.99": ${JSON.stringify(await list())}`,
            );
            try {
              const ms = await timeUntil(async () => eq(await list(), [valid]), 3_000, "", t0);
              c.check(ms <= ONE_SECOND, "a stray flood entry is removed within 1 s", `${ms} ms`);
            } catch {
              const later = await timeUntil(
                async () => eq(await list(), [valid]),
                CONVERGE_MS,
                "",
                t0,
              )
                .catch(() => undefined);
              c.check(
                false,
                "a stray flood entry is removed within 1 s",
                later === undefined
                  ? `still there after ${CONVERGE_MS} ms; flood list ${
                    JSON.stringify(await list())
                  }`
                  : `removed only after ${later} ms`,
              );
            }
            // The repair is fast enough to hide the fault from a listing: the kernel's
            // own notifications prove both faults happened and were undone.
            const events = (await mon.floodLines()).filter((l) =>
              / dst 192\.0\.2\.(12|99) /.test(l)
            );
            c.check(
              JSON.stringify(events.map((l) => l.split(" self")[0])) === JSON.stringify([
                `Deleted ${FLOOD} dev ${dev} dst ${valid}`,
                `${FLOOD} dev ${dev} dst ${valid}`,
                `${FLOOD} dev ${dev} dst 192.0.2.99`,
                `Deleted ${FLOOD} dev ${dev} dst 192.0.2.99`,
              ]),
              "the kernel reports: deleted, re-added; stray added, deleted (nothing else)",
              events.join(" | "),
            );
            const uni = (await topo.fdb(s1, dev)).filter((e) => e.mac === unicast[0]);
            c.check(
              JSON.stringify(uni) ===
                JSON.stringify([{
                  mac: unicast[0],
                  dst: valid,
                  flags: ["self"],
                  state: "permanent",
                }]),
              "the unicast entry aa:bb:cc:dd:ee:02 is untouched",
              JSON.stringify(uni),
            );
            await agentsAlive();
            c.done();
          } finally {
            await topo.exec(s1, ["bridge", "fdb", "del", ...unicast, "self"]).catch(() => {});
            await floodByHand(topo, s1, "del", "192.0.2.99", dev)
              .catch(() => {});
            await bg.stopAll();
          }
        },
      );

      await step(
        "fault 4: a flood entry deleted while the notification socket overruns is restored (full resync)",
        async () => {
          await baseline();
          const c = new Checks("fault 4: notification overrun");
          const dev = "vxlan10011";
          const batch = topo.file("burst.batch");
          const macs = Array.from(
            { length: 30_000 },
            (_, i) =>
              `02:00:00:${
                [16, 8, 0].map((b) => ((i >> b) & 0xff).toString(16).padStart(2, "0")).join(":")
              }`,
          );
          const line = (op: string, mac: string) =>
            `fdb ${op} ${mac} dst 192.0.2.200 dev ${dev} self${
              op === "append" ? " permanent" : ""
            }`;
          try {
            // 30,000 unicast entries (the agent's to ignore, but its socket must carry
            // them), with the deletion of a valid flood entry in the middle. The agent is
            // frozen (SIGSTOP) during the burst, so its socket surely overruns and the
            // deletion's notification is lost: only a full resync can repair it.
            const lines = macs.map((m) => line("append", m));
            lines.splice(15_000, 0, `fdb del ${FLOOD} dst 192.0.2.13 dev ${dev}`);
            await Deno.writeTextFile(batch, lines.join("\n") + "\n");
            const mark = await logMark(agentLog(s1));
            const agent = topo.process(s1, "agent");
            assert.ok(agent, "spoke1's agent is running");
            const t0 = performance.now();
            agent.kill("SIGSTOP");
            try {
              await topo.exec(s1, ["bridge", "-batch", batch]);
            } finally {
              agent.kill("SIGCONT");
            }
            const burstMs = Math.round(performance.now() - t0);
            c.note(
              `flood list right after the burst: ${JSON.stringify(await topo.floodList(s1, dev))}`,
            );
            const ok = await c.wait(
              async () => {
                await agentsAlive();
                assert.deepEqual(await topo.floodList(s1, dev), ["192.0.2.13"]);
                return true;
              },
              3_000,
              "the valid entry 192.0.2.13 deleted mid-burst is restored within 3 s of SIGCONT",
            );
            if (!ok) {
              await c.wait(
                async () => {
                  assert.deepEqual(await topo.floodList(s1, dev), ["192.0.2.13"]);
                  return true;
                },
                20_000,
                "... restored at all (within 20 s more)",
              );
            }
            const said = (await logSince(agentLog(s1), mark)).filter((l) =>
              /overrun|lost|resync/i.test(l)
            );
            c.note(`burst of 30,001 changes (agent stopped) took ${burstMs} ms`);
            c.note(`agent: ${said.join(" | ") || "no overrun or resync logged"}`);
            await agentsAlive();
            c.done();
          } finally {
            await Deno.writeTextFile(batch, macs.map((m) => line("del", m)).join("\n") + "\n");
            await topo.exec(s1, ["bridge", "-force", "-batch", batch]).catch(() => {});
            await baseline();
          }
        },
      );

      await step(
        "fault 3: SIGTERM withdraws the membership at the peers within 1 s and leaves user-created devices",
        async () => {
          await baseline();
          const c = new Checks("fault 3: SIGTERM");
          const watch = await RibWatch.start(bg, hub);
          const agent = topo.process(s3, "agent");
          assert.ok(agent, "spoke3's agent is running");
          stopped.add(s3.name);
          try {
            const t0 = performance.now();
            const [result, atHub, atPeer] = await Promise.all([
              agent.stop("SIGTERM", 2_000),
              timeUntil(
                async () => !("192.0.2.13/32" in await topo.rib(hub)),
                5_000,
                "192.0.2.13/32 gone from the hub RIB",
                t0,
              ).catch((e: Error) => e),
              timeUntil(
                async () => (await topo.floodList(s1, "vxlan10011")).length === 0,
                5_000,
                "spoke1's vxlan10011 flood list empty",
                t0,
              ).catch((e: Error) => e),
            ]);
            c.check(
              result.code === 0 && !result.killed,
              "the agent exits 0 without being killed",
              JSON.stringify(result),
            );
            c.check(
              typeof atHub === "number" && atHub <= ONE_SECOND,
              "the hub (a peer) drops 192.0.2.13/32 within 1 s",
              typeof atHub === "number" ? `${atHub} ms` : atHub.message,
            );
            c.check(
              typeof atPeer === "number" && atPeer <= ONE_SECOND,
              "spoke1's agent removes the flood entry for 192.0.2.13 within 1 s",
              typeof atPeer === "number" ? `${atPeer} ms` : atPeer.message,
            );
            c.check(
              await linkExists(topo, s3, "vxlan10011"),
              "the user-created vxlan10011 on spoke3 stays",
            );
            const left = await topo.floodList(s3, "vxlan10011");
            c.check(
              JSON.stringify(left) === JSON.stringify(["192.0.2.11"]),
              "spoke3's programmed flood entries stay after exit",
              JSON.stringify(left),
            );
            const seen = await watch.history("192.0.2.13/32");
            c.check(
              seen.some((h) => h.communities === null),
              "the hub's WatchEvent observer saw the withdraw (so it can see one)",
              JSON.stringify(seen),
            );
            // A clean restart: gobgpd kept running, so the agent's first table is complete,
            // though its own path is absent (withdrawn above). A stray entry added while
            // it was stopped is stale and goes after that table, not after a hold time.
            await floodByHand(topo, s3, "append", "192.0.2.97", "vxlan10011");
            const mark = await logMark(agentLog(s3));
            const t1 = performance.now();
            await topo.startAgent(s3);
            stopped.delete(s3.name);
            const ok = await c.wait(
              () => inState(BASE),
              3_000,
              "after a clean restart: membership back, stray 192.0.2.97 gone within 3 s",
            );
            if (!ok) {
              await c.wait(() => inState(BASE), 30_000, "... gone at all (within 30 s more)");
            }
            c.note(`converged ${Math.round(performance.now() - t1)} ms after the restart command`);
            for (
              const l of (await logSince(agentLog(s3), mark)).filter((l) =>
                /complete table|flood entry/.test(l)
              )
            ) c.note(`agent: ${l}`);
            c.done();
          } finally {
            if (topo.process(s3, "agent") === undefined) await topo.startAgent(s3);
            stopped.delete(s3.name);
            await floodByHand(topo, s3, "del", "192.0.2.97", "vxlan10011")
              .catch(() => {});
            await bg.stopAll();
            await baseline();
          }
        },
      );

      await step(
        "fault 2: a SIGKILLed agent restarts without losing a ping, flapping an entry or withdrawing its path",
        async () => {
          await baseline();
          const c = new Checks("fault 2: agent SIGKILL and restart");
          const monS1 = await FdbMonitor.start(bg, topo, s1, "vxlan10010");
          const monS2 = await FdbMonitor.start(bg, topo, s2, "vxlan10010");
          const watch = await RibWatch.start(bg, hub);
          const ping = await ContinuousPing.start(bg, s1, "198.51.100.2");
          const agent = topo.process(s1, "agent");
          assert.ok(agent, "spoke1's agent is running");
          stopped.add(s1.name);
          const wallT0 = Date.now();
          try {
            await agent.stop("SIGKILL", 3_000);
            await ping.waitForReplies(10).catch(() => {});
            // While it is down: a stray entry appears, and VNI 10011 leaves this node
            // (so the path still in gobgpd, with 10010 and 10011, becomes stale).
            await floodByHand(topo, s1, "append", "192.0.2.98", "vxlan10010");
            await topo.delLink(s1, "vxlan10011");
            const mark = await logMark(agentLog(s1));
            const restarted = performance.now();
            await topo.startAgent(s1);
            stopped.delete(s1.name);
            const want: State = {
              flood: {
                "spoke1/vxlan10010": ["192.0.2.12"],
                "spoke2/vxlan10010": ["192.0.2.11"],
                "spoke3/vxlan10011": [],
              },
              rib: {
                "192.0.2.11/32": ["65000:10010"],
                "192.0.2.12/32": ["65000:10010"],
                "192.0.2.13/32": ["65000:10011"],
              },
            };
            const ok = await c.wait(
              () => inState(want),
              CONVERGE_MS + 5_000,
              "after the restart: stray 192.0.2.98 gone, path replaced with 65000:10010 only, " +
                "spoke3 drops 192.0.2.11",
            );
            if (ok) {
              c.note(
                `converged ${
                  Math.round(performance.now() - restarted)
                } ms after the restart command`,
              );
            }
            await ping.waitForReplies(10).catch(() => {});
            const report = await ping.stop(wallT0);
            c.check(
              report.lost.length === 0,
              "no ping packet lost across the restart (spoke1 → 198.51.100.2)",
              pingSummary(report),
            );
            const flapS1 = await monS1.deletions("vxlan10010", "192.0.2.12");
            c.check(
              flapS1.length === 0,
              "spoke1 never deletes its valid entry 192.0.2.12",
              flapS1.join(" | "),
            );
            const flapS2 = await monS2.deletions("vxlan10010", "192.0.2.11");
            c.check(
              flapS2.length === 0,
              "spoke2 never deletes its entry for the restarting node (192.0.2.11)",
              flapS2.join(" | "),
            );
            c.note(
              `spoke1 flood-entry events: ${(await monS1.floodLines()).join(" | ") || "none"}`,
            );
            const history = (await watch.history("192.0.2.11/32")).filter((h) => h.t >= wallT0);
            const shown = history.map((h) =>
              `+${h.t - wallT0}ms ${h.communities === null ? "WITHDRAW" : h.communities.join(",")}`
            ).join(" → ");
            c.check(
              history.every((h) => h.communities !== null),
              "the hub never sees 192.0.2.11/32 withdrawn",
              shown || "no event",
            );
            const lines = await logSince(agentLog(s1), mark);
            const firstDel = lines.find((l) => /Removed flood entry/.test(l));
            const snapshot = lines.find((l) => /complete table|initial table/i.test(l));
            c.note(`agent: ${snapshot ?? "no initial-table line"}`);
            c.note(`agent: first removal: ${firstDel ?? "none"}`);
            await agentsAlive();
            c.done();
          } finally {
            stopped.delete(s1.name);
            if (topo.process(s1, "agent") === undefined) await topo.startAgent(s1);
            if (!await linkExists(topo, s1, "vxlan10011")) await createDevice(topo, plan(1, 10011));
            await floodByHand(topo, s1, "del", "192.0.2.98", "vxlan10010")
              .catch(() => {});
            await bg.stopAll();
            await baseline();
          }
        },
      );

      await step(
        "fault 1: a gobgpd SIGKILL and restart keeps the data plane, re-adds the membership and sweeps vanished routes only",
        async () => {
          await baseline();
          const c = new Checks("fault 1: gobgpd SIGKILL and restart");
          // Spoke3 loses spoke1's route while spoke1's BGP session is down (no graceful
          // restart in the lab), so its agent removes its flood entry for 192.0.2.11:
          // that is BGP doing its job. To measure what spoke1's agent controls, the
          // return path spoke3 → spoke1 is pinned by hand (unicast entry + neighbour).
          const unpin = await pinReturnPath(topo, s3, s1, {
            dev: "vxlan10011",
            toVtep: "192.0.2.11",
            toOverlay: "198.18.11.1",
          });
          const mon = await FdbMonitor.start(bg, topo, s1, "vxlan10011");
          const ping = await ContinuousPing.start(bg, s1, "198.18.11.3");
          const gobgpd = topo.process(s1, "gobgpd");
          assert.ok(gobgpd, "spoke1's gobgpd is running");
          const mark = await logMark(agentLog(s1));
          const wallT0 = Date.now();
          try {
            await gobgpd.stop("SIGKILL", 3_000);
            // The agent notices and schedules its first retry.
            let notice: string | undefined;
            await waitFor(
              async () => {
                notice = (await logSince(agentLog(s1), mark)).find((l) =>
                  /retry|retrying/i.test(l) && /gobgp|watch|stream/i.test(l)
                );
                return notice !== undefined;
              },
              5_000,
              "the agent's log line about the lost stream",
              { intervalMs: 20 },
            ).catch(() => {});
            const retryMs = Number(/retrying in (\d+) ?ms/i.exec(notice ?? "")?.[1] ?? NaN);
            const noticedAt = notice === undefined ? undefined : lineTime(notice);
            c.check(
              noticedAt !== undefined && noticedAt - wallT0 < ONE_SECOND,
              "the agent notices the loss at once (< 1 s)",
              notice === undefined
                ? "no log line about the lost stream within 5 s"
                : `+${noticedAt! - wallT0} ms: ${notice}`,
            );
            c.check(retryMs < 250, "its first retry comes in < 250 ms", `${retryMs} ms`);
            // Stay down through a few retries (backoff at work), with traffic flowing.
            const retries = async () =>
              (await logSince(agentLog(s1), mark)).filter((l) =>
                /retrying in/i.test(l) && /watch|stream/i.test(l)
              );
            await waitFor(async () => (await retries()).length >= 4, 15_000, "4 retries", {
              intervalMs: 50,
            }).catch(() => {});
            c.note(
              `retries while down: ${
                (await retries()).map((l) => /retrying in (\d+ ?ms)/i.exec(l)?.[1]).join(", ")
              }`,
            );

            // While gobgpd is down: the hub drops spoke1, then spoke2's VNI 10010 goes away.
            await c.wait(
              async () => !("192.0.2.11/32" in await topo.rib(hub)),
              CONVERGE_MS,
              "the hub drops 192.0.2.11/32 (session down)",
            );
            await c.wait(
              async () => (await topo.floodList(s3, "vxlan10011")).length === 0,
              CONVERGE_MS,
              "spoke3's agent drops 192.0.2.11 (expected: its route is gone)",
            );
            await topo.delLink(s2, "vxlan10010");
            await c.wait(
              async () => !("192.0.2.12/32" in await topo.rib(hub)),
              CONVERGE_MS,
              "the hub drops 192.0.2.12/32 (spoke2's vxlan10010 deleted during the outage)",
            );
            const during = {
              "vxlan10010": await topo.floodList(s1, "vxlan10010"),
              "vxlan10011": await topo.floodList(s1, "vxlan10011"),
            };
            c.check(
              JSON.stringify(during) ===
                JSON.stringify({ vxlan10010: ["192.0.2.12"], vxlan10011: ["192.0.2.13"] }),
              "spoke1's flood entries stay while its gobgpd is down",
              `${JSON.stringify(during)} at +${Date.now() - wallT0} ms`,
            );
            c.check(topo.process(s1, "agent") !== undefined, "spoke1's agent stays up");

            const gobgpdT0 = performance.now();
            const gobgpdWall = Date.now();
            await topo.startGobgpd(s1);
            const apiUp = performance.now();
            await topo.waitForSessions(SESSION_MS);
            const sessionUp = performance.now();
            const want: State = {
              flood: {
                "spoke1/vxlan10010": [],
                "spoke1/vxlan10011": ["192.0.2.13"],
                "spoke3/vxlan10011": ["192.0.2.11"],
              },
              rib: {
                "192.0.2.11/32": ["65000:10010", "65000:10011"],
                "192.0.2.13/32": ["65000:10011"],
              },
            };
            const ok = await c.wait(
              () => inState(want),
              3_000,
              "within 3 s of the session coming back: membership at the hub, spoke1's entry " +
                "for vanished 192.0.2.12 removed, 192.0.2.13 kept",
            );
            if (!ok) {
              // Measure when it does converge (a hold timer, if any, shows up here).
              await c.wait(
                () => inState(want),
                30_000,
                "... converged at all (within 30 s more)",
              );
            }
            c.note(
              `gobgpd API up ${Math.round(apiUp - gobgpdT0)} ms after start; session up ` +
                `${Math.round(sessionUp - apiUp)} ms later; state checked ${
                  Math.round(performance.now() - sessionUp)
                } ms after the session`,
            );
            await ping.waitForReplies(10).catch(() => {});
            const report = await ping.stop(wallT0);
            c.check(
              report.lost.length === 0,
              "the data plane keeps forwarding: no ping lost spoke1 → 198.18.11.3 " +
                `(gobgpd killed at t+0, restarted at t+${
                  ((gobgpdWall - wallT0) / 1000).toFixed(2)
                }s)`,
              pingSummary(report),
            );
            const flap = await mon.deletions("vxlan10011", "192.0.2.13");
            c.check(
              flap.length === 0,
              "the valid entry 192.0.2.13 is never deleted",
              flap.join(" | "),
            );
            const lines = await logSince(agentLog(s1), mark);
            const rel = (l: string) => {
              const at = lineTime(l);
              return at === undefined ? "?" : `t+${((at - wallT0) / 1000).toFixed(2)}s`;
            };
            for (
              const l of lines.filter((l) =>
                /flood entry|complete table|initial table|membership route|Advertised/i.test(l)
              )
            ) c.note(`agent ${rel(l)}: ${l.replace(/^\S+ /, "")}`);
            c.note(`restart at t+${((gobgpdWall - wallT0) / 1000).toFixed(2)}s`);
            await agentsAlive();
            c.done();
          } finally {
            await unpin();
            if (topo.process(s1, "gobgpd") === undefined) await topo.startGobgpd(s1);
            if (!await linkExists(topo, s2, "vxlan10010")) await createDevice(topo, plan(2, 10010));
            await topo.exec(s1, argv`ip neigh flush dev vxlan10010`).catch(() => {});
            await bg.stopAll();
            await topo.waitForSessions(SESSION_MS);
            await baseline();
          }
        },
      );

      await step(
        "gobgpd and agent restarted together (a pod restart) keep every valid entry and the data plane",
        async () => {
          // Not in the issue's list. The agent starts against a gobgpd that has no
          // sessions yet: its first table is complete for gobgpd but not for the network.
          await baseline();
          const c = new Checks("extra: gobgpd and agent restarted together");
          const unpin = await pinReturnPath(topo, s3, s1, {
            dev: "vxlan10011",
            toVtep: "192.0.2.11",
            toOverlay: "198.18.11.1",
          });
          try {
            // Containers of a pod start in any order: gobgpd first, then the agent first.
            for (const order of ["gobgpd first", "agent first"] as const) {
              const mon = await FdbMonitor.start(bg, topo, s1, "vxlan10011");
              const ping = await ContinuousPing.start(bg, s1, "198.18.11.3");
              const mark = await logMark(agentLog(s1));
              const wallT0 = Date.now();
              stopped.add(s1.name);
              await Promise.all([
                topo.process(s1, "agent")?.stop("SIGKILL", 3_000),
                topo.process(s1, "gobgpd")?.stop("SIGKILL", 3_000),
              ]);
              if (order === "gobgpd first") {
                await topo.startGobgpd(s1);
                await topo.startAgent(s1);
              } else {
                const fresh = await logMark(agentLog(s1));
                await topo.startAgent(s1);
                // Let the agent fail to connect for a while (a few retries).
                await waitFor(
                  async () =>
                    (await logSince(agentLog(s1), fresh)).filter((l) =>
                      /WatchEvent.*retrying in/.test(l)
                    ).length >= 3,
                  15_000,
                  "the agent's first failed attempts",
                  { intervalMs: 50 },
                ).catch(() => {});
                await topo.startGobgpd(s1);
              }
              stopped.delete(s1.name);
              await topo.waitForSessions(SESSION_MS);
              const sessionUp = performance.now();
              await c.wait(
                () => inState(BASE),
                CONVERGE_MS + 5_000,
                `${order}: the lab converges once the session is back`,
              );
              c.note(
                `${order}: converged ${
                  Math.round(performance.now() - sessionUp)
                } ms after the session`,
              );
              await ping.waitForReplies(10).catch(() => {});
              const report = await ping.stop(wallT0);
              c.check(
                report.lost.length === 0,
                `${order}: no ping lost spoke1 → 198.18.11.3 across the double restart`,
                pingSummary(report),
              );
              const flap = [
                ...await mon.deletions("vxlan10011", "192.0.2.13"),
                ...await mon.deletions("vxlan10010", "192.0.2.12"),
              ];
              c.check(
                flap.length === 0,
                `${order}: spoke1 never deletes its valid entries (192.0.2.12, 192.0.2.13)`,
                flap.join(" | "),
              );
              for (
                const l of (await logSince(agentLog(s1), mark)).filter((l) =>
                  /flood entry|complete table|Advertised/.test(l)
                )
              ) {
                const at = lineTime(l);
                c.note(
                  `${order}: agent t+${
                    at === undefined ? "?" : ((at - wallT0) / 1000).toFixed(2)
                  }s: ${l.replace(/^\S+ /, "")}`,
                );
              }
              await mon.stop();
              await agentsAlive();
              await baseline();
            }
            c.done();
          } finally {
            stopped.delete(s1.name);
            await unpin();
            if (topo.process(s1, "gobgpd") === undefined) await topo.startGobgpd(s1);
            if (topo.process(s1, "agent") === undefined) await topo.startAgent(s1);
            await bg.stopAll();
            await topo.waitForSessions(SESSION_MS);
            await baseline();
          }
        },
      );

      await step(
        "fault 7: thousands of unknown-VNI paths, 60 communities, duplicates and 1000 flaps leave the agent up, small and exact",
        async () => {
          await baseline();
          const c = new Checks("fault 7: hostile routes");
          const agents = spokes.map((n) => topo.process(n, "agent")!);
          const before = await Promise.all(agents.map((a) => rssKiB(a.pid)));
          const mon = await FdbMonitor.start(bg, topo, s1, "vxlan10011");
          const inject = (n: LabNode, ...args: string[]) => gobgpInject(bg, n, args);
          const many = Array.from({ length: 59 }, (_, i) => `65000:${30000 + i}`);
          try {
            c.note(await inject(s3, "bulk-add", "2000", "198.18.100.0", "65000", "20000"));
            c.note(await inject(s3, "add", "192.0.2.50", ["65000:10010", ...many].join(",")));
            c.note(await inject(s2, "add", "192.0.2.51", "65000:10011"));
            c.note(await inject(s3, "add", "192.0.2.51", "65000:10011"));
            const flapStart = Date.now();
            c.note(await inject(s3, "flap", "192.0.2.52", "65000:10010", "1000"));
            c.note(await inject(s3, "add", "192.0.2.52", "65000:10010"));
            c.note(`the 1000 flaps took ${Date.now() - flapStart} ms (incl. process start)`);
            const hubRib = await topo.rib(hub);
            c.check(
              Object.keys(hubRib).length === 3 + 3 + 2000,
              "the hub holds 2006 prefixes",
              `${Object.keys(hubRib).length}`,
            );
            c.check(
              hubRib["192.0.2.50/32"]?.length === 60,
              "192.0.2.50/32 carries 60 communities at the hub",
              `${hubRib["192.0.2.50/32"]?.length}`,
            );
            const want: State = {
              flood: {
                "spoke1/vxlan10010": ["192.0.2.12", "192.0.2.50", "192.0.2.52"],
                "spoke1/vxlan10011": ["192.0.2.13", "192.0.2.51"],
                "spoke2/vxlan10010": ["192.0.2.11", "192.0.2.50", "192.0.2.52"],
                "spoke3/vxlan10011": ["192.0.2.11", "192.0.2.51"],
              },
              rib: { ...EXPECTED_RIB },
              ribSubset: true,
            };
            await c.wait(
              () => inState(want),
              CONVERGE_MS * 2,
              "flood lists exact: 60-community path kept for VNI 10010, duplicate 192.0.2.51 " +
                "once, flapped 192.0.2.52 present, no unknown-VNI VTEP",
            );
            const after = await Promise.all(agents.map((a) => rssKiB(a.pid)));
            c.check(
              after.every((kib) => kib < RSS_LIMIT_KIB),
              "every agent's RSS stays < 150 MB",
              spokes.map((n, i) =>
                `${n.name} ${Math.round(before[i]! / 1024)}→${Math.round(after[i]! / 1024)} MB`
              ).join(", "),
            );

            // Duplicate: one copy withdrawn, the other keeps the VTEP without a flap.
            c.note(await inject(s2, "del", "192.0.2.51"));
            await c.wait(
              async () => {
                const out = await topo.exec(hub, argv`gobgp -j global rib -a ipv4 192.0.2.51/32`);
                const paths = Object.values(JSON.parse(out) as Record<string, unknown[]>)[0];
                assert.equal(paths?.length, 1, "paths for 192.0.2.51/32 at the hub");
                return true;
              },
              CONVERGE_MS,
              "the hub holds one copy of 192.0.2.51/32 after spoke2 withdrew its own",
            );
            await c.wait(
              () => inState(want),
              CONVERGE_MS,
              "192.0.2.51 stays in spoke1's vxlan10011 while spoke3 still announces it",
            );
            c.note(await inject(s3, "del", "192.0.2.51"));
            c.note(await inject(s3, "del", "192.0.2.52"));
            const want2: State = {
              ...want,
              flood: {
                "spoke1/vxlan10010": ["192.0.2.12", "192.0.2.50"],
                "spoke1/vxlan10011": ["192.0.2.13"],
                "spoke2/vxlan10010": ["192.0.2.11", "192.0.2.50"],
                "spoke3/vxlan10011": ["192.0.2.11"],
              },
            };
            await c.wait(
              () => inState(want2),
              CONVERGE_MS,
              "192.0.2.51 and 192.0.2.52 go once both copies are withdrawn",
            );
            const dels51 = await mon.deletions("vxlan10011", "192.0.2.51");
            c.check(
              dels51.length === 1,
              "192.0.2.51 was deleted exactly once (at the final withdraw), never flapped",
              `${dels51.length} deletions`,
            );
            c.note(await inject(s3, "bulk-del", "2000", "198.18.100.0"));
            c.note(await inject(s3, "del", "192.0.2.50"));
            await c.wait(() => inState(BASE), CONVERGE_MS * 2, "back to the baseline, exactly");
            const end = await Promise.all(agents.map((a) => rssKiB(a.pid).catch(() => NaN)));
            c.note(
              `RSS after clean-up: ${end.map((k) => `${Math.round(k / 1024)} MB`).join(", ")}`,
            );
            await agentsAlive();
            c.done();
          } finally {
            await bg.stopAll();
          }
        },
      );

      await step(
        "fault 5: 30 fast delete/create cycles and devices re-created with another VNI or local address converge",
        async () => {
          await baseline();
          const c = new Checks("fault 5: device churn");
          const spec = (vni: number, local: string) =>
            `vxlan10010 type vxlan id ${vni} local ${local} dev eth0 dstport 4789 nolearning`;
          const batch = topo.file("churn.batch");
          try {
            const lines: string[] = [];
            for (let i = 0; i < 30; i++) {
              lines.push(
                "link del vxlan10010",
                `link add ${spec(10010, s2.address)}`,
                "link set vxlan10010 up",
              );
            }
            lines.push(
              "addr add 198.51.100.2/24 dev vxlan10010",
              "addr add 198.18.11.2/24 dev vxlan10010",
            );
            await Deno.writeTextFile(batch, lines.join("\n") + "\n");
            const t0 = performance.now();
            await topo.exec(s2, ["ip", "-batch", batch]);
            c.note(`30 cycles took ${Math.round(performance.now() - t0)} ms`);
            await c.wait(
              () => inState(BASE),
              CONVERGE_MS,
              "after 30 cycles: hub RIB and every flood list (new device included) exact",
            );
            await topo.exec(s1, argv`ip neigh flush dev vxlan10010`);
            await c.wait(
              () => topo.ping(s1, "198.51.100.2", { deadline: 2 }),
              CONVERGE_MS,
              "spoke1 reaches 198.51.100.2 on the last device",
            );

            // Re-created with another VNI: in discovery mode vxlan10010 now serves VNI 10012.
            await topo.addVxlan(s3, 10012);
            await topo.delLink(s2, "vxlan10010");
            await topo.exec(s2, ["ip", "link", "add", ...spec(10012, s2.address).split(" ")]);
            await topo.exec(s2, argv`ip link set vxlan10010 up`);
            await c.wait(
              () =>
                inState({
                  flood: {
                    "spoke1/vxlan10010": [],
                    "spoke2/vxlan10010": ["192.0.2.13"],
                    "spoke3/vxlan10012": ["192.0.2.12"],
                    "spoke3/vxlan10011": ["192.0.2.11"],
                  },
                  rib: {
                    "192.0.2.11/32": ["65000:10010", "65000:10011"],
                    "192.0.2.12/32": ["65000:10012"],
                    "192.0.2.13/32": ["65000:10011", "65000:10012"],
                  },
                }),
              CONVERGE_MS,
              "vxlan10010 re-created with id 10012 is VNI 10012: membership 65000:10012, " +
                "floods to spoke3, spoke1 drops it from VNI 10010",
            );

            // Re-created with another local address.
            const mark = await logMark(agentLog(s2));
            await topo.delLink(s2, "vxlan10010");
            await topo.exec(s2, ["ip", "link", "add", ...spec(10010, "192.0.2.112").split(" ")]);
            await topo.exec(s2, argv`ip link set vxlan10010 up`);
            await c.wait(
              () =>
                inState({
                  flood: {
                    "spoke1/vxlan10010": ["192.0.2.12"],
                    "spoke2/vxlan10010": ["192.0.2.11"],
                    "spoke3/vxlan10012": [],
                  },
                  rib: {
                    "192.0.2.11/32": ["65000:10010", "65000:10011"],
                    "192.0.2.12/32": ["65000:10010"],
                    "192.0.2.13/32": ["65000:10011", "65000:10012"],
                  },
                }),
              CONVERGE_MS,
              "vxlan10010 re-created with local 192.0.2.112 is managed as a new device " +
                "(VNI 10010 back, flood list programmed on it)",
            );
            const said = (await logSince(agentLog(s2), mark)).filter((l) =>
              /192\.0\.2\.112|local/i.test(l)
            );
            c.note(`agent on the local-address change: ${said.join(" | ") || "nothing logged"}`);
            // Observation only: does overlay traffic work with the device's local address
            // (192.0.2.112, not on eth0) differing from the advertised VTEP 192.0.2.12?
            await topo.addAddress(s2, "vxlan10010", "198.51.100.2/24");
            await topo.exec(s1, argv`ip neigh flush dev vxlan10010`);
            c.note(
              `ping spoke1 → 198.51.100.2 with spoke2's device on local 192.0.2.112: ${
                await topo.ping(s1, "198.51.100.2", { count: 3, deadline: 3 }) ? "works" : "fails"
              }`,
            );
            await agentsAlive();
            c.done();
          } finally {
            await topo.delLink(s3, "vxlan10012").catch(() => {});
            await topo.delLink(s2, "vxlan10010").catch(() => {});
            await createDevice(topo, plan(2, 10010));
            await topo.exec(s1, argv`ip neigh flush dev vxlan10010`).catch(() => {});
            await baseline();
          }
        },
      );
    } catch (err) {
      if (failed.length === 0) failed.push((err as Error).message);
      throw err;
    } finally {
      await bg.stopAll();
      if (failed.length > 0) {
        await printFailureLogs(topo, failed, { lines: 30, only: (n) => n.endsWith("/agent") });
      }
      await topo.destroy({ keepWorkDir: Deno.env.get("EVPN_E2E_KEEP_LOGS") === "1" });
    }
  },
});
