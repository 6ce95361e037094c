/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for the
 * tests of `/metrics` (src/http/server_test.ts, tests/ops_test.ts). Throws a
 * `SyntaxError` naming the line on anything a scraper would refuse or that
 * breaks the naming conventions the agent promises.
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its HELP, TYPE and samples. */
export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new SyntaxError(`Cannot parse value "${text}" ${where}`);
  }
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `text[0] === "{"`; returns labels and the rest. */
function parseLabels(text: string, where: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (text[i] === "}") return [labels, text.slice(i + 1)];
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new SyntaxError(`Unterminated labels ${where}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new SyntaxError(`Bad label name "${name}" ${where}`);
    if (text[eq + 1] !== '"') throw new SyntaxError(`Label ${name} value not quoted ${where}`);
    let value = "";
    let j = eq + 2;
    for (;; j++) {
      const c = text[j];
      if (c === undefined) throw new SyntaxError(`Unterminated label value ${where}`);
      if (c === '"') break;
      if (c === "\n") throw new SyntaxError(`Raw newline in label value ${where}`);
      if (c === "\\") {
        const n = text[++j];
        if (n === "\\") value += "\\";
        else if (n === '"') value += '"';
        else if (n === "n") value += "\n";
        else throw new SyntaxError(`Bad escape "\\${n}" in label value ${where}`);
      } else value += c;
    }
    if (name in labels) throw new SyntaxError(`Label ${name} repeated ${where}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw new SyntaxError(`Expected "," or "}" after ${name} ${where}`);
  }
}

/** The family a sample name belongs to (histogram and summary suffixes stripped). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = m ? families.get(m[1]!) : undefined;
  return base && (base.type === "histogram" || base.type === "summary") ? base : undefined;
}

/**
 * Parses a whole exposition. Checks: every non-comment line is
 * `name{labels} value [timestamp]`; every family has HELP and TYPE before
 * its samples, once; names match the metric name grammar; counters end in
 * `_total`; histograms have cumulative buckets ending in `+Inf` equal to
 * `_count`; no sample line repeats.
 */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new SyntaxError("The exposition does not end in a newline");
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  const seen = new Set<string>();
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const where = `on line ${index + 1}: ${JSON.stringify(line)}`;
    if (line === "") throw new SyntaxError(`Empty line ${where}`);
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new SyntaxError(`Bad metric name "${name}" ${where}`);
      if (kind === "HELP") {
        if (helps.has(name)) throw new SyntaxError(`Second HELP for ${name} ${where}`);
        if (families.has(name)) throw new SyntaxError(`HELP after TYPE for ${name} ${where}`);
        helps.set(name, rest);
        return;
      }
      if (!TYPES.has(rest)) throw new SyntaxError(`Bad type "${rest}" ${where}`);
      if (families.has(name)) throw new SyntaxError(`Second TYPE for ${name} ${where}`);
      const help = helps.get(name);
      if (help === undefined) throw new SyntaxError(`TYPE without HELP for ${name} ${where}`);
      if (rest === "counter" && !name.endsWith("_total")) {
        throw new SyntaxError(`Counter ${name} does not end in _total ${where}`);
      }
      families.set(name, { name, help, type: rest, samples: [] });
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
    if (!m) throw new SyntaxError(`Bad metric name ${where}`);
    const name = m[1]!;
    let rest = m[2]!;
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, where);
    const parts = rest.split(" ");
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3) {
      throw new SyntaxError(`Expected "name{labels} value" ${where}`);
    }
    const value = parseValue(parts[1]!, where);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) {
      throw new SyntaxError(`Bad timestamp ${where}`);
    }
    const family = familyOf(name, families);
    if (!family) throw new SyntaxError(`Sample of ${name} before its HELP and TYPE ${where}`);
    const key = `${name}{${
      Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")
    }}`;
    if (seen.has(key)) throw new SyntaxError(`Sample ${key} repeated ${where}`);
    seen.add(key);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
  }
  for (const name of helps.keys()) {
    if (!families.has(name)) throw new SyntaxError(`HELP without TYPE for ${name}`);
  }
  return families;
}

function checkHistogram(family: Family): void {
  const buckets = family.samples.filter((s) => s.name === `${family.name}_bucket`);
  const count = family.samples.find((s) => s.name === `${family.name}_count`);
  const sum = family.samples.find((s) => s.name === `${family.name}_sum`);
  if (!count || !sum) throw new SyntaxError(`Histogram ${family.name} lacks _count or _sum`);
  let previous = { le: -Infinity, n: 0 };
  for (const b of buckets) {
    const le = b.labels.le === undefined ? NaN : parseValue(b.labels.le, `in ${family.name}`);
    if (!(le > previous.le)) throw new SyntaxError(`Histogram ${family.name}: le not increasing`);
    if (b.value < previous.n) throw new SyntaxError(`Histogram ${family.name}: not cumulative`);
    previous = { le, n: b.value };
  }
  if (previous.le !== Infinity) throw new SyntaxError(`Histogram ${family.name}: no +Inf bucket`);
  if (previous.n !== count.value) {
    throw new SyntaxError(
      `Histogram ${family.name}: +Inf bucket ${previous.n} ≠ count ${count.value}`,
    );
  }
}

/** The value of the one sample `name` whose labels include `labels`; undefined if none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
