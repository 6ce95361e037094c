/**
 * `deno task soak [--seed N] [--rounds N] [--json FILE] [--keep-logs]`: the
 * seeded fault soak (see soak/README.md). Needs root. Prints one line per
 * round, then the summary; exits 1 when the verdict is FAIL, 2 on bad
 * arguments.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { isRoot } from "../scripts/lab/privileges.ts";
import { formatSummary, summarize } from "./report.ts";
import { after, describe, drawRound, Model, SHAPE } from "./plan.ts";
import { randomSeed, Rng } from "./rng.ts";
import { runSoak } from "./run.ts";

const USAGE = `Usage: deno task soak [--seed N] [--rounds N] [--json FILE] [--keep-logs]

  --seed N      seed of the fault generator (default: random, printed)
  --rounds N    rounds of faults (default 10)
  --json FILE   write every round and the summary as JSON
  --keep-logs   keep the lab's configs and logs (path printed)
  --plan        print the rounds the seed draws, without running anything

EVPN_AGENT_REPO=/path/to/checkout soaks the agent of another checkout.`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function integer(text: string | undefined, name: string, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > max) {
    fail(`--${name} "${text}" is not an integer 0..${max}`);
  }
  return Number(text);
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        seed: { type: "string" },
        rounds: { type: "string" },
        json: { type: "string" },
        "keep-logs": { type: "boolean" },
        plan: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const seed = integer(values.seed, "seed", 0xffffffff, randomSeed());
  const rounds = integer(values.rounds, "rounds", 100_000, 10);
  if (rounds < 1) fail("--rounds must be at least 1");
  if (values.plan) {
    const rng = new Rng(seed);
    let model = new Model(SHAPE);
    for (let round = 1; round <= rounds; round++) {
      const faults = drawRound(rng, model);
      console.log(`round ${round}: ${faults.map(describe).join(" + ")}`);
      model = after(model, faults);
    }
    Deno.exit(0);
  }
  if (!isRoot()) {
    console.error("The fault soak needs root (network namespaces).");
    Deno.exit(1);
  }
  const started = Date.now();
  console.log(`soak: seed ${seed}, ${rounds} rounds`);
  const result = await runSoak({
    seed,
    rounds,
    keepLogs: values["keep-logs"] ?? false,
    ...(Deno.env.get("EVPN_AGENT_REPO") ? { agentRepo: Deno.env.get("EVPN_AGENT_REPO")! } : {}),
    log: (line) => console.log(line),
  });
  const summary = summarize(seed, result.rounds, result.pingLostOutsideRounds);
  console.log(`\n${formatSummary(summary)}`);
  console.log(`took ${Math.round((Date.now() - started) / 1000)} s`);
  if (values["keep-logs"]) console.log(`logs: ${result.workDir}`);
  if (values.json !== undefined) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ summary, rounds: result.rounds }, null, 1) + "\n",
    );
  }
  Deno.exit(summary.ok ? 0 : 1);
}
