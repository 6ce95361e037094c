/**
 * The single executable and the image it ships in.
 *
 * `deno task build` (scripts/build.sh) cannot run on these machines: `deno
 * compile` downloads its runtime (denort) from Deno's release host, which is
 * unreachable here. So the smoke test of `bin/evpn-agent` runs whenever that
 * file exists (built elsewhere, or with DENORT_BIN) and is ignored, with the
 * reason printed, otherwise. What can be checked here is checked:
 * scripts/build.sh's arguments, the Dockerfile's build inputs and entry
 * point, and the runtime stage's glibc layout (the Dockerfile's own library
 * list, from this Debian release, in an otherwise empty root) running a
 * glibc Deno that loads libnl-route-3 with no ld.so.cache.
 */
import assert from "node:assert/strict";
import { stringify as toYaml } from "yaml";
import { rootOnly } from "../scripts/lab/privileges.ts";
import { VERSION } from "../src/version.ts";
import { UserConfigSchema } from "../src/config/mod.ts";
import { command, exists, REPO_DIR, which } from "./_chart.ts";

const BINARY = `${REPO_DIR}/bin/evpn-agent`;
const HAVE_BINARY = await exists(BINARY);
if (!HAVE_BINARY) {
  console.log(
    `skipping the compiled-executable smoke test: ${BINARY} does not exist ` +
      `(\`deno task build\` needs Deno's download host for denort, unreachable here; ` +
      `see scripts/build.sh)`,
  );
}

