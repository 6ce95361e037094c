/**
 * Scenario 0, the idle footprint: the agent started as users start it
 * against an empty gobgpd, one VNI's device online and no remote VTEP (an
 * idle node of a fabric before its peers are known), its RSS after a quiet
 * spell beside a bare Deno process started with the same `deno run` flags
 * in the same run (`bench/bare_deno.ts`): what the agent adds to the
 * runtime.
 *
 * @module
 */
import { delay } from "../../scripts/lab/wait.ts";
import type { BenchLab } from "../lab.ts";
import { sampleProc } from "../procstat.ts";
import { vniList } from "../routes.ts";
import { round } from "../stats.ts";

export interface FootprintResult {
  /** Quiet time before the samples, s. */
  settleSeconds: number;
  /** Spawn → the agent's "Received gobgpd's table" line, ms (null: never). */
  tableMs: number | null;
  agent: { rssKiB: number | null; hwmKiB: number | null };
  bareDeno: { rssKiB: number | null; hwmKiB: number | null };
  /** The `deno run` flags of both beyond `-A --cached-only`. */
  runtimeArgs: string[];
}

export async function idleFootprint(
  lab: BenchLab,
  options: { settleMs: number; allVnis: readonly number[] },
): Promise<FootprintResult> {
  lab.log(`footprint: idle agent, empty table, one VNI; ${options.settleMs / 1000} s quiet`);
  await lab.restartHomeGobgpd();
  await lab.deleteDevices(options.allVnis);
  const vnis = vniList(1);
  await lab.createDevices(vnis);
  const bare = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--cached-only",
      ...lab.runtimeArgs().filter((a) => a.startsWith("--v8-flags")),
      new URL("../bare_deno.ts", import.meta.url).pathname,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const agent = await lab.startAgent(lab.home);
  let tableMs: number | null = null;
  try {
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline) {
      const wall = agent.facts().tableWall;
      if (wall !== undefined) {
        tableMs = wall - agent.startedWall;
        break;
      }
      await delay(50);
    }
    await delay(options.settleMs);
    const a = agent.sample();
    const b = sampleProc(bare.pid);
    return {
      settleSeconds: round(options.settleMs / 1000, 1),
      tableMs,
      agent: { rssKiB: a?.rssKiB ?? null, hwmKiB: a?.hwmKiB ?? null },
      bareDeno: { rssKiB: b?.rssKiB ?? null, hwmKiB: b?.hwmKiB ?? null },
      runtimeArgs: lab.runtimeArgs(),
    };
  } finally {
    try {
      bare.kill("SIGTERM");
    } catch {
      // already gone
    }
    await bare.status;
    await agent.stop();
    await lab.deleteDevices(vnis);
  }
}
