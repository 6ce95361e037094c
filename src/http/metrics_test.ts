import assert from "node:assert/strict";
import { LATENCY_BUCKETS, Registry } from "./metrics.ts";

/** The sample lines of `name` (any suffix or labels), without comments. */
function samples(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(name) && !l.startsWith("#"));
}

Deno.test("Registry renders HELP and TYPE before each metric's samples", () => {
  const registry = new Registry();
  const c = registry.counter("demo_events_total", "Events seen.");
  registry.gauge("demo_up", "1 when up.", () => [[{}, 1]]);
  c.inc();
  c.inc({}, 2);
  assert.equal(
    registry.render(),
    [
      "# HELP demo_events_total Events seen.",
      "# TYPE demo_events_total counter",
      "demo_events_total 3",
      "# HELP demo_up 1 when up.",
      "# TYPE demo_up gauge",
      "demo_up 1",
      "",
    ].join("\n"),
  );
});

Deno.test("Counter keeps one series per label set, whatever the key order", () => {
  const registry = new Registry();
  const c = registry.counter("demo_ops_total", "Ops.");
  c.inc({ op: "append", result: "ok" });
  c.inc({ result: "ok", op: "append" });
  c.inc({ op: "del", result: "error" });
  assert.equal(c.get({ result: "ok", op: "append" }), 2);
  assert.deepEqual(samples(registry.render(), "demo_ops_total"), [
    'demo_ops_total{op="append",result="ok"} 2',
    'demo_ops_total{op="del",result="error"} 1',
  ]);
});

Deno.test("label values escape backslash, double quote and newline", () => {
  const registry = new Registry();
  registry.gauge("demo_label", "Escaping.", () => [[{ v: 'a\\b"c\nd' }, 1]]);
  assert.deepEqual(samples(registry.render(), "demo_label"), [
    'demo_label{v="a\\\\b\\"c\\nd"} 1',
  ]);
});

Deno.test("HELP text escapes backslash and newline", () => {
  const registry = new Registry();
  registry.gauge("demo_help", "two\nlines and a \\ backslash", () => []);
  const help = registry.render().split("\n")[0];
  assert.equal(help, "# HELP demo_help two\\nlines and a \\\\ backslash");
});

Deno.test("special values render as NaN, +Inf and -Inf", () => {
  const registry = new Registry();
  registry.gauge("demo_special", "Special values.", () => [
    [{ k: "nan" }, NaN],
    [{ k: "inf" }, Infinity],
    [{ k: "ninf" }, -Infinity],
  ]);
  assert.deepEqual(samples(registry.render(), "demo_special"), [
    'demo_special{k="nan"} NaN',
    'demo_special{k="inf"} +Inf',
    'demo_special{k="ninf"} -Inf',
  ]);
});

Deno.test("Histogram buckets are cumulative and +Inf equals the count", () => {
  const registry = new Registry();
  const h = registry.histogram("demo_seconds", "Durations.", [0.1, 1, 10]);
  for (const v of [0.05, 0.1, 0.5, 2, 20, 30]) h.observe(v);
  const lines = samples(registry.render(), "demo_seconds");
  assert.deepEqual(lines, [
    'demo_seconds_bucket{le="0.1"} 2',
    'demo_seconds_bucket{le="1"} 3',
    'demo_seconds_bucket{le="10"} 4',
    'demo_seconds_bucket{le="+Inf"} 6',
    "demo_seconds_sum 52.65",
    "demo_seconds_count 6",
  ]);
  assert.equal(h.count, 6);
});

Deno.test("Histogram with the latency buckets stays monotonic for random observations", () => {
  const registry = new Registry();
  const h = registry.histogram("demo_latency_seconds", "Latency.", LATENCY_BUCKETS);
  for (let i = 0; i < 500; i++) h.observe(Math.random() ** 4 * 20);
  const text = registry.render();
  const buckets = samples(text, "demo_latency_seconds_bucket").map((l) => {
    const m = /le="([^"]+)"\} (\d+)$/.exec(l);
    assert.ok(m, l);
    return { le: m[1] === "+Inf" ? Infinity : Number(m[1]), n: Number(m[2]) };
  });
  assert.equal(buckets.length, LATENCY_BUCKETS.length + 1);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i]!.le > buckets[i - 1]!.le, "bounds increase");
    assert.ok(buckets[i]!.n >= buckets[i - 1]!.n, "counts are cumulative");
  }
  assert.equal(buckets.at(-1)!.n, 500);
  assert.deepEqual(samples(text, "demo_latency_seconds_count"), ["demo_latency_seconds_count 500"]);
});

Deno.test("an empty histogram renders zero buckets, sum and count", () => {
  const registry = new Registry();
  registry.histogram("demo_empty_seconds", "Nothing yet.", [1]);
  assert.deepEqual(samples(registry.render(), "demo_empty_seconds"), [
    'demo_empty_seconds_bucket{le="1"} 0',
    'demo_empty_seconds_bucket{le="+Inf"} 0',
    "demo_empty_seconds_sum 0",
    "demo_empty_seconds_count 0",
  ]);
});

Deno.test("Registry refuses a metric name registered twice", () => {
  const registry = new Registry();
  registry.counter("demo_total", "Once.");
  assert.throws(() => registry.gauge("demo_total", "Twice.", () => []), TypeError);
});

Deno.test("collected series are read at every scrape", () => {
  const registry = new Registry();
  let n = 1;
  registry.counterFrom("demo_reads_total", "Reads.", () => [[{}, n]]);
  assert.deepEqual(samples(registry.render(), "demo_reads_total"), ["demo_reads_total 1"]);
  n = 5;
  assert.deepEqual(samples(registry.render(), "demo_reads_total"), ["demo_reads_total 5"]);
});
