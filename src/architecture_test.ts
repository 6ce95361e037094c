/**
 * The direction of imports inside `src/`, read from the source files
 * themselves (static `import`/`export ... from` and dynamic `import()`).
 * Test files (`*_test.ts`) may reach anything and are not checked.
 *
 * Layers, lowest first; each may import only the ones it lists:
 *
 * ```
 * net, shared        leaf values (IP, community, MAC, ...), backoff, timers, version
 * config             user config -> resolved config (net)
 * log                logging set-up (config: the level and format types)
 * overlay            pure desired state (net, shared)
 * reconcile          pure reconciliation (net, shared, overlay)
 * netlink            the kernel edge (net)
 * bgp                the gobgpd edge and codecs (net, shared, overlay)
 * status             view types (net, overlay)
 * http, cli          serve and print the views (status, ...)
 * app                composition root: may import everything
 * ```
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = dirname(fileURLToPath(import.meta.url));

type Layer =
  | "net"
  | "shared"
  | "config"
  | "log"
  | "overlay"
  | "reconcile"
  | "netlink"
  | "bgp"
  | "status"
  | "http"
  | "cli"
  | "app";

/** What each layer may import from `src/` (besides itself). */
const ALLOWED: Record<Layer, readonly Layer[] | "any"> = {
  net: [],
  shared: [],
  config: ["net"],
  log: ["config"],
  overlay: ["net", "shared"],
  reconcile: ["net", "shared", "overlay"],
  netlink: ["net"],
  // config: the gRPC edge re-reads gobgp.tls with the reader that checks it at start.
  bgp: ["net", "shared", "config", "overlay"],
  status: ["net", "overlay"],
  http: ["net", "shared", "log", "overlay", "status"],
  cli: ["net", "status"],
  app: "any",
};

/** Layers that stay free of npm packages (pure, or their own FFI). */
const NO_PACKAGES: ReadonlySet<Layer> = new Set([
  "net",
  "shared",
  "overlay",
  "reconcile",
  "netlink",
  "status",
]);

const SHARED_FILES = new Set(["backoff.ts", "schedule.ts", "version.ts", "privileges.ts"]);

/** The layer of a file, given its path relative to `src/`. */
function layerOf(path: string): Layer {
  const [head, ...rest] = path.split("/");
  if (rest.length === 0) {
    if (head === "log.ts") return "log";
    if (SHARED_FILES.has(head!)) return "shared";
    throw new Error(`src/${path}: a file at the top of src/ needs a layer in architecture_test.ts`);
  }
  if (head! in ALLOWED) return head as Layer;
  throw new Error(`src/${path}: folder "${head}" has no layer in architecture_test.ts`);
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) out.push(path);
  }
  return out.sort();
}

const SPECIFIER = /(?:^|\s)(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

/** Every import specifier of a module's text. */
export function importsOf(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2]!);
}

/** Each import against the intended direction, as `from -> to (reason)`. */
function violations(): string[] {
  const out: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    const layer = layerOf(from);
    const allowed = ALLOWED[layer];
    for (const specifier of importsOf(Deno.readTextFileSync(file))) {
      if (!specifier.startsWith(".")) {
        if (NO_PACKAGES.has(layer) && !specifier.startsWith("node:")) {
          out.push(`${from} -> ${specifier} (${layer} imports no packages)`);
        }
        continue;
      }
      const to = relative(SRC, join(dirname(file), specifier));
      if (to.startsWith("..")) {
        out.push(`${from} -> ${specifier} (outside src/)`);
        continue;
      }
      const target = layerOf(to);
      if (target === layer || allowed === "any") continue;
      if (!allowed.includes(target)) {
        out.push(`${from} -> ${to} (${layer} may not import ${target})`);
      }
    }
  }
  return out;
}

Deno.test("imports in src/ run one way: no module imports a layer above its own", () => {
  assert.deepEqual(violations(), []);
});

Deno.test("importsOf() finds static, re-exported and dynamic imports", () => {
  const text = [
    'import { a } from "./a.ts";',
    'import type {\n  B,\n} from "../b/b.ts";',
    'export { c } from "./c.ts";',
    'const d = await import("./d.ts");',
    'import assert from "node:assert/strict";',
  ].join("\n");
  assert.deepEqual(importsOf(text), [
    "./a.ts",
    "../b/b.ts",
    "./c.ts",
    "./d.ts",
    "node:assert/strict",
  ]);
});

Deno.test("the architecture test catches an import against the direction", () => {
  // A reverse import, as the overlay once had: overlay/vnis.ts -> netlink/types.ts.
  const allowed = ALLOWED[layerOf("overlay/vnis.ts")];
  assert.notEqual(allowed, "any");
  for (const target of ["netlink/types.ts", "config/types.ts", "bgp/client.ts"]) {
    assert.ok(!(allowed as readonly Layer[]).includes(layerOf(target)), target);
  }
  assert.equal(layerOf("app/run.ts"), "app");
  assert.throws(() => layerOf("agent.ts"), /needs a layer/);
});
