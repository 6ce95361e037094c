/**
 * Helpers for the packaging tests (`chart_test.ts`, `compiled_test.ts`):
 * paths, gates for the external tools they need, running the chart's
 * `files/render-config.sh` the way its busybox init container does, and a
 * small model of `helm --set` for checking values against the schema.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { inCi } from "../scripts/lab/privileges.ts";

/** The repository root. */
export const REPO_DIR: string = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
/** The Helm chart. */
export const CHART_DIR = `${REPO_DIR}/charts/evpn-agent`;
/** The script the init container runs. */
export const RENDER_SCRIPT = `${CHART_DIR}/files/render-config.sh`;

const decoder = new TextDecoder();

/** The absolute path of `cmd` on `PATH`, or `undefined`. */
export function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    if (dir === "") continue;
    const path = `${dir}/${cmd}`;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Debian packages that provide the tools the packaging tests need. */
const APT_PACKAGES: Record<string, string> = {
  busybox: "busybox",
  shellcheck: "shellcheck",
  yamllint: "yamllint",
  gobgpd: "gobgpd",
  gobgp: "gobgpd",
  promtool: "prometheus",
  setpriv: "util-linux",
  unshare: "util-linux",
};

/** Tools that may be installed with apt-get on first use outside CI. */
const AUTO_INSTALL = new Set(["busybox"]);

function tryAptInstall(pkg: string): boolean {
  if (Deno.uid() !== 0 || which("apt-get") === undefined) return false;
  console.log(`installing missing "${pkg}" with apt-get (scripts/setup.sh should do this)`);
  const out = new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", "--no-install-recommends", pkg],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!out.success) console.log(`apt-get install ${pkg} failed: ${decoder.decode(out.stderr)}`);
  return out.success;
}

/**
 * Gate for a test that needs external commands. Outside CI a missing
 * command is installed with apt-get when allowed (busybox, as root), else
 * the test is ignored with a printed reason; with CI=true a missing
 * command fails the test (scripts/setup.sh must install it).
 */
export function needTools(
  what: string,
  tools: readonly string[],
): { ignore: boolean; check: () => void } {
  let missing = tools.filter((t) => which(t) === undefined);
  if (missing.length > 0 && !inCi()) {
    for (const tool of missing.filter((t) => AUTO_INSTALL.has(t))) {
      tryAptInstall(APT_PACKAGES[tool] ?? tool);
    }
    missing = tools.filter((t) => which(t) === undefined);
  }
  const packages = [...new Set(missing.map((t) => APT_PACKAGES[t] ?? t))].join(" ");
  if (missing.length > 0 && !inCi()) {
    console.log(`skipping ${what}: missing ${missing.join(", ")} (apt-get install ${packages})`);
  }
  return {
    ignore: missing.length > 0 && !inCi(),
    check: () => {
      if (missing.length > 0) {
        throw new Error(
          `${what} needs ${missing.join(", ")}, and CI=true: failing ` +
            `(scripts/setup.sh should apt-get install ${packages})`,
        );
      }
    },
  };
}

