import assert from "node:assert/strict";
import { makeCommunity } from "../net/community.ts";
import fc from "fast-check";
import YAML from "yaml";
import { ConfigError } from "./errors.ts";
import { defaultEnv, loadConfig, MAX_CONFIG_BYTES, parseConfigText } from "./load.ts";
import { type ConfigEnv, resolveConfig } from "./schema.ts";

const fakeEnv: ConfigEnv = {
  interfaceAddresses: (name) => (name === "eth0" ? ["192.0.2.10"] : undefined),
};

/** The example from the seed README (comments translated; it sets communityAsn twice). */
const SEED_EXAMPLE = `logLevel: info
advertiseSelf: true          # write the local /32 + community into the RIB
communityAsn: 65000          # VNIs without a community get ASN:VNI
gobgp:
  address: "127.0.0.1:50051" # gobgpd gRPC
  timeout: "5s"
node:
  localInterface: "eth0"     # take this interface's IPv4, or set localAddress
  localAddress: ""           # empty: detect
  vxlanPort: 4789
communityAsn: 65000
`;

function refusedText(text: string, env: ConfigEnv = fakeEnv): ConfigError {
  try {
    parseConfigText(text, "agent.yaml", env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected the configuration to be refused");
}

Deno.test("parseConfigText() refuses the seed example's repeated communityAsn with line and column", () => {
  const error = refusedText(SEED_EXAMPLE);
  assert.equal(
    error.message,
    'agent.yaml:11:1: duplicate key "communityAsn" (keys must be unique)',
  );
  assert.deepEqual(error.issues, [
    { path: "agent.yaml:11:1", message: 'duplicate key "communityAsn" (keys must be unique)' },
  ]);
  assert.equal(error.file, "agent.yaml");
});

Deno.test("parseConfigText() resolves the seed example once the repeated key is gone", () => {
  const text = SEED_EXAMPLE.replace(/communityAsn: 65000\n$/, "");
  // The same as the document resolved directly: the loader adds nothing of its own.
  assert.deepEqual(
    parseConfigText(text, "agent.yaml", fakeEnv),
    resolveConfig({
      logLevel: "info",
      advertiseSelf: true,
      communityAsn: 65000,
      gobgp: { address: "127.0.0.1:50051", timeout: "5s" },
      node: { localInterface: "eth0", localAddress: "", vxlanPort: 4789 },
    }, fakeEnv),
  );
});

Deno.test("parseConfigText() reads static VNIs, including unquoted communities", () => {
  const config = parseConfigText(
    `communityAsn: 65000
vnis:
  - id: 10010
  - id: 10011
    community: 65001:11
    device: vx11
    underlayInterface: eth1
`,
    "agent.yaml",
    fakeEnv,
  );
  assert.deepEqual(config.vnis, [
    {
      id: 10010,
      community: makeCommunity(65000, 10010),
      device: "vxlan10010",
      underlayInterface: undefined,
      routeTargets: [{ kind: "as2", asn: 65000, value: 10010 }],
      rd: undefined,
    },
    {
      id: 10011,
      community: makeCommunity(65001, 11),
      device: "vx11",
      underlayInterface: "eth1",
      routeTargets: [{ kind: "as2", asn: 65000, value: 10011 }],
      rd: undefined,
    },
  ]);
});

Deno.test("parseConfigText() reports YAML syntax errors as file:line:col", () => {
  const error = refusedText("communityAsn: 1\nvnis: [1,\n");
  assert.equal(error.issues.length, 1, error.message);
  assert.match(error.message, /^agent\.yaml:3:1: .*Flow sequence/);

  const nested = refusedText("node:\n  vxlanPort: 1\n  vxlanPort: 2\n");
  assert.equal(nested.message, 'agent.yaml:3:3: duplicate key "vxlanPort" (keys must be unique)');

  assert.match(refusedText("a: 1\n---\nb: 2\n").message, /^agent\.yaml:2:1: .*multiple documents/);
  assert.match(refusedText("x: !custom 1\n").message, /^agent\.yaml:1:4: Unresolved tag: !custom/);
});

Deno.test("parseConfigText() reports an alias without anchor where it is written", () => {
  assert.equal(
    refusedText("communityAsn: 1\nnode:\n  localInterface: *nic\n").message,
    'agent.yaml:3:19: alias "*nic" has no anchor "&nic" before it',
  );
});

Deno.test("parseConfigText() refuses alias bombs", () => {
  const bomb = [
    "a: &a [x, x, x, x, x, x, x, x, x, x]",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
  ].join("\n");
  assert.match(refusedText(bomb).message, /^agent\.yaml: .*alias/i);
});

Deno.test("parseConfigText() reports configuration issues by key path and names the file", () => {
  const error = refusedText(
    "communityAsn: 1\nnode:\n  vxlanport: 4789\nvnis:\n  - id: 10\n    community: 65000:70000\n",
  );
  assert.equal(error.file, "agent.yaml");
  assert.deepEqual(error.issues.map((i) => i.path), ["node.vxlanport", "vnis[0].community"]);
  assert.match(
    error.message,
    /^agent\.yaml:3:3: node\.vxlanport: unknown key; did you mean "vxlanPort"\?$/m,
  );
});

Deno.test("parseConfigText() puts file:line:col of the key in front of configuration issues", () => {
  const error = refusedText(
    "communityAsn: 1\nnode:\n  vxlanport: 4789\n  vxlanPort: 0\nvnis:\n  - id: 10\n" +
      '    community: 65000:70000\n  - community: "1:2"\n',
  );
  const at = (path: string) => error.issues.find((i) => i.path === path)?.at;
  assert.equal(at("node.vxlanport"), "agent.yaml:3:3");
  assert.equal(at("node.vxlanPort"), "agent.yaml:4:3");
  assert.equal(at("vnis[0].community"), "agent.yaml:7:5");
  // A required key that is absent: where its mapping starts.
  assert.equal(at("vnis[1].id"), "agent.yaml:8:5");
  assert.match(
    error.message,
    /^agent\.yaml:3:3: node\.vxlanport: unknown key; did you mean "vxlanPort"\?$/m,
  );
  assert.match(error.message, /^agent\.yaml:4:3: node\.vxlanPort: port 0 is outside 1\.\.65535$/m);
  // No place in the file to point at: the key path alone.
  const none = refusedText("advertiseSelf: true\n");
  assert.equal(none.issues[0]?.at, undefined);
  assert.match(none.message, /^vnis: no static VNIs/);
});

Deno.test("parseConfigText() refuses empty and null documents", () => {
  for (const text of ["", "# only a comment\n", "null\n", "~\n"]) {
    const error = refusedText(text);
    assert.equal(error.issues.length, 1, error.message);
    assert.equal(error.issues[0]?.path, "vnis");
    assert.match(error.message, /one of them is needed/);
  }
});

Deno.test("loadConfig() reads and resolves a file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, "communityAsn: 65000\nlogLevel: warn\n");
    const config = await loadConfig(path, fakeEnv);
    assert.equal(config.logLevel, "warning");
    assert.equal(config.communityAsn, 65000);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadConfig() says a missing file does not exist, without repeating its path", async () => {
  const path = "/nonexistent/evpn-agent/config.yaml";
  const error = await loadConfig(path, fakeEnv).then(
    () => assert.fail("expected a ConfigError"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConfigError);
  assert.ok(error.cause instanceof Deno.errors.NotFound);
  assert.equal(error.file, path);
  assert.equal(error.issues[0]?.path, "(file)");
  assert.equal(error.message, "(file): no such file");
});

Deno.test("loadConfig() gives the OS reason for an unreadable file, naming it once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "evpn-load-" });
  try {
    // A path through a regular file: the OS refuses with ENOTDIR.
    await Deno.writeTextFile(`${dir}/file`, "");
    const path = `${dir}/file/config.yaml`;
    const error = await loadConfig(path, fakeEnv).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^\(file\): cannot read the configuration file: Not a directory/);
    assert.ok(!error.message.includes(path), error.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The one issue of a refused file, as `loadConfig()` reports it. */
const fileIssue = (message: string) => [{ path: "(file)", message }];

async function refusedFile(path: string): Promise<ConfigError> {
  const error = await loadConfig(path, fakeEnv).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.file, path);
  return error;
}

Deno.test("loadConfig() refuses a directory as not a regular file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const error = await refusedFile(dir);
    assert.deepEqual(
      error.issues,
      fileIssue("not a regular file but a directory; give the path of a YAML file"),
    );
  } finally {
    await Deno.remove(dir);
  }
});

/**
 * `loadConfig(path)` in a child process with a deadline: a loader that never
 * returns (an endless file, a FIFO without writer) fails the test instead of
 * hanging it, and a child that reads without end is killed, not this process.
 */
async function loadInChild(path: string): Promise<{ issues?: unknown; loaded?: true }> {
  const script = `
    import { loadConfig } from ${JSON.stringify(new URL("./load.ts", import.meta.url).href)};
    try {
      await loadConfig(Deno.args[0], { interfaceAddresses: () => undefined });
      console.log(JSON.stringify({ loaded: true }));
    } catch (error) {
      console.log(JSON.stringify({ issues: error.issues ?? String(error) }));
    }`;
  const deadline = AbortSignal.timeout(20_000);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script, path],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: deadline,
  }).output();
  assert.ok(!deadline.aborted, `loadConfig(${JSON.stringify(path)}) did not return within 20 s`);
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${stdout}${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(stdout);
}

