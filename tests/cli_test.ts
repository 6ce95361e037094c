/**
 * The command line on inputs that are not a small YAML file: `main.ts` run
 * as users run it, each time with a deadline, so a command that never
 * returns fails instead of hanging the suite.
 */
import assert from "node:assert/strict";
import { stringify as toYaml } from "yaml";
import { REPO_DIR } from "./_chart.ts";

const DEADLINE_MS = 30_000;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<CliResult> {
  const deadline = AbortSignal.timeout(DEADLINE_MS);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${REPO_DIR}/main.ts`, ...args],
    cwd: REPO_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: deadline,
  }).output();
  assert.ok(
    !deadline.aborted,
    `evpn-agent ${args.join(" ")} did not return within ${DEADLINE_MS / 1000} s`,
  );
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Runs `fn` in a new temporary directory, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "evpn-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertRefusedFile(result: CliResult, path: string, reason: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  const [first, second, ...rest] = result.stderr.trimEnd().split("\n");
  assert.equal(first, `evpn-agent: refusing configuration ${path}:`);
  assert.match(second ?? "", reason);
  assert.deepEqual(rest, []);
}

for (const args of [["check-config", "/dev/zero"], ["--config", "/dev/zero"]]) {
  Deno.test(`evpn-agent ${args.join(" ")} is refused at once with exit 2`, async () => {
    assertRefusedFile(
      await cli(args),
      "/dev/zero",
      /^\(file\): not a regular file but a character device; /,
    );
  });
}

Deno.test("evpn-agent --config FIFO and --config DIR are refused with exit 2", async () => {
  await inTempDir(async (dir) => {
    const fifo = `${dir}/fifo.yaml`;
    assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    assertRefusedFile(
      await cli(["--config", fifo]),
      fifo,
      /^\(file\): not a regular file but a FIFO; /,
    );
    assertRefusedFile(
      await cli(["--config", dir]),
      dir,
      /^\(file\): not a regular file but a directory; /,
    );
  });
});

Deno.test("evpn-agent check-config of 20,000 VNIs with one mistake repeated prints 21 lines, exit 2", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/many.yaml`;
    const vnis = Array.from({ length: 20_000 }, (_, i) => ({ id: 10_000 + i, communty: "x" }));
    await Deno.writeTextFile(
      path,
      toYaml({ communityAsn: 65000, node: { localAddress: "192.0.2.10" }, vnis }),
    );
    const result = await cli(["check-config", path]);
    assert.equal(result.code, 2, result.stderr.slice(0, 2000));
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1 + 21, lines.slice(0, 30).join("\n"));
    // Each with the line of its key: two lines per VNI, the list from line 5.
    assert.equal(lines[1], `${path}:6:5: vnis[0].communty: unknown key; did you mean "community"?`);
    assert.equal(
      lines[20],
      `${path}:44:5: vnis[19].communty: unknown key; did you mean "community"?`,
    );
    assert.equal(lines[21], "... and 19980 more of the same kind as vnis[19].communty");
  });
});

