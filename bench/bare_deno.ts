/**
 * A bare Deno process that only waits: the baseline of the benchmark's
 * idle-footprint figure (`scenarios/footprint.ts`), run with the agent's own
 * `deno run` flags.
 *
 * @module
 */
setInterval(() => {}, 3_600_000);
