/**
 * The bare-host packaging: `config.example.yaml`, the README's configuration
 * table, `packaging/systemd/evpn-agent.service`, `scripts/install.sh`, and the
 * start-up privilege check under the unit's model (an unprivileged user with
 * only the ambient CAP_NET_ADMIN).
 *
 * What is real here and what is not: the unit is checked with
 * `systemd-analyze verify` and `security --offline` but never started (these
 * machines have no systemd as PID 1). `bin/evpn-agent` cannot be built here
 * (`deno compile` needs Deno's download host), so install.sh is run with a
 * stand-in: a two-line shell script that runs this checkout's main.ts. Every
 * install goes into a temporary directory. The privilege check runs the real
 * agent from this checkout, with the permissions scripts/build.sh compiles in
 * (not -A), under `setpriv` as `nobody`, in a new, empty network namespace.
 */
import { makeCommunity } from "../src/net/community.ts";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import YAML, { isMap, isPair, isScalar, isSeq, type Node as YamlNode } from "yaml";
import { rootOnly } from "../scripts/lab/privileges.ts";
import {
  type ConfigEnv,
  parseConfigText,
  RELOAD_KEYS,
  resolveConfig,
  toUserConfig,
  UserConfigSchema,
} from "../src/config/mod.ts";
import { VERSION } from "../src/version.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const EXAMPLE = `${REPO}/config.example.yaml`;
const UNIT = `${REPO}/packaging/systemd/evpn-agent.service`;
const INSTALL = `${REPO}/scripts/install.sh`;

/** An interface table with one `eth0` (the example's `node.localInterface`). */
const FAKE_ENV: ConfigEnv = {
  interfaceAddresses: (name) => name === "eth0" ? ["192.0.2.11"] : undefined,
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd ?? REPO,
    env: options.env ?? {},
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return `${dir}/${cmd}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** A tool the test needs: skipped (reason printed) when absent, a failure in CI. */
function needTool(cmd: string): { ignore: boolean; check: () => void } {
  const ci = ["true", "1"].includes(Deno.env.get("CI")?.toLowerCase() ?? "");
  const found = which(cmd) !== undefined;
  if (!found && !ci) console.log(`skipping: ${cmd} is not installed`);
  return {
    ignore: !found && !ci,
    check: () => assert.ok(found, `${cmd} is not installed, and CI=true: failing`),
  };
}

// ---------------------------------------------------------------------------
// Keys, from the schema itself

/** zod's definition object, as far as walking key paths needs it. */
interface _Def {
  type: string;
  innerType?: { def: _Def };
  element?: { def: _Def };
  shape?: Record<string, { def: _Def }>;
}

/** Every key path the schema accepts: `logLevel`, `gobgp.timeout`, `vnis[].id`. */
function schemaKeyPaths(): string[] {
  const paths: string[] = [];
  const walk = (def: _Def, prefix: string) => {
    if ((def.type === "optional" || def.type === "nullable") && def.innerType) {
      return walk(def.innerType.def, prefix);
    }
    if (def.type === "array" && def.element) return walk(def.element.def, `${prefix}[]`);
    if (def.type === "object" && def.shape) {
      for (const [key, value] of Object.entries(def.shape)) {
        const path = prefix === "" ? key : `${prefix}.${key}`;
        paths.push(path);
        walk(value.def, path);
      }
    }
  };
  walk((UserConfigSchema as unknown as { def: _Def }).def, "");
  return paths;
}

/** The key paths present in a YAML document, in the same notation. */
function documentKeyPaths(node: unknown, prefix = "", out: string[] = []): string[] {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const path = prefix === "" ? key : `${prefix}.${key}`;
      out.push(path);
      documentKeyPaths(pair.value, path, out);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) documentKeyPaths(item, `${prefix}[]`, out);
  }
  return out;
}

/** The example with its commented-out `vnis` and `gobgp.tls` blocks enabled, as its header says to. */
function exampleWithVnis(text: string): string {
  const lines = text.split("\n");
  const start = lines.indexOf("#vnis:");
  assert.ok(start > 0, "config.example.yaml has no commented-out `#vnis:` line");
  const tls = lines.indexOf("  #tls:");
  assert.ok(tls > 0, "config.example.yaml has no commented-out `  #tls:` line");
  let inTls = false;
  return lines.map((line, i) => {
    if (i === tls) inTls = true;
    if (inTls && line.startsWith("  #")) return `  ${line.slice(3)}`;
    inTls = false;
    if (i < start || line === "") return line;
    assert.ok(line.startsWith("#"), `line ${i + 1} after #vnis: is not commented out: ${line}`);
    return line.slice(1);
  }).join("\n");
}

