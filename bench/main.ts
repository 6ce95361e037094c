/**
 * evpn-agent benchmark (issue 7): the agent against the kernel's own floor,
 * with a real gobgpd, in network namespaces of its own.
 *
 *     deno run -A bench/main.ts [--quick] [--json FILE] [--cpu-prof DIR]
 *
 * Scenarios (see `bench/scenarios/`): join latency between two nodes (community and EVPN); cold
 * start against `bridge -batch` at each size; steady-state add/withdraw
 * latency beside a bare WatchEvent client; churn; idle footprint; the HTTP
 * endpoint under idle connections and concurrent scrapes. Prints one
 * Markdown table and writes the results as JSON (full run:
 * `bench/results/<date>.json`; `--quick`: `bench/results/quick-latest.json`).
 *
 * Exit status: 0 when every kernel state checked was exact (timings never
 * fail the run), 1 when the agent left a wrong kernel state or its endpoint
 * stopped answering or grew without bound under load, 2 when the
 * benchmark could not run (not root, bad arguments, lab set-up failed).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { AGENT_V8_FLAGS, REPO_DIR } from "../scripts/lab/topology.ts";
import { BenchLab } from "./lab.ts";
import { LoadMeter } from "./machine_load.ts";
import { FULL, type Plan, QUICK } from "./plan.ts";
import { type BenchResults, checkTargets, describeMachine, renderTable } from "./report.ts";
import { writeCharts } from "./charts.ts";
import type { ColdStartSize } from "./scenarios/cold_start.ts";
import { vniList } from "./routes.ts";
import { churn } from "./scenarios/churn.ts";
import { idleFootprint } from "./scenarios/footprint.ts";
import { coldStart } from "./scenarios/cold_start.ts";
import { httpLoad } from "./scenarios/http_load.ts";
import { idle } from "./scenarios/idle.ts";
import { join } from "./scenarios/join.ts";
import { evpnJoin } from "./scenarios/evpn_join.ts";
import { latency } from "./scenarios/latency.ts";
import { round } from "./stats.ts";
import type { StateCheck } from "./verify.ts";

const SCENARIOS = [
  "footprint",
  "join",
  "evpn-join",
  "evpn-cold",
  "cold",
  "latency",
  "churn",
  "idle",
  "http",
] as const;
type Scenario = typeof SCENARIOS[number];

const HELP = `evpn-agent benchmark

Usage: deno run -A bench/main.ts [--quick] [--json FILE] [--cpu-prof DIR] [--only LIST]
                                 [--sizes LIST] [--v8-flags FLAGS] [--charts FILE]

  --quick          small sizes (${QUICK.coldStarts[0]!.vnis} VNIs × ${
  QUICK.coldStarts[0]!.vteps
} VTEPs, ${QUICK.latencySamples} latency samples,
                   ${QUICK.churn.events} churn events), under two minutes; writes
                   bench/results/quick-latest.json
  --json FILE      write the results here instead
  --cpu-prof DIR   run the agent with --cpu-prof; summarise with
                   deno run -A bench/profile_summary.ts DIR/*.cpuprofile
  --only LIST      comma-separated subset of ${SCENARIOS.join(",")}
                   (latency, churn, idle and http need cold)
  --sizes LIST     cold-start sizes instead of the plan's, e.g. 20x1000,100x1000
                   (the first also hosts latency, churn, idle and http)
  --v8-flags FLAGS run the agent (and the bare Deno beside it) with --v8-flags=FLAGS
                   (default ${AGENT_V8_FLAGS}, as users run it; "" for none)
  --keep-logs      keep the lab's work directory (configs, logs)
  --table FILE     print the table of an earlier run's JSON and exit (no root needed)
  --charts FILE    render the SVG charts of an earlier run's JSON beside it and exit

Needs root. Exit status: 0 = every kernel state exact (timings never fail),
1 = the agent left a wrong kernel state, or its HTTP endpoint stopped answering
or its memory grew without bound under load, 2 = the benchmark could not run.
`;

function progress(t0: number): (message: string) => void {
  return (message) => {
    const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
    console.error(`[bench ${s}s] ${message}`);
  };
}

function defaultOutput(mode: Plan["mode"], started: Date): string {
  const name = mode === "quick" ? "quick-latest" : started.toISOString().slice(0, 10);
  return new URL(`./results/${name}.json`, import.meta.url).pathname;
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        quick: { type: "boolean" },
        json: { type: "string" },
        "cpu-prof": { type: "string" },
        only: { type: "string" },
        "keep-logs": { type: "boolean" },
        table: { type: "string" },
        charts: { type: "string" },
        sizes: { type: "string" },
        "v8-flags": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : error}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.table !== undefined) {
    // Re-print the table of an earlier run (targets re-checked from its figures).
    const earlier = JSON.parse(await Deno.readTextFile(values.table)) as BenchResults;
    earlier.targets = checkTargets(earlier);
    console.log(renderTable(earlier));
    return 0;
  }
  if (values.charts !== undefined) {
    const earlier = JSON.parse(await Deno.readTextFile(values.charts)) as BenchResults;
    for (const path of await writeCharts(earlier, values.charts)) console.log(`chart: ${path}`);
    return 0;
  }
  const only = new Set<Scenario>(
    values.only === undefined
      ? SCENARIOS
      : values.only.split(",").map((s) => s.trim()) as Scenario[],
  );
  for (const s of only) {
    if (!SCENARIOS.includes(s)) {
      console.error(`bench: --only: unknown scenario "${s}" (one of ${SCENARIOS.join(", ")})`);
      return 2;
    }
  }
  if (Deno.uid() !== 0) {
    console.error("bench: needs root (network namespaces, gobgpd, FDB writes)");
    return 2;
  }
  const plan = { ...(values.quick ? QUICK : FULL) };
  if (values.sizes !== undefined) {
    const sizes = parseSizes(values.sizes);
    if (sizes === undefined) {
      console.error(
        `bench: --sizes: expected VNISxVTEPS[,...], e.g. 20x1000, not "${values.sizes}"`,
      );
      return 2;
    }
    plan.coldStarts = sizes;
  }
  const started = new Date();
  const t0 = performance.now();
  const log = progress(t0);
  const output = values.json ?? defaultOutput(plan.mode, started);
  const results: BenchResults = {
    version: 1,
    mode: plan.mode,
    startedAt: started.toISOString(),
    durationS: 0,
    machine: await describeMachine(REPO_DIR),
    plan,
    coldStart: [],
    footprint: [],
    agentStops: [],
    load: {},
    targets: [],
    wrongState: [],
  };
  const verify = (what: string, check: StateCheck) => {
    if (check.exact) return;
    results.wrongState.push(
      `${what}: ${check.missing} missing, ${check.extra} unexpected of ${check.expected} ` +
        `expected (${check.examples.join("; ")})`,
    );
  };

  let lab: BenchLab | undefined;
  /** Runs one scenario and records how busy the machine was meanwhile. */
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const meter = new LoadMeter(() => lab?.pids() ?? []);
    const start = meter.mark();
    try {
      return await fn();
    } finally {
      results.load[name] = meter.since(start);
    }
  };
  try {
    log(`${plan.mode} run; lab set-up`);
    lab = await BenchLab.create({
      log,
      cpuProfDir: values["cpu-prof"],
      v8Flags: values["v8-flags"],
    });
    const home = lab;
    const allVnis = vniList(Math.max(...plan.coldStarts.map((s) => s.vnis)));
    if (only.has("footprint")) {
      results.idleFootprint = await phase(
        "footprint",
        () => idleFootprint(home, { settleMs: plan.footprintSettleSeconds * 1000, allVnis }),
      );
    }
    if (only.has("join")) results.join = await phase("join", () => join(home, plan.joinSamples));
    if (only.has("evpn-join")) {
      results.evpnJoin = await phase("evpn-join", () => evpnJoin(home, plan.joinSamples));
    }
    if (only.has("evpn-cold")) {
      // The first cold-start size, each VTEP with one Type 3 route per VNI.
      const size = plan.coldStarts[0]!;
      const { result, context } = await phase(
        "evpn cold start",
        () =>
          coldStart(home, size, {
            timeoutMs: plan.coldStartTimeoutMs,
            allVnis,
            settleMs: plan.settleSeconds * 1000,
            evpn: true,
          }),
      );
      results.evpnColdStart = result;
      verify(`EVPN cold start ${size.vnis}×${size.vteps}`, result.agent.check);
      context.watch.close();
      await context.agent.stop();
    }
    if (only.has("cold")) {
      for (const [index, size] of plan.coldStarts.entries()) {
        const label = `${size.vnis}×${size.vteps}`;
        const { result, context } = await phase(`cold start ${label}`, () =>
          coldStart(home, size, {
            timeoutMs: plan.coldStartTimeoutMs,
            allVnis,
            settleMs: plan.settleSeconds * 1000,
          }));
        results.coldStart.push(result);
        if (!result.baseline.check.exact) {
          throw new Error(`bridge -batch did not produce the expected state at ${label}`);
        }
        verify(`cold start ${label}`, result.agent.check);
        results.footprint.push({
          after: `cold start ${label}`,
          entries: result.entries,
          rssKiB: result.agent.rssKiB,
          hwmKiB: result.agent.hwmKiB,
          rssSettledKiB: result.agent.rssSettledKiB,
        });
        const footprint = (after: string) => {
          const s = context.agent.sample();
          let entries = 0;
          for (const set of context.expected.values()) entries += set.size;
          results.footprint.push({
            after,
            entries,
            rssKiB: s?.rssKiB ?? null,
            hwmKiB: s?.hwmKiB ?? null,
            rssSettledKiB: null,
          });
        };
        try {
          if (index === 0 && only.has("latency")) {
            results.latency = await phase(
              "latency",
              () => latency(context, plan.latencySamples),
            );
            verify("latency", results.latency.check);
            footprint("latency");
          }
          if (index === 0 && only.has("churn")) {
            results.churn = await phase("churn", () => churn(context, plan.churn));
            verify("churn (before)", results.churn.pre);
            verify("churn", results.churn.check);
            footprint("churn");
          }
          if (index === 0 && only.has("idle")) {
            const quiet = await phase(
              "idle",
              () => idle(context, plan.idleSeconds, plan.idleSettleSeconds),
            );
            if (quiet !== undefined) results.idle = quiet;
            footprint("idle");
          }
          if (index === 0 && only.has("http")) {
            const load = await phase("http", () => httpLoad(context, plan.http));
            if (load !== undefined) results.http = load;
            footprint("http load");
          }
        } finally {
          context.watch.close();
          const stop = await context.agent.stop();
          results.agentStops.push({
            after: `cold start ${label}${index === 0 ? " and the scenarios on it" : ""}`,
            elapsedMs: stop.elapsedMs,
            killed: stop.killed,
            code: stop.code,
          });
        }
        if (result.agent.problems.length > 0) {
          log(`agent warnings/errors:\n  ${result.agent.problems.join("\n  ")}`);
        }
      }
    }
  } catch (error) {
    results.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`benchmark failed: ${results.error}`);
  } finally {
    log("removing the lab");
    try {
      await lab?.destroy({ keepWorkDir: values["keep-logs"] ?? false });
      if (values["keep-logs"] && lab) log(`logs kept in ${lab.topo.workDir}`);
    } catch (error) {
      log(`lab removal: ${error instanceof Error ? error.message : error}`);
    }
  }
  results.durationS = round((performance.now() - t0) / 1000, 1);
  results.targets = checkTargets(results);

  console.log(renderTable(results));
  console.log(
    `\n${results.machine.nproc} CPUs (${results.machine.cpu}), Linux ${results.machine.kernel}, ` +
      `Deno ${results.machine.deno}, gobgpd ${results.machine.gobgpd}, ` +
      `${plan.mode} run in ${results.durationS} s`,
  );
  const busy = Object.entries(results.load).filter(([, l]) => l.otherCores >= 0.1);
  if (busy.length > 0) {
    console.log(
      `Other processes loaded the machine during: ${
        busy.map(([name, l]) => `${name} (${l.otherCores} cores)`).join(", ")
      }; those timings are disturbed.`,
    );
  }
  for (const wrong of results.wrongState) console.log(`WRONG KERNEL STATE: ${wrong}`);
  for (const failure of results.http?.failures ?? []) console.log(`ENDPOINT: ${failure}`);
  await Deno.mkdir(new URL(".", `file://${output}`).pathname, { recursive: true });
  await Deno.writeTextFile(output, JSON.stringify(results, null, 2) + "\n");
  console.log(`results: ${output}`);
  for (const path of await writeCharts(results, output)) console.log(`chart: ${path}`);
  if (results.wrongState.length > 0 || (results.http?.failures.length ?? 0) > 0) return 1;
  return results.error === undefined ? 0 : 2;
}

/** `20x1000,100x1000` → sizes; undefined when malformed. */
export function parseSizes(text: string): ColdStartSize[] | undefined {
  const out: ColdStartSize[] = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(part);
    if (m === null || Number(m[1]) < 1 || Number(m[2]) < 1) return undefined;
    out.push({ vnis: Number(m[1]), vteps: Number(m[2]) });
  }
  return out.length > 0 ? out : undefined;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
