/**
 * The sizes of a benchmark run: the full sizes, and a quick run for
 * CI (well under two minutes).
 *
 * @module
 */
import type { ColdStartSize } from "./scenarios/cold_start.ts";
import type { HttpLoadPlan } from "./scenarios/http_load.ts";

export interface Plan {
  mode: "quick" | "full";
  /** Create/delete samples of the join scenario. */
  joinSamples: number;
  /** Cold-start sizes; the first one also hosts latency, churn and idle. */
  coldStarts: ColdStartSize[];
  /** Budget for one cold start of the agent, ms (beyond it the state is checked as is). */
  coldStartTimeoutMs: number;
  latencySamples: number;
  churn: { events: number; durationMs: number; pool: number };
  idleSeconds: number;
  /** Quiet time before the settled RSS sample of a cold start. */
  settleSeconds: number;
  /**
   * Quiet time between the churn and the idle window: V8 shrinks its heap
   * some 10–20 s after a burst (measured apart, as "after the burst").
   */
  idleSettleSeconds: number;
  /** Quiet time before the idle-footprint samples (scenario `footprint`), s. */
  footprintSettleSeconds: number;
  /** The endpoint under load: idle connections, concurrent scrapes, quiet time after. */
  http: HttpLoadPlan;
}

export const FULL: Plan = {
  mode: "full",
  joinSamples: 20,
  coldStarts: [
    { vnis: 20, vteps: 1_000 },
    { vnis: 100, vteps: 1_000 },
    { vnis: 10, vteps: 10_000 },
  ],
  coldStartTimeoutMs: 300_000,
  latencySamples: 200,
  churn: { events: 10_000, durationMs: 5_000, pool: 1_000 },
  idleSeconds: 60,
  settleSeconds: 10,
  idleSettleSeconds: 30,
  footprintSettleSeconds: 20,
  http: { idle: 500, scrapes: 1_000, afterSeconds: 30 },
};

export const QUICK: Plan = {
  mode: "quick",
  joinSamples: 5,
  coldStarts: [{ vnis: 5, vteps: 200 }],
  coldStartTimeoutMs: 60_000,
  latencySamples: 50,
  churn: { events: 1_000, durationMs: 2_000, pool: 200 },
  idleSeconds: 10,
  settleSeconds: 5,
  idleSettleSeconds: 5,
  footprintSettleSeconds: 5,
  http: { idle: 500, scrapes: 1_000, afterSeconds: 6 },
};
