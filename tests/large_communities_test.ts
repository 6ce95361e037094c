/**
 * VNIs above 65535 end to end, through BGP large communities (RFC 8092):
 * a hub and three spokes with real gobgpd and the real agent.
 *
 * - spoke1 discovers its devices (vxlan70000, vxlan16777215, vxlan10010):
 *   the two large VNIs get `65000:0:<VNI>`, 10010 keeps `65000:10010`;
 * - spoke2 lists the same VNIs statically (70000 derived, 16777215 with an
 *   explicit large community, 10010 derived standard);
 * - spoke3 uses `communityFormat: large`, so its 10010 is `65000:0:10010`:
 *   a different community, so it does not share 10010 with spokes 1 and 2
 *   (the documented rule: nodes match on the exact community).
 *
 * Asserted: one membership path per spoke carrying standard and large
 * communities at once, the exact flood lists, ping over VNIs 70000 and
 * 16777215, and a withdrawal when spoke2's vxlan70000 goes away.
 *
 * Needs root; skipped otherwise, except with CI=true where it fails.
 */
import assert from "node:assert/strict";
import { rootOnly } from "../scripts/lab/privileges.ts";
import {
  cacheDependencies,
  type LabNode,
  printFailureLogs,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";

const gate = rootOnly("large communities test");

/** Overlay subnets, inside 198.18.0.0/15 and 198.51.100.0/24. */
const OVERLAY: Record<number, string> = {
  70000: "198.18.70",
  16777215: "198.18.255",
  10010: "198.51.100",
};

Deno.test({
  name: "VNIs 70000 and 16777215 join through large communities next to a standard one",
  ignore: gate.ignore,
  async fn(t) {
    gate.check();
    await cacheDependencies();
    const topo = await Topology.create({ spokes: 3 });
    const [s1, s2, s3] = [topo.spoke(1), topo.spoke(2), topo.spoke(3)];
    const failed: string[] = [];
    const flood = (node: LabNode, vni: number, want: string[]) =>
      waitFor(
        async () => assert.deepEqual(await topo.floodList(node, `vxlan${vni}`), want),
        15_000,
        `${node.name} vxlan${vni} flood list = [${want.join(", ")}]`,
      );
    /**
     * The hub's RIB line for `prefix` as `gobgp global rib` (3.10) prints it:
     * `... {Communities: 65000:10010} {LargeCommunity: [ 65000:0:70000, ...]}`.
     */
    const hubRibLine = async (prefix: string) => {
      const text = await topo.exec(topo.hub, ["gobgp", "global", "rib", "-a", "ipv4"]);
      return text.split("\n").find((line) => line.includes(prefix)) ?? "";
    };
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!(await t.step(name, fn))) failed.push(name);
    };

    try {
      await step("sessions, devices and agents come up", async () => {
        await topo.startAllGobgpd();
        await topo.waitForSessions(40_000);
        for (const node of [s1, s2, s3]) {
          for (const vni of [70000, 16777215, 10010]) {
            await topo.addVxlan(node, vni, `${OVERLAY[vni]}.${node.index}/24`);
          }
        }
        await topo.startAgent(topo.hub);
        await topo.startAgent(s1); // discovery
        await topo.startAgent(s2, {
          config: {
            vnis: [
              { id: 70000 },
              { id: 16777215, community: "65000:0:16777215" },
              { id: 10010 },
            ],
          },
        });
        await topo.startAgent(s3, { config: { communityFormat: "large" } });
      });

      await step("each membership path carries standard and large communities", async () => {
        await waitFor(
          async () => {
            const line = await hubRibLine(`${s1.address}/32`);
            assert.match(line, /\{Communities: 65000:10010\}/, line);
            assert.match(line, /\{LargeCommunity: \[ 65000:0:70000, 65000:0:16777215\]\}/, line);
          },
          15_000,
          "spoke1's path in the hub's RIB",
        );
        await waitFor(
          async () => {
            const line = await hubRibLine(`${s2.address}/32`);
            assert.match(line, /\{Communities: 65000:10010\}/, line);
            assert.match(line, /\{LargeCommunity: \[ 65000:0:70000, 65000:0:16777215\]\}/, line);
          },
          15_000,
          "spoke2's path in the hub's RIB",
        );
        await waitFor(
          async () => {
            const line = await hubRibLine(`${s3.address}/32`);
            assert.match(
              line,
              /\{LargeCommunity: \[ 65000:0:10010, 65000:0:70000, 65000:0:16777215\]\}/,
              line,
            );
            assert.doesNotMatch(line, /\{Communities:/, line);
          },
          15_000,
          "spoke3's path, all large",
        );
      });

      await step("flood lists match on the exact community", async () => {
        for (const vni of [70000, 16777215]) {
          await flood(s1, vni, [s2.address, s3.address]);
          await flood(s2, vni, [s1.address, s3.address]);
          await flood(s3, vni, [s1.address, s2.address]);
        }
        // 65000:10010 (spokes 1, 2) and 65000:0:10010 (spoke3) are different communities.
        await flood(s1, 10010, [s2.address]);
        await flood(s2, 10010, [s1.address]);
        await flood(s3, 10010, []);
      });

      await step("traffic flows over VNIs 70000 and 16777215", async () => {
        for (const vni of [70000, 16777215]) {
          assert.ok(
            await topo.ping(s1, `${OVERLAY[vni]}.2`, { count: 2, deadline: 4 }),
            `spoke1 → spoke2 over VNI ${vni}`,
          );
          assert.ok(
            await topo.ping(s3, `${OVERLAY[vni]}.1`, { count: 2, deadline: 4 }),
            `spoke3 → spoke1 over VNI ${vni}`,
          );
        }
      });

      await step("deleting spoke2's vxlan70000 withdraws only that large community", async () => {
        await topo.delLink(s2, "vxlan70000");
        await flood(s1, 70000, [s3.address]);
        await flood(s3, 70000, [s1.address]);
        assert.deepEqual(await topo.floodList(s1, "vxlan16777215"), [s2.address, s3.address]);
        const line = await hubRibLine(`${s2.address}/32`);
        assert.match(line, /\{LargeCommunity: \[ 65000:0:16777215\]\}/, line);
      });
    } finally {
      if (failed.length > 0) await printFailureLogs(topo, failed, { lines: 30 });
      await topo.destroy();
    }
    assert.deepEqual(failed, []);
  },
});
