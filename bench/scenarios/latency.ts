/**
 * Scenario 2, steady-state latency: with K×M entries programmed, one route
 * (a probe VTEP with one VNI's community, the VNI taking turns) is added and
 * then withdrawn, N times, over one open `AddPathStream`.
 *
 * Per sample, three times from the same clock (this process):
 * - write: just before the request is handed to grpc-js;
 * - watcher: a bare `WatchEvent` client sees the change (gobgpd's own delay);
 * - kernel: the RTNLGRP_NEIGH notification for that entry arrives.
 *
 * The agent's own share is kernel − watcher. Both receivers are this
 * process's event loop, so either may be delayed by the other's handler
 * (tens of microseconds).
 *
 * @module
 */
import { delay } from "../../scripts/lab/wait.ts";
import { deviceName, probeVtep, vniCommunity, vtepPath, withdrawPath } from "../routes.ts";
import { prng, round, roundSummary, summarize, type Summary } from "../stats.ts";
import { checkFlood, type StateCheck } from "../verify.ts";
import type { SteadyContext } from "./cold_start.ts";

/** One direction's figures, ms. */
export interface LatencySide {
  /** Write → kernel notification. */
  endToEnd: Summary;
  /** Write → bare watcher (gobgpd's own delay). */
  gobgpd: Summary;
  /** Kernel notification − bare watcher arrival: the agent's own share. */
  agent: Summary;
  /** Samples where either arrival did not come within the budget. */
  timeouts: number;
  /** Raw agent shares, ms, in sample order. */
  rawAgent: number[];
  /** Raw gobgpd delays, ms, in sample order. */
  rawGobgpd: number[];
}

export interface LatencyResult {
  samples: number;
  add: LatencySide;
  withdraw: LatencySide;
  check: StateCheck;
}

/** Budget for one arrival, ms. */
const STEP_TIMEOUT_MS = 5_000;

interface Raw {
  e2e: number[];
  gobgpd: number[];
  agent: number[];
  timeouts: number;
}

function side(raw: Raw): LatencySide {
  return {
    endToEnd: roundSummary(summarize(raw.e2e)),
    gobgpd: roundSummary(summarize(raw.gobgpd)),
    agent: roundSummary(summarize(raw.agent)),
    timeouts: raw.timeouts,
    rawAgent: raw.agent.map((v) => round(v, 3)),
    rawGobgpd: raw.gobgpd.map((v) => round(v, 3)),
  };
}

export async function latency(ctx: SteadyContext, samples: number): Promise<LatencyResult> {
  const { lab, watch } = ctx;
  const { mirror } = lab;
  const random = prng(7);
  const add: Raw = { e2e: [], gobgpd: [], agent: [], timeouts: 0 };
  const del: Raw = { e2e: [], gobgpd: [], agent: [], timeouts: 0 };
  lab.log(`latency: ${samples} add/withdraw samples`);
  const stream = lab.pathStream();
  try {
    for (let i = 0; i < samples; i++) {
      const vni = ctx.vnis[i % ctx.vnis.length]!;
      const ifindex = ctx.ifindexes.get(deviceName(vni))!;
      const vtep = probeVtep(i);
      const community = vniCommunity(vni);
      for (
        const [present, raw, path] of [
          [true, add, vtepPath(vtep, [vni])],
          [false, del, withdrawPath(vtep)],
        ] as const
      ) {
        const seen = watch.carries(vtep, community, present, STEP_TIMEOUT_MS);
        const kernel = mirror.entry(ifindex, vtep, present, STEP_TIMEOUT_MS);
        const t0 = performance.now();
        stream.write([path]);
        const [tw, tk] = await Promise.all([seen, kernel]);
        if (tw === undefined || tk === undefined) {
          raw.timeouts++;
        } else {
          raw.e2e.push(tk - t0);
          raw.gobgpd.push(tw - t0);
          raw.agent.push(tk - tw);
        }
        // Independent samples: let the agent and gobgpd settle, with jitter.
        await delay(5 + Math.floor(random() * 15));
      }
    }
  } finally {
    await stream.end().catch(() => {});
  }
  await mirror.quiet(200, 5_000);
  return {
    samples,
    add: side(add),
    withdraw: side(del),
    check: checkFlood(mirror.dump(), ctx.expected, ctx.ifindexes),
  };
}
