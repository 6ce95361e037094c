/**
 * SVG charts of a benchmark run, drawn here (no external tool): cold start
 * against the `bridge -batch` floor by size, and the distributions of the
 * agent's own share of the route → kernel latency. Pure, apart from
 * {@linkcode writeCharts}, which writes them beside the run's JSON
 * (`<name>.cold-start.svg`, `<name>.latency.svg`).
 *
 * @module
 */
import type { BenchResults } from "./report.ts";

const FONT = `font-family="sans-serif" font-size="12"`;
const COLORS = { floor: "#9e9e9e", start: "#90caf9", writes: "#1565c0", add: "#1565c0" };
const WITHDRAW = "#ef6c00";

/** Escapes text for SVG. */
function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

function rect(x: number, y: number, w: number, h: number, fill: string, title: string): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0, w).toFixed(1)}" ` +
    `height="${h.toFixed(1)}" fill="${fill}"><title>${esc(title)}</title></rect>`;
}

function svg(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/** A "nice" axis maximum at or above `v` (1, 2, 2.5, 5 × 10^n). */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/**
 * Cold start by size: per size one bar for the floor and one for the agent,
 * the agent's split into start-up (spawn → table received) and the rest
 * (decode and writes), with the ratio and the size's target.
 */
export function coldStartChart(r: BenchResults): string | undefined {
  const sizes = r.coldStart.filter((c) => c.agent.ms !== null);
  if (sizes.length === 0) return undefined;
  const width = 720;
  const left = 150;
  const right = 90;
  const bar = 16;
  const group = 2 * bar + 22;
  const top = 46;
  const height = top + group * sizes.length + 44;
  const max = niceMax(Math.max(...sizes.flatMap((c) => [c.baseline.ms, c.agent.ms!])));
  const x = (ms: number) => left + (ms / max) * (width - left - right);
  const body: string[] = [
    text(
      10,
      20,
      `Cold start against the floor (bridge -batch), ${r.mode} run ${r.startedAt.slice(0, 10)}`,
      'font-weight="bold"',
    ),
  ];
  // Legend.
  const legend: [string, string][] = [
    [COLORS.floor, "bridge -batch (floor)"],
    [COLORS.start, "agent: spawn → table received"],
    [COLORS.writes, "agent: decode and writes"],
  ];
  legend.forEach(([color, label], i) => {
    body.push(rect(10 + i * 230, 28, 10, 10, color, label), text(24 + i * 230, 37, label));
  });
  // Grid.
  for (let i = 0; i <= 5; i++) {
    const ms = (max * i) / 5;
    const gx = x(ms);
    body.push(
      `<line x1="${gx.toFixed(1)}" y1="${top - 4}" x2="${gx.toFixed(1)}" y2="${
        height - 36
      }" stroke="#e0e0e0"/>`,
      text(gx, height - 22, seconds(ms), 'text-anchor="middle" fill="#555"'),
    );
  }
  sizes.forEach((c, i) => {
    const y = top + i * group;
    const agent = c.agent.ms!;
    const start = Math.min(agent, c.agent.tableLoggedMs ?? 0);
    const label = `${c.vnis} × ${c.vteps.toLocaleString("en-US")}`;
    body.push(
      text(10, y + bar + 4, label, 'font-weight="bold"'),
      text(10, y + bar + 18, `${c.entries.toLocaleString("en-US")} entries`, 'fill="#555"'),
      rect(left, y, x(c.baseline.ms) - left, bar, COLORS.floor, `floor ${seconds(c.baseline.ms)}`),
      text(x(c.baseline.ms) + 4, y + 12, seconds(c.baseline.ms), 'fill="#555"'),
      rect(left, y + bar + 2, x(start) - left, bar, COLORS.start, `start-up ${seconds(start)}`),
      rect(
        x(start),
        y + bar + 2,
        x(agent) - x(start),
        bar,
        COLORS.writes,
        `rest ${seconds(agent - start)}`,
      ),
    );
    const limit = r.targets.find((t) =>
      t.name.startsWith(`cold start ${c.vnis}×`) && t.unit === "×"
    );
    const ratio = c.ratio === null ? "" : `${c.ratio.toFixed(2)}×`;
    const goal = limit ? ` (target ≤ ${limit.target}×)` : "";
    body.push(text(x(agent) + 4, y + 2 * bar, `${seconds(agent)}, ${ratio}${goal}`));
  });
  body.push(
    text(
      left,
      height - 6,
      "spawn → last entry in the kernel; the floor is bridge's wall time",
      'fill="#555"',
    ),
  );
  return svg(width, height, body);
}

/** The empirical distribution of `values` as (value, fraction ≤ value) steps. */
export function cdf(values: readonly number[]): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.map((v, i) => [v, (i + 1) / sorted.length]);
}

/**
 * Latency: the distribution (CDF) of the agent's own share, add and
 * withdraw, with gobgpd's own delay dashed beside it and the p50 and p99
 * targets marked. The x axis ends at the larger p99 × 1.5 (the tail beyond
 * is noted, not drawn).
 */