const EXAMPLE_TEXT = await Deno.readTextFile(EXAMPLE);

Deno.test("schemaKeyPaths() walks the schema (sanity check of the walker)", () => {
  const paths = schemaKeyPaths();
  for (const path of ["logLevel", "http.listen", "gobgp.restartHoldTime", "vnis[].id"]) {
    assert.ok(paths.includes(path), `${path} not found in ${paths.join(", ")}`);
  }
  assert.ok(paths.length >= 20, paths.join(", "));
});

Deno.test("config.example.yaml passes the agent's validation and sets every key to its default", () => {
  const config = parseConfigText(EXAMPLE_TEXT, "config.example.yaml", FAKE_ENV);
  // communityAsn has no default; everything else must be exactly what an
  // otherwise empty file resolves to, so the file's values are the defaults.
  assert.deepEqual(config, resolveConfig({ communityAsn: 65000 }, FAKE_ENV));
  assert.deepEqual(config.vnis, [], "as written the example is in discovery mode");
});

Deno.test("config.example.yaml with its vnis block enabled is valid and holds every key", () => {
  const text = exampleWithVnis(EXAMPLE_TEXT);
  const config = parseConfigText(text, "config.example.yaml (vnis enabled)", FAKE_ENV);
  assert.deepEqual(config.vnis, [{
    id: 10010,
    community: makeCommunity(65000, 10010),
    device: "vxlan10010",
    underlayInterface: "eth0",
    routeTargets: [{ kind: "as2", asn: 65000, value: 10010 }],
    rd: { kind: "ipv4", admin: "192.0.2.11", assigned: 10010 },
  }]);
  const present = new Set(documentKeyPaths(YAML.parseDocument(text).contents));
  const missing = schemaKeyPaths().filter((path) => !present.has(path));
  assert.deepEqual(missing, [], `keys of the schema missing from config.example.yaml`);
});