Deno.test({
  name: "bin/evpn-agent prints its version and checks a configuration (check-config)",
  ignore: !HAVE_BINARY,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "evpn-compiled-" });
    try {
      await t.step("--version", async () => {
        // From another directory: nothing may be read from the checkout.
        const r = await command(BINARY, ["--version"], { cwd: dir });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), `evpn-agent ${VERSION}`);
      });
      const config: Record<string, unknown> = {
        logLevel: "info",
        communityAsn: 65000,
        gobgp: { address: "127.0.0.1:50051", timeout: "5s" },
        node: { localInterface: "eth0", localAddress: "192.0.2.11", vxlanPort: 4789 },
        vnis: [{ id: 10010 }],
      };
      if ("http" in UserConfigSchema.shape) config["http"] = { listen: "192.0.2.11:9469" };
      await t.step("check-config accepts a valid file", async () => {
        await Deno.writeTextFile(`${dir}/good.yaml`, toYaml(config));
        const r = await command(BINARY, ["check-config", `${dir}/good.yaml`], { cwd: dir });
        assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      });
      await t.step("check-config refuses a bad file, naming the key", async () => {
        await Deno.writeTextFile(`${dir}/bad.yaml`, toYaml({ ...config, vnis: [{ id: 0 }] }));
        const r = await command(BINARY, ["check-config", `${dir}/bad.yaml`], { cwd: dir });
        assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
        assert.match(`${r.stdout}${r.stderr}`, /vnis\[0\]\.id/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("scripts/build.sh takes only Linux glibc targets and an output path", async (t) => {
  const build = `${REPO_DIR}/scripts/build.sh`;
  await t.step("an unsupported target is refused before deno runs", async () => {
    const r = await command("bash", [build, "--target", "x86_64-unknown-linux-musl"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unsupported target "x86_64-unknown-linux-musl"/);
    assert.doesNotMatch(r.stderr, /build: deno compile/);
  });
  await t.step("an unknown argument is refused", async () => {
    const r = await command("bash", [build, "--allow-all"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown argument "--allow-all"/);
  });
  await t.step("--help documents --target for arm64", async () => {
    const r = await command("bash", [build, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /aarch64-unknown-linux-gnu/);
    assert.match(r.stdout, /DENORT_BIN/);
  });
  await t.step("compiles with narrow permissions, never -A, no --include", async () => {
    const code = (await Deno.readTextFile(build)).split("\n")
      .filter((l) => !l.trimStart().startsWith("#")).join("\n");
    assert.doesNotMatch(code, /--include/);
    assert.match(code, /--allow-ffi --allow-net --allow-read --allow-env --allow-sys/);
    assert.doesNotMatch(code, /\s-A\b|--allow-all|--allow-run|--allow-write/);
  });
});

Deno.test("the build, deno task start and the lab run the agent with the same V8 flags", async () => {
  const { AGENT_V8_FLAGS } = await import("../scripts/lab/topology.ts");
  const flag = `--v8-flags=${AGENT_V8_FLAGS}`;
  const code = (await Deno.readTextFile(`${REPO_DIR}/scripts/build.sh`)).split("\n")
    .filter((l) => !l.trimStart().startsWith("#")).join("\n");
  assert.ok(code.includes(flag), `scripts/build.sh passes ${flag}`);
  const tasks = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))).tasks;
  assert.ok(tasks.start.includes(flag), `deno task start passes ${flag}`);
});

Deno.test("scripts/build.sh refuses a plain Deno CLI as output and embeds no test-only package", async () => {
  // DENORT_BIN at the deno CLI is the one "runtime" these machines have: deno
  // compile exits 0 and writes a file that is the Deno CLI, not the agent.
  const dir = await Deno.makeTempDir({ prefix: "evpn-build-" });
  try {
    const output = `${dir}/evpn-agent`;
    const r = await command("bash", [`${REPO_DIR}/scripts/build.sh`, "--output", output], {
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
    });
    const text = `${r.stdout}${r.stderr}`; // NO_COLOR: no escape codes
    assert.equal(r.code, 2, text.slice(-2000));
    assert.match(text, /is a plain Deno CLI, not the agent \(it answers "deno \d/);
    assert.match(text, /DENORT_BIN=\S+ points at the deno CLI/);
    assert.equal(await exists(output), false, "the plain Deno CLI must not be left behind");
    // The embedded-files listing deno compile printed: runtime packages, no test-only ones.
    assert.match(text, /Embedded Files/);
    assert.match(text, /[ /]zod\//);
    assert.match(text, /@grpc/);
    assert.doesNotMatch(text, /[ /](fast-check|ajv)\//);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// The Dockerfile

async function dockerfile(): Promise<string> {
  return await Deno.readTextFile(`${REPO_DIR}/Dockerfile`);
}

/** Dockerfile instructions with line continuations joined. */
function instructions(text: string): string[] {
  return text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

Deno.test("the Dockerfile checks the executable's version and labels the image", async () => {
  const text = instructions(await dockerfile()).join("\n");
  assert.match(text, new RegExp(`^ARG VERSION=${VERSION.replaceAll(".", "\\.")}$`, "m"));
  assert.match(
    text,
    /said="\$\(evpn-agent --version\)";\s+\[ "\$said" = "evpn-agent \$\{VERSION\}" \]/,
  );
  for (const label of ["title", "version", "licenses", "description"]) {
    assert.match(text, new RegExp(`org\\.opencontainers\\.image\\.${label}=`));
  }
});

Deno.test("the Dockerfile builds from files that exist and the build context keeps", async () => {
  const text = await dockerfile();
  const ignored = (await Deno.readTextFile(`${REPO_DIR}/.dockerignore`)).split("\n")
    .map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const copies = instructions(text).filter((l) => /^COPY\s/.test(l) && !l.includes("--from="));
  assert.ok(copies.length >= 4, `COPY lines: ${copies.join(" | ")}`);
  for (const line of copies) {
    const sources = line.split(/\s+/).slice(1, -1);
    for (const src of sources) {
      const path = src.replace(/\/$/, "");
      assert.ok(await exists(`${REPO_DIR}/${path}`), `COPY source ${src} does not exist`);
      const top = path.split("/")[0]!;
      assert.ok(
        !ignored.includes(path) && !ignored.includes(top),
        `COPY source ${src} is excluded by .dockerignore`,
      );
    }
  }
  const stages = instructions(text).filter((l) => /^FROM\s/.test(l));
  assert.match(stages[0] ?? "", /denoland\/deno:/, "build stage: the official Deno image");
  assert.match(stages.at(-1) ?? "", /^FROM alpine:/, "runtime stage: alpine");
  assert.match(text, /apk add --no-cache iproute2/);
  assert.match(text, /^ENTRYPOINT \["\/usr\/local\/bin\/evpn-agent"\]$/m);
  assert.match(text, /^CMD \["--config", "\/etc\/evpn-agent\/config\.yaml"\]$/m);
});

/** The runtime stage's glibc files for this machine, as the Dockerfile lists them. */
async function glibcLayout(): Promise<{ triple: string; loader: string; libs: string[] }> {
  const text = instructions(await dockerfile()).join("\n");
  const libs = /for lib in ([^;]+); do/.exec(text)?.[1]?.trim().split(/\s+/);
  assert.ok(
    libs !== undefined && libs.length > 0,
    "no `for lib in ...; do` list in the Dockerfile",
  );
  const machine = Deno.build.arch; // "x86_64" | "aarch64"
  const entry = new RegExp(`${machine}\\) triple=([\\w-]+); loader=(\\S+) ;;`).exec(text);
  assert.ok(entry !== null, `no loader for ${machine} in the Dockerfile`);
  return { triple: entry[1]!, loader: entry[2]!, libs };
}

const rootGate = rootOnly("image glibc-layout test");

Deno.test({
  name: "the image's glibc layout runs a glibc Deno that loads libnl-route-3, with no ld.so.cache",
  ignore: rootGate.ignore,
  async fn(t) {
    rootGate.check(); // chroot needs root
    const { triple, loader, libs } = await glibcLayout();
    const root = await Deno.makeTempDir({ prefix: "evpn-image-root-" });
    try {
      // Exactly what the glibc stage copies, from this Debian release.
      await Deno.mkdir(`${root}/lib/${triple}`, { recursive: true });
      for (const lib of libs) {
        await Deno.copyFile(
          await Deno.realPath(`/usr/lib/${triple}/${lib}`),
          `${root}/lib/${triple}/${lib}`,
        );
      }
      const loaderName = loader.split("/").at(-1)!;
      await Deno.copyFile(await Deno.realPath(loader), `${root}/lib/${triple}/${loaderName}`);
      await Deno.mkdir(`${root}${loader.slice(0, loader.lastIndexOf("/"))}`, { recursive: true });
      if (!(await exists(`${root}${loader}`))) {
        await Deno.symlink(`/lib/${triple}/${loaderName}`, `${root}${loader}`);
      }
      await Deno.mkdir(`${root}/usr/local/bin`, { recursive: true });
      await Deno.mkdir(`${root}/tmp`);
      await Deno.copyFile(Deno.execPath(), `${root}/usr/local/bin/deno`);
      await Deno.chmod(`${root}/usr/local/bin/deno`, 0o755);
      assert.equal(await exists(`${root}/etc/ld.so.cache`), false);

      const chrootBin = which("chroot") ?? "/usr/sbin/chroot";
      const chroot = (args: string[]) =>
        command(chrootBin, [root, ...args], {
          clearEnv: true,
          env: { PATH: "/usr/local/bin", DENO_DIR: "/tmp/deno", HOME: "/tmp", NO_COLOR: "1" },
        });

      await t.step("the Dockerfile's own check: libnl-route-3 resolves", async () => {
        const r = await chroot([loader, "--list", `/lib/${triple}/libnl-route-3.so.200`]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stdout,
          new RegExp(`libnl-3\\.so\\.200 => /lib/${triple}/libnl-3\\.so\\.200`),
        );
      });
      await t.step(
        "a glibc Deno starts and dlopens libnl-3 and libnl-route-3 by soname",
        async () => {
          const script = `
          const nl = Deno.dlopen("libnl-3.so.200", { nl_socket_alloc: { parameters: [], result: "pointer" } });
          const route = Deno.dlopen("libnl-route-3.so.200", { rtnl_link_alloc: { parameters: [], result: "pointer" } });
          console.log(nl.symbols.nl_socket_alloc() !== null && route.symbols.rtnl_link_alloc() !== null ? "ok" : "null");
        `;
          const r = await chroot(["/usr/local/bin/deno", "eval", "--allow-ffi", script]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), "ok");
        },
      );
      if (HAVE_BINARY) {
        await t.step("bin/evpn-agent runs in it", async () => {
          await Deno.copyFile(BINARY, `${root}/usr/local/bin/evpn-agent`);
          const r = await chroot(["/usr/local/bin/evpn-agent", "--version"]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), `evpn-agent ${VERSION}`);
        });
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
