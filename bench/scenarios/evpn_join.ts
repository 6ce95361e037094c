/**
 * EVPN join latency: scenario 3 (`join.ts`) in `mode: evpn`. The agent
 * runs in spoke1 with its own gobgpd (both families towards the hub's);
 * a VXLAN device is created in spoke1, then deleted, N times. Measured on
 * one clock: the device's RTM_NEWLINK in spoke1 → the hub's gobgpd shows
 * spoke1's Type 3 route (a bare WatchEvent client on the hub, EVPN paths
 * decoded by the agent's own codec), and RTM_DELLINK → the route is gone.
 *
 * @module
 */
import type { WatchStream } from "../../src/bgp/client.ts";
import { decodeAnyPath } from "../../src/bgp/codec.ts";
import { StopWaiting, waitFor } from "../../scripts/lab/wait.ts";
import type { BenchLab } from "../lab.ts";
import { deviceName, vniList } from "../routes.ts";
import {
  type JoinResult,
  joinResult,
  type JoinSamples,
  sampleJoinLeave,
  watchLinks,
} from "./join.ts";

const STEP_TIMEOUT_MS = 5_000;

export async function evpnJoin(lab: BenchLab, samples: number): Promise<JoinResult> {
  const { topo, peer } = lab;
  lab.log("evpn join: starting gobgpd in spoke1, waiting for the BGP session");
  const s0 = performance.now();
  await topo.startGobgpd(peer);
  await topo.waitForSessions(60_000);
  const sessionMs = performance.now() - s0;

  const { links, waiters, events } = watchLinks(peer.ns);
  // spoke1's Type 3 routes in the hub, by the VNI of their PMSI label.
  const type3 = new Map<string, number>(); // NLRI key → VNI
  const { promise: ready, resolve } = Promise.withResolvers<void>();
  const stream: WatchStream = lab.client.watchBest({
    onTable: (paths) => {
      const at = performance.now();
      for (const path of paths) {
        const d = decodeAnyPath(path);
        if (!d.ok || !("evpn" in d) || d.evpn.type !== 3) continue;
        if (d.evpn.originator !== peer.address) continue;
        if (d.evpn.withdraw) type3.delete(d.evpn.key);
        else type3.set(d.evpn.key, d.evpn.pmsi?.label ?? 0);
      }
      resolve();
      waiters.check(at);
    },
    onEnd: () => {},
  });
  const has = (vni: number) => [...type3.values()].includes(vni);
  let raw: JoinSamples = { join: [], leave: [], timeouts: 0 };
  const agent = await lab.startAgent(peer, { mode: "evpn" });
  try {
    await ready;
    const [vni, warmUp] = vniList(2) as [number, number];
    const dev = deviceName(vni);
    const alive = () => {
      if (!agent.running()) throw new StopWaiting(`The spoke1 agent exited; see ${agent.logPath}`);
    };
    await topo.addVxlan(peer, warmUp);
    await waitFor(() => (alive(), has(warmUp)), 30_000, "spoke1's Type 3 in the hub");
    await topo.delLink(peer, deviceName(warmUp));
    await waitFor(() => (alive(), !has(warmUp)), 30_000, "spoke1's Type 3 withdrawn");
    lab.log(`evpn join: ${samples} create/delete samples of ${dev} in spoke1`);
    raw = await sampleJoinLeave(samples, {
      link: (create) => waiters.until(() => links.has(dev) === create, STEP_TIMEOUT_MS),
      seen: (create) => waiters.until(() => has(vni) === create, STEP_TIMEOUT_MS),
      toggle: (create) =>
        create ? topo.addVxlan(peer, vni).then(() => {}) : topo.delLink(peer, dev),
    });
  } finally {
    await agent.stop();
    stream.cancel();
    waiters.close();
    events.close();
    await topo.process(peer, "gobgpd")?.stop("SIGTERM", 5_000);
  }
  return joinResult(samples, raw, sessionMs);
}