Deno.test("every key in config.example.yaml has a comment", () => {
  const doc = YAML.parseDocument(exampleWithVnis(EXAMPLE_TEXT));
  const uncommented: string[] = [];
  const walk = (node: unknown, prefix: string) => {
    if (isSeq(node)) {
      node.items.forEach((item) => walk(item, `${prefix}[]`));
      return;
    }
    if (!isMap(node)) return;
    node.items.forEach((pair, i) => {
      if (!isPair(pair)) return;
      const key = pair.key as YamlNode;
      const path = `${prefix}${prefix ? "." : ""}${isScalar(key) ? key.value : key}`;
      const value = pair.value as YamlNode | null;
      const commented = Boolean(key.commentBefore) || Boolean(value?.comment) ||
        (i === 0 && Boolean(node.commentBefore)) ||
        // The first key of a list item: the comment sits before the item.
        (i === 0 && prefix.endsWith("[]"));
      if (!commented) uncommented.push(path);
      walk(value, path);
    });
  };
  walk(doc.contents, "");
  // A list item's first key shares the comment before the item; check it is there.
  assert.match(exampleWithVnis(EXAMPLE_TEXT), /# VNI, 1\.\.16777215\.\n {2}- id:/);
  assert.deepEqual(uncommented, []);
});

/**
 * The rows of README's tables in the section under `heading` (up to the next
 * heading of that level): the first column's key in backticks → the second column.
 */
async function readmeKeyTable(heading: string): Promise<Map<string, string>> {
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const level = heading.slice(0, heading.indexOf(" ") + 1);
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no "${heading}"`);
  const end = readme.indexOf(`\n${level}`, start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const rows = new Map<string, string>();
  for (const match of section.matchAll(/^\| `([^`]+)`\s*\| ([^|]+)\|/gm)) {
    rows.set(match[1] ?? "", (match[2] ?? "").trim());
  }
  return rows;
}

Deno.test("README's configuration table lists every key with its default", async () => {
  // The Configuration section only: Operations has a table of the same keys (Reload).
  const rows = await readmeKeyTable("## Configuration");
  const paths = schemaKeyPaths();
  const leaves = paths.filter((path) =>
    !paths.some((other) =>
      other.startsWith(`${path}.`) ||
      other.startsWith(`${path}[]`)
    )
  );
  const missing = leaves.filter((path) => !rows.has(path));
  assert.deepEqual(missing, [], "keys of the schema missing from README's table");

  // Scalar defaults as the resolver applies them, written back as a user would.
  const defaults = toUserConfig(resolveConfig({ communityAsn: 65000 }, FAKE_ENV)) as Record<
    string,
    unknown
  >;
  const checked: string[] = [];
  for (const path of leaves) {
    // no plain default
    if (path.startsWith("vnis") || path.startsWith("gobgp.tls") || path === "communityAsn") {
      continue;
    }
    const [head, tail] = path.split(".");
    const section = defaults[head ?? ""];
    let value = tail === undefined ? section : (section as Record<string, unknown>)[tail];
    if (typeof value === "object") continue; // a section
    if (path === "node.localAddress") value = ""; // resolved from the interface
    const expected = typeof value === "string" && value === "" ? '`""`' : `\`${value}\``;
    assert.equal(rows.get(path), expected, `README default of ${path}`);
    checked.push(path);
  }
  assert.ok(checked.length >= 14, checked.join(", "));
});

Deno.test("README's Reload table says live or restart for every key as planReload() does", async () => {
  const rows = await readmeKeyTable("### Reload");
  for (const [key, mode] of Object.entries(RELOAD_KEYS)) {
    assert.ok(rows.get(key)?.startsWith(mode), `README Reload row of ${key}: want ${mode}`);
  }
  const leaves = schemaKeyPaths().filter((path) => !path.startsWith("vnis"));
  const missing = leaves.filter((path) =>
    !rows.has(path) && !path.match(/^(gobgp|gobgp\.tls|http|node)$/)
  );
  assert.deepEqual(missing, [], "keys without a row in README's Reload table");
});

// ---------------------------------------------------------------------------
// The systemd unit

/** `Key=value` lines of one section of a unit file, comments dropped. */
function unitSection(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1] ?? "";
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

Deno.test("the unit runs unprivileged with CAP_NET_ADMIN, after gobgpd, reloading with SIGHUP", async () => {
  const text = await Deno.readTextFile(UNIT);
  const unit = unitSection(text, "Unit");
  const service = unitSection(text, "Service");
  const one = (key: string) => service.get(key)?.join(" ");
  assert.match(unit.get("After")?.join(" ") ?? "", /\bgobgpd\.service\b/);
  assert.match(unit.get("Wants")?.join(" ") ?? "", /\bgobgpd\.service\b/);
  assert.equal(one("Restart"), "on-failure");
  assert.equal(one("RestartPreventExitStatus"), "2"); // a refused config is not retried
  assert.equal(one("ExecStart"), "/usr/local/bin/evpn-agent --config /etc/evpn-agent/config.yaml");
  assert.equal(one("DynamicUser"), "yes");
  assert.equal(one("User"), undefined);
  assert.equal(one("AmbientCapabilities"), "CAP_NET_ADMIN");
  assert.equal(one("CapabilityBoundingSet"), "CAP_NET_ADMIN");
  assert.equal(one("ExecReload"), "/bin/kill -HUP $MAINPID", "systemctl reload sends SIGHUP");
  // Options that would break netlink, the host's network namespace or V8's JIT.
  for (const key of ["PrivateNetwork", "MemoryDenyWriteExecute", "IPAddressDeny", "PrivateUsers"]) {
    assert.equal(one(key), undefined, `${key} must not be set`);
  }
  assert.match(one("RestrictAddressFamilies") ?? "", /\bAF_NETLINK\b/);
  assert.match(one("RestrictAddressFamilies") ?? "", /\bAF_INET\b/);
});

Deno.test({
  name: "systemd-analyze verify: only the missing executable, and nothing once it exists",
  ...needTool("systemd-analyze"),
  async fn() {
    needTool("systemd-analyze").check();
    const dir = await Deno.makeTempDir({ prefix: "evpn-unit-" });
    try {
      // The unit as shipped: the one complaint allowed is that
      // /usr/local/bin/evpn-agent does not exist on this machine.
      const shipped = await run("systemd-analyze", ["verify", UNIT], { cwd: dir });
      const lines = `${shipped.stdout}${shipped.stderr}`.trim().split("\n").filter((l) => l);
      let binaryExists = true;
      try {
        await Deno.stat("/usr/local/bin/evpn-agent");
      } catch {
        binaryExists = false;
      }
      if (binaryExists) {
        assert.deepEqual([shipped.code, lines], [0, []]);
      } else {
        assert.notEqual(shipped.code, 0);
        assert.deepEqual(lines, [
          "evpn-agent.service: Command /usr/local/bin/evpn-agent is not executable: " +
          "No such file or directory",
        ]);
      }
      // The same unit with ExecStart at an executable that exists: clean.
      const copy = `${dir}/evpn-agent.service`;
      await Deno.writeTextFile(
        copy,
        (await Deno.readTextFile(UNIT)).replaceAll("/usr/local/bin/evpn-agent", "/bin/true"),
      );
      const fixed = await run("systemd-analyze", ["verify", copy], { cwd: dir });
      assert.deepEqual([fixed.code, `${fixed.stdout}${fixed.stderr}`.trim()], [0, ""]);
      const security = await run("systemd-analyze", ["security", "--offline=true", copy]);
      const level = /Overall exposure level for evpn-agent\.service: ([\d.]+) (\w+)/.exec(
        security.stdout,
      );
      assert.ok(level, `${security.stdout}${security.stderr}`);
      assert.ok(Number(level[1]) < 4, `exposure ${level[1]} ${level[2]}: hardening was lost`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------
// scripts/install.sh

/** A stand-in for bin/evpn-agent (which cannot be built here): runs this checkout. */
async function standIn(dir: string): Promise<string> {
  const path = `${dir}/evpn-agent-stand-in`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ${Deno.execPath()} run -A --cached-only ${REPO}/main.ts "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

async function mode(path: string): Promise<number> {
  return ((await Deno.stat(path)).mode ?? 0) & 0o7777;
}

/** Every file under `root`, relative, sorted. */
async function files(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${root}${prefix}`)) {
    const path = `${prefix}/${entry.name}`;
    if (entry.isDirectory) out.push(...await files(root, path));
    else out.push(path);
  }
  return out.sort();
}

const BASE_ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };

Deno.test("install.sh is shellcheck-clean", {
  ...needTool("shellcheck"),
}, async () => {
  needTool("shellcheck").check();
  const r = await run("shellcheck", [INSTALL]);
  assert.equal(r.code, 0, r.stdout);
});

Deno.test("install.sh refuses without an evpn-agent executable and writes nothing", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "evpn-install-" });
  try {
    const dest = `${dir}/root`;
    await Deno.mkdir(dest);
    await t.step("a checkout without bin/evpn-agent: says how to build it", async () => {
      // A copy of the files install.sh reads, without bin/.
      const checkout = `${dir}/checkout`;
      for (const path of ["scripts/install.sh", "packaging/systemd/evpn-agent.service"]) {
        await Deno.mkdir(`${checkout}/${path.replace(/\/[^/]+$/, "")}`, { recursive: true });
        await Deno.copyFile(`${REPO}/${path}`, `${checkout}/${path}`);
      }
      await Deno.copyFile(EXAMPLE, `${checkout}/config.example.yaml`);
      await Deno.copyFile(`${REPO}/README.md`, `${checkout}/README.md`);
      const r = await run("bash", [`${checkout}/scripts/install.sh`], {
        env: { ...BASE_ENV, DESTDIR: dest },
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`no executable at ${checkout}/bin/evpn-agent`));
      assert.match(r.stderr, /deno task build/);
      assert.match(r.stderr, /no `deno run` fallback/);
    });
    await t.step(
      "the plain Deno CLI (what DENORT_BIN=deno produces) is not the agent",
      async () => {
        const r = await run("bash", [INSTALL, "--binary", Deno.execPath()], {
          env: { ...BASE_ENV, DESTDIR: dest },
        });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /is not an evpn-agent executable: --version printed "deno /);
      },
    );
    await t.step("bad arguments and paths the unit cannot hold", async () => {
      for (
        const [args, message] of [
          [["--frobnicate"], /unknown argument "--frobnicate"/],
          [["--prefix", "usr"], /--prefix "usr" is not an absolute path/],
          [["--sysconfdir", "/etc/100%"], /--sysconfdir "\/etc\/100%" contains a character/],
          [["--unitdir", "/a b"], /--unitdir "\/a b" contains a character/],
          [["--prefix"], /--prefix needs a value/],
        ] as const
      ) {
        const r = await run("bash", [INSTALL, ...args], { env: { ...BASE_ENV, DESTDIR: dest } });
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
    });
    assert.deepEqual(await files(dest), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install.sh puts the agent, the unit and the config in place and says so", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "evpn-install-" });
  try {
    const binary = await standIn(dir);
    const dest = `${dir}/root`;
    await Deno.mkdir(dest);
    const install = (args: string[] = []) =>
      run("bash", [INSTALL, "--binary", binary, ...args], { env: { ...BASE_ENV, DESTDIR: dest } });

    await t.step("into a staging root (DESTDIR) with the default paths", async () => {
      const r = await install();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.deepEqual(await files(dest), [
        "/etc/evpn-agent/config.yaml",
        "/etc/systemd/system/evpn-agent.service",
        "/usr/local/bin/evpn-agent",
        "/usr/local/share/doc/evpn-agent/README.md",
        "/usr/local/share/doc/evpn-agent/config.example.yaml",
      ]);
      assert.equal(await mode(`${dest}/usr/local/bin/evpn-agent`), 0o755);
      for (
        const path of [
          "/etc/evpn-agent/config.yaml",
          "/etc/systemd/system/evpn-agent.service",
          "/usr/local/share/doc/evpn-agent/config.example.yaml",
        ]
      ) assert.equal(await mode(`${dest}${path}`), 0o644, path);
      assert.equal(await mode(`${dest}/etc/evpn-agent`), 0o755);
      assert.equal(
        await Deno.readTextFile(`${dest}/usr/local/bin/evpn-agent`),
        await Deno.readTextFile(binary),
      );
      assert.equal(await Deno.readTextFile(`${dest}/etc/evpn-agent/config.yaml`), EXAMPLE_TEXT);
      // The default paths are the shipped unit's own: installed unchanged.
      assert.equal(
        await Deno.readTextFile(`${dest}/etc/systemd/system/evpn-agent.service`),
        await Deno.readTextFile(UNIT),
      );
      assert.deepEqual(r.stdout.trimEnd().split("\n"), [
        `install: installed ${dest}/usr/local/bin/evpn-agent (mode 0755, evpn-agent ${VERSION}) from ${binary}`,
        `install: installed ${dest}/usr/local/share/doc/evpn-agent/config.example.yaml and README.md (mode 0644)`,
        `install: installed ${dest}/etc/evpn-agent/config.yaml (mode 0644) from config.example.yaml: review it`,
        `install: installed ${dest}/etc/systemd/system/evpn-agent.service (mode 0644): ExecStart=/usr/local/bin/evpn-agent --config /etc/evpn-agent/config.yaml`,
        "install: next: /usr/local/bin/evpn-agent check-config /etc/evpn-agent/config.yaml",
        "install: then: systemctl daemon-reload && systemctl enable --now evpn-agent",
        "install: it runs as a dynamic unprivileged user with CAP_NET_ADMIN only, after gobgpd.service; no reload: after a config change, systemctl restart evpn-agent",
      ]);
    });

    await t.step("a second run keeps an existing config.yaml", async () => {
      const config = `${dest}/etc/evpn-agent/config.yaml`;
      await Deno.writeTextFile(config, "communityAsn: 64512\n");
      const r = await install();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await Deno.readTextFile(config), "communityAsn: 64512\n");
      assert.match(r.stdout, new RegExp(`kept the existing ${config} `));
      assert.doesNotMatch(r.stdout, /config\.yaml \(mode 0644\) from/);
    });

    await t.step("other paths: the unit names them, verifies, and the agent runs", async () => {
      // No DESTDIR: every path is under the temporary directory, so the
      // installed unit's ExecStart names a file that exists and
      // systemd-analyze can verify the unit exactly as installed.
      const prefix = `${dir}/usr`;
      const etc = `${dir}/etc`;
      const units = `${dir}/units`;
      const r = await run("bash", [
        INSTALL,
        "--binary",
        binary,
        "--prefix",
        prefix,
        "--sysconfdir",
        etc,
        "--unitdir",
        units,
      ], { env: { ...BASE_ENV, DESTDIR: "" } });
      assert.equal(r.code, 0, r.stderr);
      const unit = await Deno.readTextFile(`${units}/evpn-agent.service`);
      const service = unitSection(unit, "Service");
      assert.deepEqual(service.get("ExecStart"), [
        `${prefix}/bin/evpn-agent --config ${etc}/evpn-agent/config.yaml`,
      ]);
      assert.deepEqual(unitSection(unit, "Unit").get("Documentation"), [
        `file:${prefix}/share/doc/evpn-agent/README.md`,
      ]);
      const version = await run(`${prefix}/bin/evpn-agent`, ["--version"], { env: BASE_ENV });
      assert.equal(version.stdout.trim(), `evpn-agent ${VERSION}`);
      if (which("systemd-analyze")) {
        const verify = await run("systemd-analyze", ["verify", `${units}/evpn-agent.service`], {
          cwd: dir,
        });
        assert.deepEqual([verify.code, `${verify.stdout}${verify.stderr}`.trim()], [0, ""]);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install.sh --help prints its usage", async () => {
  const r = await run("bash", [INSTALL, "--help"], { env: BASE_ENV });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Installs evpn-agent on a bare host/);
  assert.match(r.stdout, /--destdir/);
});

// ---------------------------------------------------------------------------
// Root: the privilege check as the unit runs the agent, and check-config

/** DENO_DIR for `nobody`: a copy of this user's npm cache (root's is not readable). */
async function denoDirFor(dir: string): Promise<string> {
  const info = await run(Deno.execPath(), ["info", "--json"], {
    env: { ...BASE_ENV, ...denoEnv() },
  });
  const source = (JSON.parse(info.stdout) as { denoDir: string }).denoDir;
  const target = `${dir}/deno-dir`;
  await Deno.mkdir(target);
  const cp = await run("cp", ["-r", `${source}/npm`, `${target}/npm`]);
  assert.equal(cp.code, 0, cp.stderr);
  const chown = await run("chown", ["-R", "nobody:nogroup", target], { env: BASE_ENV });
  assert.equal(chown.code, 0, chown.stderr);
  return target;
}

function denoEnv(): Record<string, string> {
  const dir = Deno.env.get("DENO_DIR");
  return dir ? { DENO_DIR: dir } : {};
}

/**
 * The permissions `deno task build` compiles into bin/evpn-agent, read from
 * scripts/build.sh: the agent under the unit runs with exactly these, not -A.
 */
async function buildPermissions(): Promise<string[]> {
  const build = await Deno.readTextFile(`${REPO}/scripts/build.sh`);
  const line = /^\s*compile\n\s*((?:--allow-\w+ ?)+)$/m.exec(build)?.[1];
  assert.ok(line, "no permission flags after `compile` in scripts/build.sh");
  const flags = line.trim().split(/\s+/);
  assert.ok(flags.includes("--allow-ffi") && !flags.includes("--allow-all"), line);
  return flags;
}

const SETPRIV_NOBODY = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
const AMBIENT_NET_ADMIN = ["--inh-caps=+net_admin", "--ambient-caps=+net_admin"];

/** Reads `stream` until `pattern` appears in what was read, or `ms` pass. */
async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  ms: number,
): Promise<{ text: string; matched: boolean; rest: Promise<string> }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  while (!pattern.test(text) && Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), deadline - Date.now());
    });
    const next = await Promise.race([reader.read(), timeout]);
    clearTimeout(timer);
    if (next === "timeout" || next.done) break;
    text += decoder.decode(next.value, { stream: true });
  }
  const rest = (async () => {
    let more = "";
    for (;;) {
      const next = await reader.read();
      if (next.done) return more;
      more += decoder.decode(next.value, { stream: true });
    }
  })();
  return { text, matched: pattern.test(text), rest };
}

const privileges = rootOnly("the privilege check as nobody with ambient CAP_NET_ADMIN");

Deno.test({
  name: "the start-up check accepts nobody with only the ambient CAP_NET_ADMIN, refuses without",
  ignore: privileges.ignore,
  async fn(t) {
    privileges.check();
    for (const tool of ["setpriv", "unshare", "ip"]) assert.ok(which(tool), `${tool} is missing`);
    const dir = await Deno.makeTempDir({ prefix: "evpn-privileges-" });
    try {
      await Deno.chmod(dir, 0o755);
      const permissions = await buildPermissions();
      const env = { ...BASE_ENV, DENO_DIR: await denoDirFor(dir), NO_COLOR: "1" };

      await t.step("hasNetAdmin() as nobody, with and without the capability", async () => {
        const script = `${dir}/check.ts`;
        await Deno.writeTextFile(
          script,
          `import { effectiveCapabilities, hasNetAdmin } from ${
            JSON.stringify(`file://${REPO}/src/privileges.ts`)
          };\n` +
            `console.log(JSON.stringify({ uid: Deno.uid(), ` +
            `capEff: effectiveCapabilities()?.toString(16), hasNetAdmin: hasNetAdmin() }));\n`,
        );
        await Deno.chmod(script, 0o644);
        const deno = [Deno.execPath(), "run", ...permissions, "--cached-only", "--no-config"];
        const withCap = await run("setpriv", [
          ...SETPRIV_NOBODY,
          ...AMBIENT_NET_ADMIN,
          ...deno,
          script,
        ], { env, cwd: dir });
        assert.equal(withCap.code, 0, withCap.stderr);
        assert.deepEqual(JSON.parse(withCap.stdout), {
          uid: 65534,
          capEff: "1000", // CAP_NET_ADMIN (bit 12) and nothing else
          hasNetAdmin: true,
        });
        const without = await run("setpriv", [...SETPRIV_NOBODY, ...deno, script], {
          env,
          cwd: dir,
        });
        assert.equal(without.code, 0, without.stderr);
        assert.deepEqual(JSON.parse(without.stdout), {
          uid: 65534,
          capEff: "0",
          hasNetAdmin: false,
        });
      });

      // The real start path, in a new empty network namespace (only lo), with
      // a configured VNI whose device does not exist there and no HTTP
      // endpoint: nothing on the host is touched.
      const config = `${dir}/config.yaml`;
      await Deno.writeTextFile(
        config,
        [
          "communityAsn: 65000",
          "http:",
          '  listen: ""',
          "node:",
          "  localAddress: 192.0.2.11",
          "vnis:",
          "  - id: 10010",
          "",
        ].join("\n"),
      );
      await Deno.chmod(config, 0o644);
      const agent = (caps: string[]) =>
        new Deno.Command("unshare", {
          args: [
            "--net",
            "sh",
            "-c",
            'ip link set lo up && exec setpriv "$@"',
            "sh",
            ...SETPRIV_NOBODY,
            ...caps,
            Deno.execPath(),
            "run",
            ...permissions,
            "--cached-only",
            `${REPO}/main.ts`,
            "--config",
            config,
          ],
          cwd: REPO,
          env,
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn();

      await t.step("the agent as nobody with ambient CAP_NET_ADMIN starts, and stops", async () => {
        const child = agent(AMBIENT_NET_ADMIN);
        const started = await readUntil(child.stderr, /Starting: VTEP 192\.0\.2\.11/, 30_000);
        let status = "";
        try {
          status = await Deno.readTextFile(`/proc/${child.pid}/status`);
        } finally {
          child.kill("SIGTERM");
        }
        const { code } = await child.status;
        const log = started.text + await started.rest;
        assert.ok(started.matched, log);
        assert.doesNotMatch(log, /lacks CAP_NET_ADMIN/);
        assert.match(status, /^Name:\s*deno$/m); // the agent itself, not a wrapper
        assert.match(status, /^Uid:\s*65534\s+65534\s+65534\s+65534$/m);
        assert.match(status, /^CapEff:\s*0000000000001000$/m);
        assert.match(status, /^CapAmb:\s*0000000000001000$/m);
        assert.equal(code, 0, log);
      });

      await t.step("the agent as nobody without the capability is refused, exit 1", async () => {
        const child = agent([]);
        const seen = await readUntil(child.stderr, /lacks CAP_NET_ADMIN|Starting:/, 30_000);
        // Refused, it exits by itself; if the check let it start, stop it.
        const stop = () => {
          try {
            child.kill("SIGTERM");
          } catch {
            // already exited
          }
        };
        const stopper = setTimeout(stop, seen.matched ? 10_000 : 0);
        const { code } = await child.status;
        clearTimeout(stopper);
        const log = seen.text + await seen.rest;
        assert.equal(code, 1, log);
        assert.match(log, /This process lacks CAP_NET_ADMIN/);
        assert.doesNotMatch(log, /Starting:/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const checkConfig = rootOnly("check-config of config.example.yaml in a namespace with eth0");

Deno.test({
  name: "`main.ts check-config config.example.yaml` accepts it where eth0 has an address",
  ignore: checkConfig.ignore,
  async fn() {
    checkConfig.check();
    // A new network namespace with an eth0 (a veth) at 192.0.2.11: the
    // example's node.localInterface, as on a typical host.
    const r = await run("unshare", [
      "--net",
      "sh",
      "-c",
      'ip link add eth0 type veth peer name eth0p && ip addr add 192.0.2.11/24 dev eth0 && exec "$@"',
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      "--cached-only",
      `${REPO}/main.ts`,
      "check-config",
      EXAMPLE,
    ], { env: { ...BASE_ENV, ...denoEnv(), NO_COLOR: "1" } });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /config\.example\.yaml: valid\./);
    assert.match(r.stdout, /^ {2}localAddress: 192\.0\.2\.11$/m);
    assert.match(r.stdout, /^vnis: \[\]$/m);
  },
});
