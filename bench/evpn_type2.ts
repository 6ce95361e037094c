/**
 * EVPN Type 2 steady-state latency (issue 11): the agent in `mode: evpn`
 * with one vxlan device; one remote Type 2 (MAC-only) route is added and
 * then withdrawn, N times, over one open `AddPathStream`, as
 * `scenarios/latency.ts` does for community routes.
 *
 *     deno task bench:evpn-type2 [--samples N]
 *
 * Per sample, three times from this process's clock: the write (just
 * before the request goes to grpc-js), a bare `WatchEvent` client seeing
 * the route (gobgpd's own delay), and the RTNLGRP_NEIGH notification of the
 * unicast FDB entry `MAC dst VTEP` (add) or its removal (withdraw). The
 * agent's own share is kernel − watcher. Prints a Markdown table; exit 1
 * when a sample timed out or the final kernel state is not empty.
 *
 * Not part of `bench/main.ts`'s table and JSON (yet): run on its own.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { decodeEvpnPath, encodeMacIpPath } from "../src/bgp/evpn_codec.ts";
import type { PathMessage } from "../src/bgp/path_codec.ts";
import type { IpAddress } from "../src/net/ip.ts";
import { NetlinkEvents } from "../src/netlink/mod.ts";
import { delay } from "../scripts/lab/wait.ts";
import { BenchLab } from "./lab.ts";
import { COMMUNITY_ASN } from "./routes.ts";
import { fmtMs, prng, summarize } from "./stats.ts";
import { Waiters } from "./waiters.ts";

const VNI = 10010;
const REMOTE = "192.0.2.50" as IpAddress;
const STEP_TIMEOUT_MS = 5_000;

function mac(i: number): string {
  return `02:be:00:${((i >> 16) & 0xff).toString(16).padStart(2, "0")}:${
    ((i >> 8) & 0xff).toString(16).padStart(2, "0")
  }:${(i & 0xff).toString(16).padStart(2, "0")}`;
}

function type2(i: number, withdraw: boolean): PathMessage {
  const path = encodeMacIpPath({
    rd: { kind: "ipv4", admin: REMOTE, assigned: 1 },
    vtep: REMOTE,
    vni: VNI,
    mac: mac(i),
    ip: undefined,
    routeTargets: [{ kind: "as2", asn: COMMUNITY_ASN, value: VNI }],
  });
  return { ...path, isWithdraw: withdraw };
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { samples: { type: "string" } } });
  const samples = Number(values.samples ?? 200);
  const t0 = performance.now();
  const log = (m: string) =>
    console.error(`[type2 ${((performance.now() - t0) / 1000).toFixed(1)}s] ${m}`);
  const lab = await BenchLab.create({ log });
  const kernelWait = new Waiters();
  const watchWait = new Waiters();
  const kernel = new Map<string, string>(); // MAC → dst, unicast entries on the device
  const rib = new Set<string>(); // MACs with a Type 2 best path
  let events: NetlinkEvents | undefined;
  let stream: { cancel(): void } | undefined;
  try {
    const ifindexes = await lab.createDevices([VNI]);
    const ifindex = ifindexes.get(`vxlan${VNI}`)!;
    events = new NetlinkEvents({
      onLink: () => {},
      onNeigh: (ev) => {
        if (ev.ifindex !== ifindex || ev.dst === undefined || ev.mac === "00:00:00:00:00:00") {
          return;
        }
        const at = performance.now();
        if (ev.type === "new") kernel.set(ev.mac, ev.dst);
        else if (kernel.get(ev.mac) === ev.dst) kernel.delete(ev.mac);
        kernelWait.check(at);
      },
      onOverrun: () => log("kernel notifications overran: figures around it are late"),
    });
    events.start();
    stream = lab.client.watchBest({
      onTable: (paths) => {
        const at = performance.now();
        for (const path of paths) {
          const d = decodeEvpnPath(path);
          if (!d.ok || d.evpn.type !== 2) continue;
          if (d.evpn.withdraw) rib.delete(d.evpn.mac);
          else rib.add(d.evpn.mac);
        }
        watchWait.check(at);
      },
      onEnd: () => {},
    });
    const agent = await lab.startAgent(lab.home, { mode: "evpn" });
    // The agent is ready once its own Type 2 (the device's MAC) is in gobgpd.
    await delay(2_000);
    if (!agent.running()) throw new Error("the agent exited");
    const random = prng(11);
    const raw = {
      add: { e2e: [] as number[], gobgpd: [] as number[], agent: [] as number[], timeouts: 0 },
      withdraw: { e2e: [] as number[], gobgpd: [] as number[], agent: [] as number[], timeouts: 0 },
    };
    const writer = lab.pathStream();
    log(`${samples} add/withdraw samples`);
    for (let i = 0; i < samples; i++) {
      const m = mac(i);
      for (const [present, side] of [[true, raw.add], [false, raw.withdraw]] as const) {
        const seen = watchWait.until(() => rib.has(m) === present, STEP_TIMEOUT_MS);
        const written = kernelWait.until(
          () => (kernel.get(m) === REMOTE) === present,
          STEP_TIMEOUT_MS,
        );
        const start = performance.now();
        writer.write([type2(i, !present)]);
        const [tw, tk] = await Promise.all([seen, written]);
        if (tw === undefined || tk === undefined) side.timeouts++;
        else {
          side.e2e.push(tk - start);
          side.gobgpd.push(tw - start);
          side.agent.push(tk - tw);
        }
        await delay(5 + Math.floor(random() * 15));
      }
    }
    await writer.end().catch(() => {});
    await agent.stop();
    const leftover = kernel.size;
    const row = (name: string, s: typeof raw.add) => {
      const e = summarize(s.e2e), g = summarize(s.gobgpd), a = summarize(s.agent);
      return `| ${name} | ${fmtMs(e.p50)} / ${fmtMs(e.p99)} | ${fmtMs(g.p50)} / ${fmtMs(g.p99)} | ${
        fmtMs(a.p50)
      } / ${fmtMs(a.p99)} | ${s.timeouts} |`;
    };
    console.log(
      [
        `EVPN Type 2 → unicast FDB entry, ${samples} samples (p50 / p99)`,
        "",
        "| | write → kernel | write → bare watcher (gobgpd) | agent's share | timeouts |",
        "| --- | --- | --- | --- | --- |",
        row("add", raw.add),
        row("withdraw", raw.withdraw),
        "",
        `unicast entries left on the device after every withdrawal: ${leftover}`,
      ].join("\n"),
    );
    return raw.add.timeouts + raw.withdraw.timeouts === 0 && leftover === 0 ? 0 : 1;
  } finally {
    stream?.cancel();
    events?.close();
    await lab.destroy();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
