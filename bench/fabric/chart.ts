/**
 * The fabric convergence chart, as SVG text written by the benchmark itself
 * (no external tool): one panel per step (initial convergence, join,
 * withdraw), one stacked bar per node: gobgpd's own time (the floor) and the
 * agent's share on top, in ms after the step began. Pure.
 *
 * @module
 */
import type { NodeTiming } from "./analysis.ts";

export interface ChartPanel {
  title: string;
  nodes: readonly NodeTiming[];
}

const FLOOR = "#9aa5b1";
const AGENT = "#d9534f";
const PANEL_H = 170;
const TOP = 46;
const LEFT = 56;

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A "nice" axis maximum and tick step for values up to `max`. */
export function axis(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.5 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(0) : ms.toFixed(1);
}

export function renderChart(title: string, caption: string, panels: readonly ChartPanel[]): string {
  const count = Math.max(1, ...panels.map((p) => p.nodes.length));
  const bar = Math.max(3, Math.min(18, Math.floor(760 / count)));
  const plotW = bar * count;
  const width = LEFT + plotW + 24;
  const height = TOP + panels.length * (PANEL_H + 34) + 24;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${LEFT}" y="34" fill="#555">${esc(caption)}</text>`,
    `<rect x="${width - 230}" y="8" width="10" height="10" fill="${FLOOR}"/>`,
    `<text x="${width - 216}" y="17">gobgpd had it (floor)</text>`,
    `<rect x="${width - 230}" y="24" width="10" height="10" fill="${AGENT}"/>`,
    `<text x="${width - 216}" y="33">agent's share (kernel − gobgpd)</text>`,
  ];
  panels.forEach((panel, p) => {
    const y0 = TOP + p * (PANEL_H + 34) + 20;
    const values = panel.nodes.flatMap((n) => [n.kernelMs ?? 0, n.gobgpdMs ?? 0]);
    const { top, step } = axis(Math.max(0, ...values));
    const y = (ms: number) => y0 + PANEL_H - (Math.max(0, ms) / top) * PANEL_H;
    out.push(`<text x="${LEFT}" y="${y0 - 6}" font-weight="bold">${esc(panel.title)}</text>`);
    for (let t = 0; t <= top + 1e-9; t += step) {
      out.push(
        `<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`,
        `<text x="${LEFT - 4}" y="${y(t) + 4}" text-anchor="end">${fmt(t)} ms</text>`,
      );
    }
    panel.nodes.forEach((n, i) => {
      const x = LEFT + i * bar;
      const w = Math.max(1, bar - 1);
      const floor = n.gobgpdMs ?? 0;
      const kernel = n.kernelMs ?? 0;
      const tip = `${n.node}: kernel ${n.kernelMs ?? "never"} ms, gobgpd ${
        n.gobgpdMs ?? "never"
      } ms, agent ${n.agentMs ?? "-"} ms`;
      out.push(
        `<g><title>${esc(tip)}</title>`,
        `<rect x="${x}" y="${y(Math.min(floor, kernel || floor))}" width="${w}" height="${
          y(0) - y(Math.min(floor, kernel || floor))
        }" fill="${FLOOR}"/>`,
      );
      if (kernel > floor) {
        out.push(
          `<rect x="${x}" y="${y(kernel)}" width="${w}" height="${
            y(floor) - y(kernel)
          }" fill="${AGENT}"/>`,
        );
      }
      out.push("</g>");
    });
    out.push(
      `<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`,
      `<text x="${LEFT + plotW / 2}" y="${y(0) + 14}" text-anchor="middle" fill="#555">` +
        `nodes (${panel.nodes.length})</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
