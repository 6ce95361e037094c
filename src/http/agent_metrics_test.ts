import assert from "node:assert/strict";
import { buildPermissions, REPO_DIR } from "../../tests/_chart.ts";
import { parseExposition } from "../../tests/_ops_prom.ts";

/** Renders the agent's metrics (on an idle stub agent) in a child with `permissions`. */
async function renderUnder(permissions: string[]): Promise<string> {
  const script = await Deno.makeTempFile({ prefix: "evpn-metrics-", suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { bindAgentMetrics, createMetrics } from "${REPO_DIR}/src/http/agent_metrics.ts";
import { newStats } from "${REPO_DIR}/src/app/observers.ts";
let spin = 0;
for (let i = 0; i < 2e6; i++) spin += i; // some CPU time to report
const { registry } = createMetrics();
bindAgentMetrics(registry, {
  stats: newStats(), vnisOnline: 0, watchState: "down", advertised: undefined,
  lastSync: undefined, ready: spin < 0, status: () => ({ vnis: [] }),
} as unknown as Parameters<typeof bindAgentMetrics>[1]);
await Deno.stdout.write(new TextEncoder().encode(registry.render()));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--config", `${REPO_DIR}/deno.json`, ...permissions, script],
      cwd: REPO_DIR,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `metrics child failed: ${stderr}`);
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(script);
  }
}

Deno.test("process metrics under the compiled executable's permissions: CPU and memory have samples, fds none", async () => {
  const permissions = await buildPermissions();
  const families = parseExposition(await renderUnder(permissions));
  const samples = (name: string) => families.get(name)?.samples ?? [];
  const cpu = samples("process_cpu_seconds_total");
  assert.equal(cpu.length, 1, `process_cpu_seconds_total under ${permissions.join(" ")}`);
  assert.ok(cpu[0]!.value > 0, `CPU ${cpu[0]!.value} s`);
  assert.ok(samples("process_resident_memory_bytes")[0]!.value > 1_000_000);
  // The documented gap: Deno opens /proc/self only with --allow-all.
  assert.ok(families.has("process_open_fds") && families.has("process_virtual_memory_bytes"));
  assert.deepEqual(samples("process_open_fds"), []);
  assert.deepEqual(samples("process_virtual_memory_bytes"), []);
});
