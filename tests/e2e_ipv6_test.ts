/**
 * End to end over an IPv6 underlay: the hub-spoke lab (scripts/lab/topology.ts)
 * with `underlay: "ipv6"`: 2001:db8::/64 on every node's eth0, gobgpd
 * sessions over IPv6 (the hub accepts dynamic neighbours from
 * 2001:db8::/64), real gobgpd and the real agent (`main.ts`) on every node.
 *
 * VNI 10010 joins spokes 1 and 2 with IPv6 VTEPs (taken from eth0 with
 * `node.addressFamily: ipv6`), overlays 198.51.100.0/24 and
 * 2001:db8:100::/64. Spoke 3 joins the same VNI with an IPv4 VTEP
 * (192.0.2.13, its sessions still over IPv6): a mixed fabric the kernel
 * cannot forward across, which every agent must skip as `family_mismatch`,
 * count, and name in `/status` and `evpn-agent status`.
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import { rootOnly } from "../scripts/lab/privileges.ts";
import {
  argv,
  cacheDependencies,
  type LabNode,
  printFailureLogs,
  routerIdOf,
  run,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";
import type { AgentStatus } from "../src/status/types.ts";
import { renderGobgpdConfig } from "../scripts/lab/gobgpd_config.ts";

const gate = rootOnly("IPv6 e2e test");
const CONVERGE_MS = 10_000;
const HELPER = new URL("./_ops_http.ts", import.meta.url).pathname;
const HTTP = "127.0.0.1:9469";
const VNI = 10010;
const DEV = `vxlan${VNI}`;
/** Overlay addresses of spoke i on vxlan10010. */
const overlay4 = (i: number) => `198.51.100.${i}`;
const overlay6 = (i: number) => `2001:db8:100::${i}`;