/** The result of a command, never throwing on a non-zero exit. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` with `args`; output is collected. */
export async function command(
  cmd: string,
  args: readonly string[],
  options: { env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): Promise<CommandResult> {
  const out = await new Deno.Command(cmd, {
    args: [...args],
    stdin: "null",
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.clearEnv === undefined ? {} : { clearEnv: options.clearEnv }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Files written by {@linkcode renderConfig}. */
export interface RenderResult extends CommandResult {
  /** Path of the agent's config.yaml (written when `code` is 0). */
  agentConfig: string;
  /** Path of gobgpd.toml (written when `code` is 0 and GOBGP_ENABLED is not false). */
  gobgpdConfig: string;
}

/**
 * Runs the chart's render-config.sh as the init container does: `busybox sh`
 * with an environment holding nothing but `env` and a PATH of busybox applets
 * only (`busybox --install -s`), so the script can use no tool the busybox
 * image lacks. Outputs go to `outDir`.
 */
export async function renderConfig(
  env: Record<string, string>,
  outDir: string,
): Promise<RenderResult> {
  const busybox = which("busybox");
  if (busybox === undefined) throw new Error("busybox is not installed");
  const applets = `${outDir}/.busybox-applets`;
  await Deno.mkdir(applets, { recursive: true });
  const installed = await command(busybox, ["--install", "-s", applets]);
  if (installed.code !== 0) throw new Error(`busybox --install failed: ${installed.stderr}`);
  const agentConfig = `${outDir}/agent/config.yaml`;
  const gobgpdConfig = `${outDir}/gobgpd/gobgpd.toml`;
  const result = await command(busybox, ["sh", RENDER_SCRIPT], {
    clearEnv: true,
    env: {
      PATH: applets,
      AGENT_CONFIG_FILE: agentConfig,
      GOBGPD_CONFIG_FILE: gobgpdConfig,
      ...env,
    },
  });
  return { ...result, agentConfig, gobgpdConfig };
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// `helm --set`, as far as the chart's scripts use it

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Helm's typing of a `--set` value (strvals `typedVal`): bools, null, integers without leading zeros. */
function typed(value: string): Json {
  if (value.toLowerCase() === "true") return true;
  if (value.toLowerCase() === "false") return false;
  if (value.toLowerCase() === "null") return null;
  if (value === "0") return 0;
  if (/^-?[1-9]\d*$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  return value;
}

/** Splits `a.b\.c[2].d` into ["a", "b.c", 2, "d"]. */
function splitKey(key: string): (string | number)[] {
  const parts: (string | number)[] = [];
  let current = "";
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    if (ch === "\\" && i + 1 < key.length) {
      current += key[++i];
    } else if (ch === ".") {
      if (current !== "") parts.push(current);
      current = "";
    } else if (ch === "[") {
      if (current !== "") parts.push(current);
      current = "";
      const end = key.indexOf("]", i);
      if (end < 0) throw new SyntaxError(`Unclosed "[" in --set key "${key}"`);
      parts.push(Number(key.slice(i + 1, end)));
      i = end;
    } else {
      current += ch;
    }
  }
  if (current !== "") parts.push(current);
  return parts;
}

function setPath(root: { [key: string]: Json }, path: (string | number)[], value: Json): void {
  // deno-lint-ignore no-explicit-any -- walking a JSON tree of mixed objects and arrays
  let node: any = root;
  path.forEach((part, i) => {
    const last = i === path.length - 1;
    const next = path[i + 1];
    if (last) {
      node[part] = value;
      return;
    }
    if (node[part] === undefined || node[part] === null || typeof node[part] !== "object") {
      node[part] = typeof next === "number" ? [] : {};
    }
    node = node[part];
  });
}

/**
 * Applies the `--set` / `--set-string` options found in a helm argv to a copy
 * of `values` (one assignment per option; no commas), as Helm merges them
 * over values.yaml.
 */
export function applyHelmSets(values: Json, argv: readonly string[]): Json {
  const out = structuredClone(values) as { [key: string]: Json };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag !== "--set" && flag !== "--set-string") continue;
    const assignment = argv[++i];
    if (assignment === undefined) throw new SyntaxError(`${flag} without a value`);
    const eq = assignment.indexOf("=");
    if (eq < 0 || assignment.includes(",")) {
      throw new SyntaxError(`Unsupported ${flag} "${assignment}" (one KEY=VALUE, no commas)`);
    }
    const raw = assignment.slice(eq + 1);
    setPath(out, splitKey(assignment.slice(0, eq)), flag === "--set" ? typed(raw) : raw);
  }
  return out;
}

// ---------------------------------------------------------------------------
// A container's securityContext, applied to a local process

/** The parts of a Kubernetes container securityContext that setpriv can apply. */
export interface ContainerSecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
}

/**
 * The `setpriv` argv prefix that gives a root process what a container
 * runtime gives a root container with `context`: only the added
 * capabilities in its bounding set (so in its permitted and effective
 * sets after exec), no inheritable ones, and no_new_privs when privilege
 * escalation is off. Throws a `RangeError` for a context that does not
 * drop ALL or is privileged, which this cannot model.
 */
export function setprivPrefix(context: ContainerSecurityContext): string[] {
  if (context.privileged === true) {
    throw new RangeError("Cannot model a privileged container with setpriv");
  }
  const drop = context.capabilities?.drop ?? [];
  if (!drop.includes("ALL")) {
    throw new RangeError(`Cannot model capabilities.drop ${JSON.stringify(drop)}: expected ALL`);
  }
  const add = (context.capabilities?.add ?? []).map((c) => `+${c.toLowerCase()}`);
  return [
    "setpriv",
    `--bounding-set=${["-all", ...add].join(",")}`,
    "--inh-caps=-all",
    ...(context.allowPrivilegeEscalation === false ? ["--no-new-privs"] : []),
    "--",
  ];
}

/** A Kubernetes memory quantity ("128Mi", "1Gi", "500M", "1048576") in bytes. */
export function memoryBytes(quantity: string | number): number {
  if (typeof quantity === "number") return quantity;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m) throw new SyntaxError(`Cannot parse memory quantity "${quantity}"`);
  const scale: Record<string, number> = {
    "": 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(m[1]) * scale[m[2] ?? ""]!;
}

/** VmRSS of `pid` in bytes, or `undefined` when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** The permission flags `deno task build` compiles into the executable (scripts/build.sh). */
export async function buildPermissions(): Promise<string[]> {
  const text = await Deno.readTextFile(`${REPO_DIR}/scripts/build.sh`);
  const code = text.split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
  const flags = [...new Set([...code.matchAll(/--allow-[a-z-]+(?:=\S+)?/g)].map((m) => m[0]))];
  assert.ok(flags.length > 0, "no --allow-* flags in scripts/build.sh");
  assert.ok(!flags.includes("--allow-all") && !code.includes(" -A "), "build.sh must not use -A");
  return flags;
}