export function latencyChart(r: BenchResults): string | undefined {
  const l = r.latency;
  if (!l || l.add.rawAgent.length === 0) return undefined;
  const width = 720;
  const height = 380;
  const left = 60;
  const right = 20;
  const top = 64;
  const bottom = 50;
  const p99 = Math.max(l.add.agent.p99, l.withdraw.agent.p99, 1);
  const max = niceMax(p99 * 1.5);
  // The share is a difference of two arrivals: it can be a little negative.
  const all = [...l.add.rawAgent, ...l.withdraw.rawAgent];
  const low = cdf(all).find(([, f]) => f >= 0.01)?.[0] ?? 0;
  const min = Math.min(0, Math.floor(low * 2) / 2);
  const x = (ms: number) =>
    left + ((Math.max(min, Math.min(ms, max)) - min) / (max - min)) * (width - left - right);
  const y = (f: number) => top + (1 - f) * (height - top - bottom);
  const body: string[] = [
    text(
      10,
      20,
      `Agent's own share of route → kernel (kernel − bare watcher), ${l.samples} samples each`,
      'font-weight="bold"',
    ),
  ];
  const step = niceMax((max - min) / 6);
  for (let ms = Math.ceil(min / step) * step; ms <= max + 1e-9; ms += step) {
    const gx = x(ms).toFixed(1);
    body.push(
      `<line x1="${gx}" y1="${top}" x2="${gx}" y2="${height - bottom}" stroke="#e0e0e0"/>`,
      text(x(ms), height - bottom + 16, `${+ms.toFixed(2)} ms`, 'text-anchor="middle" fill="#555"'),
    );
  }
  for (const f of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    body.push(
      `<line x1="${left}" y1="${y(f).toFixed(1)}" x2="${width - right}" y2="${
        y(f).toFixed(1)
      }" stroke="#e0e0e0"/>`,
      text(left - 6, y(f) + 4, `p${Math.round(f * 100)}`, 'text-anchor="end" fill="#555"'),
    );
  }
  for (const [target, label, at] of [[0.5, "p50 target", 0.5], [1, "p99 target", 0.99]] as const) {
    if (target > max) continue;
    const tx = x(target).toFixed(1);
    body.push(
      `<line x1="${tx}" y1="${top}" x2="${tx}" y2="${height - bottom}" stroke="#2e7d32" ` +
        `stroke-dasharray="2,3"/>`,
      `<circle cx="${tx}" cy="${y(at).toFixed(1)}" r="3" fill="#2e7d32"/>`,
      text(x(target) + 5, y(at) + 14, label, 'fill="#2e7d32"'),
    );
  }
  const line = (values: readonly number[], color: string, dash: string) => {
    const pts = cdf(values);
    let d = `M${x(0).toFixed(1)},${y(0).toFixed(1)}`;
    let prev = 0;
    for (const [v, f] of pts) {
      d += ` L${x(v).toFixed(1)},${y(prev).toFixed(1)} L${x(v).toFixed(1)},${y(f).toFixed(1)}`;
      prev = f;
    }
    body.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8" ${dash}/>`);
  };
  line(l.add.rawGobgpd, COLORS.add, 'stroke-dasharray="5,4" opacity="0.5"');
  line(l.withdraw.rawGobgpd, WITHDRAW, 'stroke-dasharray="5,4" opacity="0.5"');
  line(l.add.rawAgent, COLORS.add, "");
  line(l.withdraw.rawAgent, WITHDRAW, "");
  const fmt = (v: number) => `${v.toFixed(2)} ms`;
  const legend: [string, string, string][] = [
    [COLORS.add, "", `add: p50 ${fmt(l.add.agent.p50)}, p99 ${fmt(l.add.agent.p99)}`],
    [WITHDRAW, "", `withdraw: p50 ${fmt(l.withdraw.agent.p50)}, p99 ${fmt(l.withdraw.agent.p99)}`],
    ["#555", 'stroke-dasharray="5,4"', "dashed: gobgpd's own delay (write → bare watcher)"],
  ];
  legend.forEach(([color, dash, label], i) => {
    const lx = 10 + (i % 2) * 330;
    const ly = 34 + Math.floor(i / 2) * 16;
    body.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${color}" ` +
        `stroke-width="2" ${dash}/>`,
      text(lx + 22, ly + 4, label),
    );
  });
  const beyond = all.filter((v) => v > max || v < min).length;
  body.push(
    text(
      left,
      height - 10,
      `agent share, ms${
        beyond ? ` (${beyond} samples outside ${min}…${max} ms drawn at the edge)` : ""
      }`,
      'fill="#555"',
    ),
  );
  return svg(width, height, body);
}

/** Writes the charts beside `jsonPath` (`X.json` → `X.cold-start.svg`, `X.latency.svg`). */
export async function writeCharts(r: BenchResults, jsonPath: string): Promise<string[]> {
  const stem = jsonPath.replace(/\.json$/, "");
  const out: string[] = [];
  for (const [name, chart] of [["cold-start", coldStartChart(r)], ["latency", latencyChart(r)]]) {
    if (chart === undefined) continue;
    const path = `${stem}.${name}.svg`;
    await Deno.writeTextFile(path, chart);
    out.push(path);
  }
  return out;
}