Deno.test({
  name:
    "evpn-agent over an IPv6 underlay: /128 memberships, IPv6 flood entries, mixed-family skips",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({
      spokes: 3,
      underlay: "ipv6",
      // ipv4-unicast too, for spoke3's IPv4 VTEP (the mixed-fabric case).
      families: ["ipv6-unicast", "ipv4-unicast"],
    });
    const hub = topo.hub;
    const [s1, s2, s3] = [topo.spoke(1), topo.spoke(2), topo.spoke(3)];
    const failed: string[] = [];
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!await t.step(name, fn)) {
        failed.push(name);
        throw new Error(`Step failed: ${name}`); // each step builds on the one before
      }
    };
    const stopped = new Set<string>();
    const agentsAlive = () => topo.agentsAlive(stopped);
    const flood = (node: LabNode, want: string[], what = "") =>
      waitFor(
        async () => {
          await agentsAlive();
          assert.deepEqual(await topo.floodList(node, DEV), want);
        },
        CONVERGE_MS,
        `${node.name} ${DEV} flood list = [${want.join(", ")}]${what}`,
      );
    const hubRib = (family: "ipv4" | "ipv6", want: Record<string, string[]>, what: string) =>
      waitFor(
        async () => {
          await agentsAlive();
          assert.deepEqual(await topo.rib(hub, family), want);
        },
        CONVERGE_MS,
        what,
      );
    const get = async (node: LabNode, path: string) => {
      const r = await run(node.ns, [
        ...argv`${Deno.execPath()} run -A --cached-only ${HELPER} get http://${HTTP}${path}`,
      ]);
      if (!r.success) throw new Error(`GET ${path} in ${node.name}: ${r.stderr}`);
      const reply = JSON.parse(r.stdout) as { status: number; body: string };
      assert.equal(reply.status, 200, reply.body);
      return reply.body;
    };
    const status = async (node: LabNode) => JSON.parse(await get(node, "/status")) as AgentStatus;
    const mismatches = async (node: LabNode) => {
      const body = await get(node, "/metrics");
      const line = /^evpn_agent_routes_skipped_total\{reason="family_mismatch"\} (\d+)$/m
        .exec(body);
      return Number(line?.[1] ?? NaN);
    };
    const V6_RIB = {
      "2001:db8::11/128": ["65000:10010"],
      "2001:db8::12/128": ["65000:10010"],
    };

    try {
      await step("every spoke's BGP session with the hub gets established over IPv6", async () => {
        await topo.startAllGobgpd();
        await topo.waitForSessions(40_000);
        const addresses = (await topo.neighbors(hub)).map((n) => n.address).sort();
        assert.deepEqual(addresses, ["2001:db8::11", "2001:db8::12", "2001:db8::13"]);
      });

      await step("agents start; IPv6 VTEPs come from eth0, spoke3 keeps an IPv4 one", async () => {
        // spoke3: an IPv4 VTEP on a node whose sessions run over IPv6.
        await topo.addAddress(s3, "eth0", "192.0.2.13/24");
        for (const [node, i] of [[s1, 1], [s2, 2]] as const) {
          await topo.addVxlan(node, VNI, `${overlay4(i)}/24`);
          await topo.addAddress(node, DEV, `${overlay6(i)}/64`);
        }
        await topo.addVxlan(s3, VNI, `${overlay4(3)}/24`, "192.0.2.13");
        for (const node of [hub, s1, s2]) await topo.startAgent(node);
        await topo.startAgent(s3, { config: { node: { localAddress: "192.0.2.13" } } });
        await flood(s1, ["2001:db8::12"]);
        await flood(s2, ["2001:db8::11"]);
        const st = await status(s1);
        assert.deepEqual(
          [st.node.localAddress, st.node.addressFamily, st.bgp.membership.prefix],
          ["2001:db8::11", "ipv6", "2001:db8::11/128"],
        );
      });

      await step("the hub RIB holds each IPv6 VTEP's /128 and spoke3's IPv4 /32", async () => {
        await hubRib("ipv6", V6_RIB, "hub IPv6 RIB with both /128 memberships");
        await hubRib("ipv4", { "192.0.2.13/32": ["65000:10010"] }, "hub IPv4 RIB with spoke3");
        const entries = (await topo.fdb(s1, DEV)).filter((e) => e.mac === "00:00:00:00:00:00");
        assert.deepEqual(entries.map((e) => [e.dst, e.state, e.flags]), [
          ["2001:db8::12", "permanent", ["self"]],
        ]);
      });

      await step("overlay traffic flows over the IPv6 underlay (ping and ping -6)", async () => {
        assert.ok(await topo.ping(s1, overlay4(2), { count: 2, deadline: 4 }), "spoke1 → .2");
        assert.ok(await topo.ping(s2, overlay6(1), { count: 2, deadline: 4 }), "spoke2 → ::1");
        assert.ok(await topo.ping(s1, overlay6(2), { count: 2, deadline: 4 }), "spoke1 → ::2");
      });

      await step(
        "a mixed-family member is skipped, counted and named, never programmed",
        async () => {
          // Neither side programs the other family (the kernel would refuse it).
          await flood(s3, []);
          assert.deepEqual(await topo.floodList(s1, DEV), ["2001:db8::12"]);
          const st1 = await status(s1);
          assert.deepEqual(st1.vnis.find((v) => v.vni === VNI)?.familyMismatch, ["192.0.2.13"]);
          const st3 = await status(s3);
          assert.deepEqual(st3.vnis.find((v) => v.vni === VNI)?.familyMismatch, [
            "2001:db8::11",
            "2001:db8::12",
          ]);
          assert.ok(await mismatches(s1) >= 1, "spoke1 counts family_mismatch");
          assert.ok(await mismatches(s3) >= 2, "spoke3 counts family_mismatch");
          assert.equal(await mismatches(s2) >= 1, true, "spoke2 counts family_mismatch");
          const log = await Deno.readTextFile(topo.file("spoke1-agent.log"));
          assert.match(
            log,
            /Skipped path \(family_mismatch\): prefix 192\.0\.2\.13\/32: 192\.0\.2\.13 is an IPv4 VTEP, but this node's VTEP 2001:db8::11 is IPv6/,
          );
          // Every gobgpd here carries both families: no family warning.
          assert.doesNotMatch(log, /No BGP neighbour of gobgpd carries/);
          const cli = await run(s1.ns, [
            ...argv`${Deno.execPath()} run -A --cached-only ${topo.repoDir}/main.ts status --addr ${HTTP}`,
          ]);
          assert.ok(cli.success, cli.stderr);
          assert.match(cli.stdout, /VTEP 2001:db8::11 \(IPv6 underlay\)/);
          assert.match(
            cli.stdout,
            /VNI 10010: members not reachable .*family_mismatch.*\n {2}192\.0\.2\.13/,
          );
          assert.equal(await topo.ping(s3, overlay4(1), { deadline: 2 }), false);
        },
      );

      await step("deleting spoke2's device withdraws its /128 everywhere", async () => {
        await topo.delLink(s2, DEV);
        await hubRib("ipv6", { "2001:db8::11/128": ["65000:10010"] }, "hub RIB without ::12");
        await flood(s1, []);
        assert.equal(await topo.ping(s1, overlay6(2), { deadline: 2 }), false);
        await agentsAlive();
      });

      await step("re-creating it rejoins the VNI, and ping -6 works again", async () => {
        await topo.addVxlan(s2, VNI, `${overlay4(2)}/24`);
        await topo.addAddress(s2, DEV, `${overlay6(2)}/64`);
        await hubRib("ipv6", V6_RIB, "hub RIB with ::12 back");
        await flood(s1, ["2001:db8::12"]);
        await flood(s2, ["2001:db8::11"]);
        // The new device has a new MAC: start from an empty neighbour cache.
        await topo.exec(s1, argv`ip neigh flush dev ${DEV}`);
        await waitFor(
          () => topo.ping(s1, overlay6(2), { deadline: 2 }),
          CONVERGE_MS,
          "spoke1 → 2001:db8:100::2 after the rejoin",
        );
      });

      await step("an agent whose gobgpd has no ipv6-unicast neighbour warns at start", async () => {
        // spoke3 turns IPv6, but its gobgpd's only neighbour carries ipv4-unicast.
        stopped.add(s3.name);
        await topo.process(s3, "agent")!.stop("SIGTERM", 2000);
        await topo.process(s3, "gobgpd")!.stop("SIGTERM", 5000);
        const toml = renderGobgpdConfig({
          role: "spoke",
          asn: topo.asn,
          routerId: routerIdOf(s3),
          hub: hub.address,
          families: ["ipv4-unicast"],
        });
        await topo.startGobgpd(s3, 10_000, toml);
        await topo.startAgent(s3);
        stopped.delete(s3.name);
        const log = topo.file("spoke3-agent.log");
        await waitFor(
          async () => {
            await agentsAlive();
            assert.match(
              await Deno.readTextFile(log),
              /No BGP neighbour of gobgpd carries ipv6-unicast.*2001:db8::10 \(ipv4-unicast\)/,
            );
          },
          CONVERGE_MS,
          "the family warning in spoke3's log",
        );
      });

      await step("every agent exits 0 on SIGTERM and both hub RIBs empty", async () => {
        for (const node of topo.nodes) stopped.add(node.name);
        const results = await Promise.all(topo.nodes.map(async (node) => {
          const r = await topo.process(node, "agent")!.stop("SIGTERM", 2000);
          return [node.name, r.code, r.killed] as const;
        }));
        assert.deepEqual(results, topo.nodes.map((n) => [n.name, 0, false]));
        await hubRib("ipv6", {}, "an empty hub IPv6 RIB");
        await hubRib("ipv4", {}, "an empty hub IPv4 RIB");
      });
    } catch (err) {
      if (failed.length === 0) failed.push((err as Error).message);
      throw err;
    } finally {
      if (failed.length > 0) await printFailureLogs(topo, failed);
      await topo.destroy({ keepWorkDir: Deno.env.get("EVPN_E2E_KEEP_LOGS") === "1" });
    }
  },
});
