/**
 * TLS to gobgpd, end to end: a real gobgpd 3.10 started with `--tls
 * --tls-cert-file --tls-key-file` in a namespace, certificates made by this
 * test with `openssl`, and the real agent (`main.ts`) with `gobgp.tls`.
 *
 * - the agent connects (with and without a client certificate), becomes
 *   ready and its membership path is in gobgpd's RIB (read with `gobgp
 *   --tls`);
 * - refused before anything is touched (exit 2, the key path and the
 *   reason; a device the agent would create stays absent): a missing CA
 *   file, a CA file with no certificate, a key that is not the
 *   certificate's, a certFile without keyFile;
 * - a name mismatch is logged with the names and retried: the agent
 *   connects once gobgpd serves a certificate with the right name;
 * - certificates are read again on reconnect (gobgpd moved to a new CA, the
 *   CA file replaced in place) and on SIGHUP;
 * - no log line carries key material.
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import { stringify as toYaml } from "yaml";
import { rootOnly } from "../scripts/lab/privileges.ts";
import {
  argv,
  cacheDependencies,
  GOBGP_API,
  printFailureLogs,
  run,
  tail,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";
import type { ProcessHandle } from "../scripts/lab/proc.ts";
import { Background, httpGet } from "./_resilience_lab.ts";

const gate = rootOnly("TLS test");
const NAME = "gobgpd.test";

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdin: "null" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A CA, and certificates it signs for `names` (DNS names; IP addresses as IP SANs). */
async function makeCa(
  dir: string,
  ca: string,
): Promise<(cert: string, names: string[]) => Promise<void>> {
  await openssl(dir, [
    ...argv`req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2`,
    ...argv`-keyout ${ca}.key -out ${ca}.pem -subj /CN=evpn-agent-test-${ca}`,
  ]);
  return async (cert, names) => {
    const san = names.map((n) => /^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`).join(",");
    await Deno.writeTextFile(`${dir}/${cert}.ext`, `subjectAltName=${san}\n`);
    await openssl(dir, [
      ...argv`req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes`,
      ...argv`-keyout ${cert}.key -out ${cert}.csr -subj /CN=${names[0]}`,
    ]);
    await openssl(dir, [
      ...argv`x509 -req -in ${cert}.csr -CA ${ca}.pem -CAkey ${ca}.key -CAcreateserial -days 2`,
      ...argv`-out ${cert}.pem -extfile ${cert}.ext`,
    ]);
  };
}

Deno.test({
  name: "evpn-agent talks TLS to gobgpd, refuses bad files and re-reads certificates",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({ spokes: 1 });
    const node = topo.spoke(1);
    const bg = new Background(topo);
    const dir = topo.workDir;
    const failed: string[] = [];
    let gobgpd: ProcessHandle | undefined;
    let agent: ProcessHandle | undefined;

    const startGobgpd = async (cert: string) => {
      if (gobgpd) await bg.stop(gobgpd);
      const config = topo.file(`${node.name}-gobgpd.toml`);
      await Deno.writeTextFile(config, topo.gobgpdConfig(node));
      gobgpd = await bg.start(node, "gobgpd", [
        ...argv`gobgpd -f ${config} --api-hosts ${GOBGP_API} -p --pprof-disable`,
        ...argv`--tls --tls-cert-file ${dir}/${cert}.pem --tls-key-file ${dir}/${cert}.key`,
      ]);
    };
    /** `gobgp --tls` against the namespace's gobgpd, trusting `ca`. */
    const gobgp = (ca: string, args: string[]) =>
      run(node.ns, ["gobgp", "--tls", "--tls-ca-file", `${dir}/${ca}.pem`, ...args]);
    const agentConfig = (tls: Record<string, unknown>) => ({
      logLevel: "debug",
      communityAsn: 65000,
      gobgp: { address: GOBGP_API, timeout: "2s", reconnectMaxDelay: "1s", tls },
      node: { localAddress: node.address, autoRecreateVxlan: true },
      vnis: [{ id: 10010 }],
    });
    /** Runs the agent to its exit (a refused configuration). */
    const refusedWith = async (tls: Record<string, unknown>) => {
      const path = topo.file("refused.yaml");
      await Deno.writeTextFile(path, toYaml(agentConfig(tls)));
      const r = await run(node.ns, [
        ...argv`timeout 20 ${Deno.execPath()} run -A --cached-only ${topo.repoDir}/main.ts`,
        "--config",
        path,
      ]);
      const links = await run(node.ns, ["ip", "-br", "link", "show", "vxlan10010"]);
      assert.equal(links.success, false, "nothing was touched: vxlan10010 was not created");
      return r;
    };
    const ready = (what: string) =>
      waitFor(
        async () => (await httpGet(node, "/readyz"))?.status === 200,
        30_000,
        `the agent ready (${what})`,
      );
    const agentLog = () => Deno.readTextFile(topo.file(`${node.name}-agent.log`));

    const step = async (name: string, fn: () => Promise<void>) => {
      if (!(await t.step(name, fn))) failed.push(name);
    };

    try {
      const ca1 = await makeCa(dir, "ca1");
      await ca1("server", [NAME, "127.0.0.1"]);
      await ca1("wrongname", ["other.test"]);
      await ca1("client", ["evpn-agent"]);
      const ca2 = await makeCa(dir, "ca2");
      await ca2("server2", [NAME, "127.0.0.1"]);
      await startGobgpd("server");
      await waitFor(
        async () => (await gobgp("ca1", ["global"])).success,
        10_000,
        "gobgpd's TLS API answering gobgp --tls",
      );

      await step("a missing, an empty or a mismatched file is refused with exit 2", async () => {
        const missing = await refusedWith({ caFile: `${dir}/nope.pem` });
        assert.equal(missing.code, 2, missing.stderr);
        assert.match(missing.stderr, /gobgp\.tls\.caFile: ".*\/nope\.pem": no such file/);
        await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate\n");
        const junk = await refusedWith({ caFile: `${dir}/junk.pem` });
        assert.equal(junk.code, 2, junk.stderr);
        assert.match(junk.stderr, /gobgp\.tls\.caFile: ".*junk\.pem": holds no PEM certificate/);
        await Deno.writeTextFile(
          `${dir}/badcert.pem`,
          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        const bad = await refusedWith({ caFile: `${dir}/badcert.pem` });
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(
          bad.stderr,
          /gobgp\.tls\.caFile: ".*badcert\.pem": certificate 1 does not parse/,
        );
        const wrongKey = await refusedWith({
          caFile: `${dir}/ca1.pem`,
          certFile: `${dir}/client.pem`,
          keyFile: `${dir}/server.key`,
        });
        assert.equal(wrongKey.code, 2, wrongKey.stderr);
        assert.match(
          wrongKey.stderr,
          /gobgp\.tls\.keyFile: ".*server\.key": is not the private key of gobgp\.tls\.certFile/,
        );
        const badKey = await refusedWith({
          caFile: `${dir}/ca1.pem`,
          certFile: `${dir}/client.pem`,
          keyFile: `${dir}/client.pem`,
        });
        assert.match(badKey.stderr, /gobgp\.tls\.keyFile: .*is not an unencrypted PEM private key/);
        const half = await refusedWith({ caFile: `${dir}/ca1.pem`, certFile: `${dir}/client.pem` });
        assert.equal(half.code, 2, half.stderr);
        assert.match(half.stderr, /gobgp\.tls\.keyFile: gobgp\.tls\.certFile is set but keyFile/);
        for (const r of [missing, junk, bad, wrongKey, badKey, half]) {
          assert.doesNotMatch(r.stderr + r.stdout, /PRIVATE KEY|BEGIN/);
        }
      });

      await step("the agent connects over TLS with a client certificate", async () => {
        agent = await topo.startAgent(node, {
          config: agentConfig({
            caFile: `${dir}/ca1.pem`,
            certFile: `${dir}/client.pem`,
            keyFile: `${dir}/client.key`,
            serverName: NAME,
          }),
        });
        await ready("first connection");
        await waitFor(
          async () => {
            const rib = await gobgp("ca1", ["-j", "global", "rib", "-a", "ipv4"]);
            return rib.success && rib.stdout.includes(`${node.address}/32`);
          },
          10_000,
          "the membership path in gobgpd's RIB",
        );
      });

      await step("a name mismatch is logged with the reason and retried", async () => {
        await startGobgpd("wrongname");
        await waitFor(
          async () => (await httpGet(node, "/readyz"))?.status === 503,
          10_000,
          "the agent not ready against a certificate for another name",
        );
        await waitFor(
          async () => /lost: .*(other\.test|altnames|does not match)/i.test(await agentLog()),
          10_000,
          "a log line naming the mismatch",
        );
        await startGobgpd("server");
        await ready("after gobgpd serves the right name");
      });

      await step("a CA replaced in place is read again on reconnect", async () => {
        await startGobgpd("server2"); // signed by ca2: ca1 no longer trusts it
        await waitFor(
          async () => (await httpGet(node, "/readyz"))?.status === 503,
          10_000,
          "the agent not ready against an unknown CA",
        );
        await Deno.copyFile(`${dir}/ca1.pem`, `${dir}/ca1-original.pem`);
        await Deno.copyFile(`${dir}/ca2.pem`, `${dir}/ca1.pem`);
        await ready("after the CA file was replaced");
        assert.match(await agentLog(), /Read new TLS files for gobgpd/);
      });

      await step("SIGHUP reads the files again and reconnects with new ones", async () => {
        const before = (await agentLog()).match(/Read new TLS files/g)?.length ?? 0;
        // A bundle of both CAs: the same files, new contents.
        const bundle = (await Deno.readTextFile(`${dir}/ca2.pem`)) +
          (await Deno.readTextFile(`${dir}/ca1-original.pem`));
        await Deno.writeTextFile(`${dir}/ca1.pem`, bundle);
        agent!.kill("SIGHUP");
        await waitFor(
          async () => ((await agentLog()).match(/Read new TLS files/g)?.length ?? 0) > before,
          10_000,
          "the reload reading the new CA bundle",
        );
        // The stream on the old channel ended and a new one read the table.
        await waitFor(
          async () => {
            const log = await agentLog();
            const at = log.lastIndexOf("Read new TLS files");
            return /Received gobgpd's table/.test(log.slice(at));
          },
          10_000,
          "a new WatchEvent stream after the reload",
        );
        await ready("after the reload");
        // A CA file broken meanwhile: the reload is refused, the channel stays.
        await Deno.writeTextFile(`${dir}/ca1.pem`, "broken\n");
        agent!.kill("SIGHUP");
        await waitFor(
          async () => /Reload refused: .*gobgp\.tls\.caFile/.test(await agentLog()),
          10_000,
          "the reload refused for the broken CA file",
        );
        assert.equal((await httpGet(node, "/readyz"))?.status, 200);
      });

      await step("no log line carries key material", async () => {
        const log = await agentLog();
        assert.doesNotMatch(log, /PRIVATE KEY|BEGIN CERTIFICATE/);
        for (const key of ["client", "server"]) {
          const body = (await Deno.readTextFile(`${dir}/${key}.key`)).split("\n")[1]!;
          assert.ok(!log.includes(body.slice(0, 24)), `${key}.key appears in the log`);
        }
      });
    } finally {
      if (failed.length > 0) {
        await printFailureLogs(topo, failed, { lines: 30 });
        console.error(await tail(topo.file(`${node.name}-agent.log`), 40));
      }
      await bg.stopAll();
      await topo.destroy();
    }
    assert.deepEqual(failed, []);
  },
});
