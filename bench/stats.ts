/**
 * Small statistics and number formatting for the report. Pure.
 *
 * @module
 */

/** p50/p99/max of a sample set, in its own unit. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

/** Nearest-rank percentile `p` (0..100) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summary of `values` (NaN fields when empty). */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    min: sorted.length ? sorted[0]! : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

/** Rounds to `digits` decimals (keeps JSON readable). */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Rounds every number of a summary. */
export function roundSummary(s: Summary, digits = 3): Summary {
  return {
    n: s.n,
    p50: round(s.p50, digits),
    p99: round(s.p99, digits),
    max: round(s.max, digits),
    min: round(s.min, digits),
    mean: round(s.mean, digits),
  };
}

/** `1234.5` ms → "1.23 s", `12.3` → "12.3 ms", `0.42` → "0.42 ms". */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "n/a";
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (Math.abs(ms) >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** A ratio as "1.23×". */
export function fmtRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? "n/a" : `${r.toFixed(2)}×`;
}

/** 20000 → "20,000". */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** KiB → "54.2 MiB". */
export function fmtKiB(kib: number | undefined): string {
  return kib === undefined ? "n/a" : `${(kib / 1024).toFixed(1)} MiB`;
}

/** A small seeded PRNG (mulberry32): same seed, same sequence. Returns [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
