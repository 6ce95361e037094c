import assert from "node:assert/strict";
import { fmtMs, percentile, prng, summarize } from "./stats.ts";

Deno.test("percentile() is nearest-rank", () => {
  const sorted = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 50), 100);
  assert.equal(percentile(sorted, 99), 198);
  assert.equal(percentile(sorted, 100), 200);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("summarize() sorts a copy and reports p50, p99, max", () => {
  const values = [5, 1, 3, 2, 4];
  const s = summarize(values);
  assert.deepEqual(values, [5, 1, 3, 2, 4]);
  assert.equal(s.p50, 3);
  assert.equal(s.max, 5);
  assert.equal(s.min, 1);
  assert.equal(s.mean, 3);
});

Deno.test("prng() repeats its sequence for a seed", () => {
  const a = prng(42);
  const b = prng(42);
  const xs = Array.from({ length: 5 }, a);
  assert.deepEqual(xs, Array.from({ length: 5 }, b));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

Deno.test("fmtMs() picks a unit", () => {
  assert.equal(fmtMs(1234), "1.23 s");
  assert.equal(fmtMs(12.34), "12.3 ms");
  assert.equal(fmtMs(0.421), "0.42 ms");
  assert.equal(fmtMs(undefined), "n/a");
});