for (const command of ["status", "check-config"]) {
  Deno.test(`evpn-agent ${command} --help prints its own usage, exit 0`, async () => {
    const result = await cli([command, "--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, new RegExp(`^Usage: evpn-agent ${command} `));
    assert.doesNotMatch(result.stdout, /Commands:/);
    assert.equal((await cli([command, "-h"])).stdout, result.stdout);
  });
}

Deno.test("evpn-agent with a mistyped command suggests the nearest one, exit 2", async () => {
  const result = await cli(["stauts"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'evpn-agent: unknown command "stauts"; did you mean "status"?\nTry --help.\n',
  );
  const far = await cli(["frobnicate"]);
  assert.equal(far.code, 2);
  assert.equal(
    far.stderr,
    'evpn-agent: unknown command "frobnicate"; the commands are status, check-config\n' +
      "Try --help.\n",
  );
});

Deno.test("evpn-agent --log-level warn is accepted as logLevel: warn is", async () => {
  // The level is accepted before the configuration is read: a missing file shows it passed.
  const result = await cli(["--log-level", "warn", "--config", "/nonexistent/evpn.yaml"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^evpn-agent: refusing configuration \/nonexistent\/evpn\.yaml:/);
  const refused = await cli(["--log-level", "loud", "--config", "/nonexistent/evpn.yaml"]);
  assert.equal(refused.code, 2);
  assert.equal(
    refused.stderr,
    'evpn-agent: --log-level: "loud" is not one of debug, info, warning (or warn), error\n',
  );
});

for (
  const [addr, reason] of [
    ["127.0.0.1", '"127.0.0.1" is not host:port (e.g. "127.0.0.1:9469")'],
    ["127.0.0.1:70000", 'port 70000 in "127.0.0.1:70000" is outside 1..65535'],
    ["127.0.0.1:", 'port "" in "127.0.0.1:" is not a number'],
  ]
) {
  Deno.test(`evpn-agent status --addr ${addr} is refused with exit 2`, async () => {
    const result = await cli(["status", "--addr", addr!]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `evpn-agent: status --addr: ${reason}\nTry status --help.\n`,
    );
  });
}

Deno.test("evpn-agent status against a closed port says connection refused, exit 1", async () => {
  const port = closedPort();
  const result = await cli(["status", "--addr", `127.0.0.1:${port}`]);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(
    result.stderr.split("\n")[0],
    `evpn-agent: status: cannot reach the agent: GET http://127.0.0.1:${port}/status: ` +
      "connection refused",
  );
});

for (
  const [args, hint] of [
    [["--config"], "with --config FILE"],
    [["check-config"], "as check-config FILE"],
    [["status", "--config"], "with status --config FILE"],
  ] as const
) {
  Deno.test(`evpn-agent ${args.join(" ")} of a missing file names it once, with a hint, exit 2`, async () => {
    const path = "/nonexistent/evpn-agent.yaml";
    const result = await cli([...args, path]);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      `evpn-agent: refusing configuration ${path}:\n(file): no such file\n` +
        `Give its path ${hint} (default /etc/evpn-agent/config.yaml).\n`,
    );
  });
}

Deno.test("evpn-agent check-config --offline checks a file for another host without its interfaces", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/other-host.yaml`;
    await Deno.writeTextFile(
      path,
      toYaml({ communityAsn: 65000, node: { localInterface: "nosuch0" } }),
    );
    const here = await cli(["check-config", path]);
    assert.equal(here.code, 2, here.stderr);
    assert.ok(
      here.stderr.includes(
        `\n${path}:3:3: node.localInterface: interface "nosuch0" does not exist`,
      ),
      here.stderr,
    );

    const offline = await cli(["check-config", "--offline", path]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /^# .*other-host\.yaml: valid \(--offline: /);
    assert.match(offline.stdout, /^ {2}localInterface: nosuch0$/m);
    assert.match(offline.stdout, /^ {2}localAddress: ""$/m);
    assert.deepEqual((await cli(["check-config", path, "--offline"])).code, 0);

    await Deno.writeTextFile(path, toYaml({ communityAsn: 65000, node: { vxlanPort: 0 } }));
    const bad = await cli(["check-config", "--offline", path]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /node\.vxlanPort: port 0 is outside 1\.\.65535/);
  });
});

Deno.test("evpn-agent status without --addr asks at the configuration file's http.listen", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/config.yaml`;
    const port = closedPort();
    // Meant for this host, but checked offline: a missing interface does not matter here.
    await Deno.writeTextFile(
      path,
      toYaml({
        communityAsn: 65000,
        node: { localInterface: "nosuch0" },
        http: { listen: `0.0.0.0:${port}` },
      }),
    );
    const fromFile = await cli(["status", "--config", path]);
    assert.equal(fromFile.code, 1, fromFile.stderr);
    assert.match(
      fromFile.stderr,
      new RegExp(
        `^evpn-agent: status: cannot reach the agent: GET http://127\\.0\\.0\\.1:${port}/status: connection refused$`,
        "m",
      ),
    );

    const other = closedPort();
    const flag = await cli(["status", "--config", path, "--addr", `127.0.0.1:${other}`]);
    assert.equal(flag.code, 1, flag.stderr);
    assert.match(flag.stderr, new RegExp(`GET http://127\\.0\\.0\\.1:${other}/status: `));

    await Deno.writeTextFile(path, toYaml({ communityAsn: 65000, http: { listen: "" } }));
    const disabled = await cli(["status", "--config", path]);
    assert.equal(disabled.code, 1);
    assert.equal(
      disabled.stderr,
      `evpn-agent: status: http.listen is "" in ${path}: the agent serves no /status; ` +
        "give --addr HOST:PORT\n",
    );
  });
});
