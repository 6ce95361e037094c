/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4). Hand-written
 * because the agent needs a dozen series, and start-up time and memory count.
 *
 * @module
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${escape(labels[k]!)}"`).join(",");
}

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** HELP text escapes only backslash and newline (text format 0.0.4). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function fmt(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(out: string[]): void;
}

/** A monotonically increasing counter, one series per label set. */
export class Counter implements Metric {
  readonly type = "counter";
  #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  render(out: string[]): void {
    for (const [key, value] of this.#values) {
      out.push(`${this.name}${key ? `{${key}}` : ""} ${fmt(value)}`);
    }
  }
}

/** A gauge or counter whose series are read on scrape by `collect`. */
export class Collected implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "gauge" | "counter",
    readonly collect: () => Iterable<[Labels, number]>,
  ) {}

  render(out: string[]): void {
    for (const [labels, value] of this.collect()) {
      const key = labelKey(labels);
      out.push(`${this.name}${key ? `{${key}}` : ""} ${fmt(value)}`);
    }
  }
}

/** A histogram with fixed buckets (upper bounds, in base units). */
export class Histogram implements Metric {
  readonly type = "histogram";
  #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.#counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) this.#counts[i]!++;
    }
  }

  get count(): number {
    return this.#count;
  }

  render(out: string[]): void {
    this.buckets.forEach((le, i) =>
      out.push(`${this.name}_bucket{le="${fmt(le)}"} ${this.#counts[i]}`)
    );
    out.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    out.push(`${this.name}_sum ${fmt(this.#sum)}`);
    out.push(`${this.name}_count ${this.#count}`);
  }
}

export class Registry {
  #metrics: Metric[] = [];

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  /** A gauge read on scrape. */
  gauge(name: string, help: string, collect: () => Iterable<[Labels, number]>): Collected {
    return this.#add(new Collected(name, help, "gauge", collect));
  }

  /** A counter kept elsewhere (e.g. in the agent's stats), read on scrape. */
  counterFrom(name: string, help: string, collect: () => Iterable<[Labels, number]>): Collected {
    return this.#add(new Collected(name, help, "counter", collect));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  /** The text exposition format. */
  render(): string {
    const out: string[] = [];
    for (const metric of this.#metrics) {
      out.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      out.push(`# TYPE ${metric.name} ${metric.type}`);
      metric.render(out);
    }
    return out.join("\n") + "\n";
  }

  #add<T extends Metric>(metric: T): T {
    if (this.#metrics.some((m) => m.name === metric.name)) {
      throw new TypeError(`Metric "${metric.name}" is registered twice`);
    }
    this.#metrics.push(metric);
    return metric;
  }
}

/** Latency buckets from 100 µs to 10 s, in seconds. */
export const LATENCY_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  10,
];