Deno.test("loadConfig() refuses /dev/zero at once instead of reading it without end", async () => {
  assert.deepEqual(await loadInChild("/dev/zero"), {
    issues: fileIssue("not a regular file but a character device; give the path of a YAML file"),
  });
});

Deno.test("loadConfig() refuses a FIFO without waiting for a writer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/config.yaml`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
    assert.deepEqual(await loadInChild(fifo), {
      issues: fileIssue("not a regular file but a FIFO; give the path of a YAML file"),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() refuses a file over 1 MiB and reads one of exactly 1 MiB", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    const head = "communityAsn: 65000\n#";
    const exact = head + "x".repeat(MAX_CONFIG_BYTES - head.length - 1) + "\n";
    assert.equal(exact.length, 1024 * 1024);
    await Deno.writeTextFile(path, exact);
    assert.equal((await loadConfig(path, fakeEnv)).communityAsn, 65000);

    await Deno.writeTextFile(path, exact + "\n");
    const error = await refusedFile(path);
    assert.deepEqual(
      error.issues,
      fileIssue("1048577 bytes, more than the 1 MiB (1048576 bytes) a configuration file may have"),
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadConfig() reads a file through a symbolic link", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/real.yaml`, "communityAsn: 65001\n");
    await Deno.symlink(`${dir}/real.yaml`, `${dir}/config.yaml`);
    assert.equal((await loadConfig(`${dir}/config.yaml`, fakeEnv)).communityAsn, 65001);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defaultEnv() lists IPv4 and IPv6 addresses and undefined for missing interfaces", () => {
  const env = defaultEnv();
  assert.equal(env.interfaceAddresses("no-such-nic0"), undefined);
  if (Deno.build.os === "linux") {
    const lo = env.interfaceAddresses("lo") ?? [];
    assert.ok(lo.includes("127.0.0.1"), JSON.stringify(lo));
    assert.ok(lo.every((a) => a === "127.0.0.1" || a === "::1"), JSON.stringify(lo));
  }
});

// ---------------------------------------------------------------------------
// Property: whatever the input, the only failure is a ConfigError.

const _KEYS = [
  "logLevel",
  "advertiseSelf",
  "communityAsn",
  "gobgp",
  "node",
  "vnis",
  "address",
  "timeout",
  "localInterface",
  "localAddress",
  "vxlanPort",
  "id",
  "community",
  "device",
  "underlayInterface",
];

/** Values near the config's own shape, so that the deep rules get exercised too. */
const configish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom("5s", "0s", "1m30s", "eth0", "", "65000:1", "1:70000", "127.0.0.1:1", "warn"),
    fc.integer({ min: -2, max: 70_000 }),
    fc.constantFrom(16_777_215, 16_777_216, 1.5, -0, null, true, false),
    fc.string(),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(..._KEYS), fc.string()), tie("value"), {
      maxKeys: 5,
    }),
  ),
})).value;

function onlyConfigErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    assert.ok(error.issues.length > 0, "a ConfigError carries at least one issue");
    assert.equal(error.message.split("\n").length >= error.issues.length, true);
  }
}

Deno.test("parseConfigText() throws nothing but ConfigError, whatever the text", () => {
  const text = fc.oneof(
    fc.string({ unit: "grapheme-ascii", maxLength: 200 }),
    fc.jsonValue().map((value) => JSON.stringify(value)),
    configish.map((value) => YAML.stringify(value)),
    configish.map((value) => JSON.stringify(value) ?? ""),
  );
  fc.assert(
    fc.property(text, (t) => onlyConfigErrors(() => parseConfigText(t, "p.yaml", fakeEnv))),
    { seed: 20_240_901, numRuns: 500 },
  );
});

Deno.test("resolveConfig() throws nothing but ConfigError, whatever the value", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.jsonValue(), configish),
      (value) => onlyConfigErrors(() => resolveConfig(value, fakeEnv)),
    ),
    { seed: 20_240_902, numRuns: 500 },
  );
});
