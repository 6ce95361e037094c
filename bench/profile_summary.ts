/**
 * Summarises V8 CPU profiles (`deno run --cpu-prof`, e.g. from
 * `bench/main.ts --cpu-prof DIR`): where the time went, by function (self
 * and inclusive) and by origin (project file, npm package, Deno/Node
 * internals, GC, idle).
 *
 *     deno run -A bench/profile_summary.ts [--top N] [--from S] [--to S] FILE.cpuprofile...
 *
 * `--from`/`--to` keep only samples within that window, in seconds from the
 * start of the profile.
 *
 * @module
 */
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The `.cpuprofile` format (Chrome DevTools protocol `Profiler.Profile`). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Time per key, ms. */
export interface Breakdown {
  totalMs: number;
  self: Map<string, number>;
  inclusive: Map<string, number>;
  origin: Map<string, number>;
}

function shortUrl(url: string): string {
  if (url === "") return "";
  const npm = /node_modules\/(?:\.deno\/)?(@?[^/@]+(?:\/[^/@]+)?)(?:@[^/]+)?\//.exec(url) ??
    /npm\/registry\.npmjs\.org\/(@?[^/]+(?:\/[^/]+)?)\/[^/]+\//.exec(url);
  if (npm) return `npm:${npm[1]}/${url.split("/").pop()}`;
  const src = /\/((?:src|bench|scripts)\/.*|main\.ts)$/.exec(url);
  if (src) return src[1]!;
  return url.replace(/^ext:/, "ext:");
}

/** Where a frame comes from: a project file, an npm package, Deno internals, or V8 pseudo-frames. */
export function originOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (/^\((garbage collector|idle|program|root)\)$/.test(functionName)) return functionName;
    return "(native)";
  }
  if (/node_modules|registry\.npmjs\.org/.test(url)) {
    const short = shortUrl(url);
    return short.slice(0, short.lastIndexOf("/"));
  }
  if (url.startsWith("ext:") || url.startsWith("node:")) {
    return url.startsWith("ext:deno_node") || url.startsWith("node:")
      ? "deno: node compat"
      : "deno: runtime";
  }
  const src = /\/((?:src|bench|scripts)\/[^/]+\/?[^/]*)$/.exec(url);
  return src ? src[1]! : shortUrl(url);
}

function key(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (frame.url === "") return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

/** Self, inclusive and per-origin time of the samples in [fromMs, toMs) from the start. */
export function breakdown(profile: CpuProfile, fromMs = 0, toMs = Infinity): Breakdown {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const out: Breakdown = { totalMs: 0, self: new Map(), inclusive: new Map(), origin: new Map() };
  const bump = (map: Map<string, number>, k: string, ms: number) =>
    map.set(k, (map.get(k) ?? 0) + ms);
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = (profile.timeDeltas[i] ?? 0) / 1000;
    t += delta;
    if (t < fromMs || t >= toMs) continue;
    const id = profile.samples[i]!;
    const node = byId.get(id);
    if (node === undefined) continue;
    out.totalMs += delta;
    bump(out.self, key(node.callFrame), delta);
    bump(out.origin, originOf(node.callFrame), delta);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (frame === undefined) break;
      const k = key(frame);
      if (seen.has(k) || k === "(root)") continue;
      seen.add(k);
      bump(out.inclusive, k, delta);
    }
  }
  return out;
}

function top(map: Map<string, number>, n: number, total: number): string[] {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, ms]) =>
    `${ms.toFixed(1).padStart(9)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%  ${k}`
  );
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      top: { type: "string", default: "25" },
      from: { type: "string" },
      to: { type: "string" },
    },
    allowPositionals: true,
  });
  const n = Number(values.top);
  const from = values.from === undefined ? 0 : Number(values.from) * 1000;
  const to = values.to === undefined ? Infinity : Number(values.to) * 1000;
  for (const file of positionals) {
    const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
    const b = breakdown(profile, from, to);
    const busy = b.totalMs - (b.origin.get("(idle)") ?? 0);
    console.log(
      `${file}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s profiled, ` +
        `${b.totalMs.toFixed(0)} ms in window, ${busy.toFixed(0)} ms not idle`,
    );
    console.log("\nby origin:");
    for (const line of top(b.origin, n, b.totalMs)) console.log(line);
    console.log("\nself time by function:");
    for (const line of top(b.self, n, b.totalMs)) console.log(line);
    console.log("\ninclusive time by function:");
    for (const line of top(b.inclusive, n, b.totalMs)) console.log(line);
    console.log();
  }
}
