import assert from "node:assert/strict";
import { cdf, coldStartChart, latencyChart, niceMax } from "./charts.ts";
import type { BenchResults } from "./report.ts";
import { parseSizes } from "./main.ts";

Deno.test("niceMax() rounds up to 1, 2, 2.5 or 5 times a power of ten", () => {
  assert.deepEqual([0.7, 1, 3, 2.2, 4.1, 9, 12_000].map(niceMax), [1, 1, 5, 2.5, 5, 10, 20_000]);
});

Deno.test("cdf() steps through the sorted values", () => {
  assert.deepEqual(cdf([3, 1, 2, 2]), [[1, 0.25], [2, 0.5], [2, 0.75], [3, 1]]);
});

Deno.test("parseSizes() reads VNISxVTEPS lists and refuses the rest", () => {
  assert.deepEqual(parseSizes("20x1000, 100×1000"), [{ vnis: 20, vteps: 1000 }, {
    vnis: 100,
    vteps: 1000,
  }]);
  assert.equal(parseSizes("20"), undefined);
  assert.equal(parseSizes("0x10"), undefined);
});

function run(): BenchResults {
  const side = (agent: number[]) => ({
    rawAgent: agent,
    rawGobgpd: agent.map((v) => v + 1),
    agent: { p50: 0.4, p99: 0.9 },
  });
  return {
    mode: "full",
    startedAt: "2026-12-01T12:00:00.000Z",
    coldStart: [
      {
        vnis: 20,
        vteps: 1000,
        entries: 20_000,
        ratio: 1.4,
        baseline: { ms: 1000 },
        agent: { ms: 1400, tableLoggedMs: 350 },
      },
      {
        vnis: 100,
        vteps: 1000,
        entries: 100_000,
        ratio: 0.5,
        baseline: { ms: 5000 },
        agent: { ms: 2500, tableLoggedMs: 400 },
      },
    ],
    latency: { samples: 3, add: side([0.2, 0.4, 0.9]), withdraw: side([-0.1, 0.3, 0.8]) },
    targets: [{
      name: "cold start 20×1,000: agent / bridge -batch",
      value: 1.4,
      target: 1.5,
      unit: "×",
      met: true,
    }],
  } as unknown as BenchResults;
}

Deno.test("coldStartChart() draws floor and agent per size, bars to scale, with ratio and target", () => {
  const svg = coldStartChart(run())!;
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /20 × 1,000/);
  assert.match(svg, /1\.40 s, 1\.40× \(target ≤ 1\.5×\)/);
  assert.match(svg, /0\.50×</);
  const widths = [...svg.matchAll(/width="([\d.]+)" height="16\.0" fill="#9e9e9e"/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(widths.length, 2);
  assert.ok(Math.abs(widths[1]! / widths[0]! - 5) < 0.01, `floor bars ${widths}`);
  assert.equal(svg.match(/<svg/g)!.length, 1);
  assert.ok(svg.trimEnd().endsWith("</svg>"));
});

Deno.test("latencyChart() draws one step line per direction and source, and the targets", () => {
  const svg = latencyChart(run())!;
  assert.equal(svg.match(/<path /g)!.length, 4);
  assert.match(svg, /p99 target/);
  assert.match(svg, /add: p50 0\.40 ms, p99 0\.90 ms/);
  const none = run();
  delete none.latency;
  assert.equal(latencyChart(none), undefined);
});
