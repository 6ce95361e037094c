/**
 * Scenario 3, join latency: the agent runs in the peer node (spoke1) with
 * its own gobgpd, which has a BGP session with the home node's gobgpd (the
 * hub, a route reflector). A VXLAN device is created in spoke1, then
 * deleted, N times. Measured here, on one clock:
 *
 * - join: the device's RTM_NEWLINK notification in spoke1 (a netlink socket
 *   opened inside spoke1's namespace) → the hub's gobgpd shows spoke1's
 *   /32 carrying the VNI's community (a bare WatchEvent client on the hub);
 * - leave: RTM_DELLINK → the hub no longer shows that community (with no
 *   other device in spoke1, the agent withdraws its path).
 *
 * Before the samples, one warm-up device is created and deleted, so that
 * the agent is known to be connected and in step without reading its log.
 *
 * @module
 */
import { NetlinkEvents } from "../../src/netlink/mod.ts";
import { withNetns } from "../../scripts/lab/netns.ts";
import { delay, StopWaiting, waitFor } from "../../scripts/lab/wait.ts";
import type { BenchLab } from "../lab.ts";
import { RibWatch } from "../rib_watch.ts";
import { deviceName, vniCommunity, vniList } from "../routes.ts";
import { round, roundSummary, summarize, type Summary } from "../stats.ts";
import { Waiters } from "../waiters.ts";

export interface JoinResult {
  samples: number;
  /** Device created → visible in the peer's RIB, ms. */
  join: Summary;
  /** Device deleted → gone from the peer's RIB, ms. */
  leave: Summary;
  timeouts: number;
  rawJoin: number[];
  rawLeave: number[];
  /** Time to establish the BGP session (gobgpd waits 5–9 s before connecting), ms. */
  sessionMs: number;
}

const STEP_TIMEOUT_MS = 5_000;

/**
 * Link notifications from inside the namespace `ns` (only the socket is
 * opened there): the devices present, by name → ifindex, and waiters
 * checked on each notification with its arrival time.
 */
export function watchLinks(
  ns: string,
): { links: Map<string, number>; waiters: Waiters; events: NetlinkEvents } {
  const links = new Map<string, number>();
  const waiters = new Waiters();
  const events = withNetns(ns, () =>
    new NetlinkEvents({
      onLink: (ev) => {
        const at = performance.now();
        if (ev.type === "new") links.set(ev.link.name, ev.link.ifindex);
        else if (links.get(ev.link.name) === ev.link.ifindex) links.delete(ev.link.name);
        waiters.check(at);
      },
      onNeigh: () => {},
      onOverrun: () => {},
    }));
  events.start();
  return { links, waiters, events };
}

/** Create/delete samples of one device: the time from its link notification to `seen`. */
export interface JoinSamples {
  join: number[];
  leave: number[];
  timeouts: number;
}

/**
 * Runs `samples` create/delete cycles of the device: per step, the link
 * notification's time and the time `seen(create)` resolves are taken on one
 * clock; a step where either times out counts as a timeout.
 */
export async function sampleJoinLeave(
  samples: number,
  step: {
    link(create: boolean): Promise<number | undefined>;
    seen(create: boolean): Promise<number | undefined>;
    toggle(create: boolean): Promise<void>;
  },
): Promise<JoinSamples> {
  const raw: JoinSamples = { join: [], leave: [], timeouts: 0 };
  for (let i = 0; i < samples; i++) {
    for (const create of [true, false]) {
      const link = step.link(create);
      const seen = step.seen(create);
      await step.toggle(create);
      const [tl, ts] = await Promise.all([link, seen]);
      if (tl === undefined || ts === undefined) raw.timeouts++;
      else (create ? raw.join : raw.leave).push(ts - tl);
      await delay(50);
    }
  }
  return raw;
}

/** The scenario's result from its samples. */
export function joinResult(samples: number, raw: JoinSamples, sessionMs: number): JoinResult {
  return {
    samples,
    join: roundSummary(summarize(raw.join)),
    leave: roundSummary(summarize(raw.leave)),
    timeouts: raw.timeouts,
    rawJoin: raw.join.map((v) => round(v, 2)),
    rawLeave: raw.leave.map((v) => round(v, 2)),
    sessionMs: round(sessionMs, 0),
  };
}

export async function join(lab: BenchLab, samples: number): Promise<JoinResult> {
  const { topo, peer } = lab;
  lab.log("join: starting gobgpd in spoke1, waiting for the BGP session");
  const s0 = performance.now();
  await topo.startGobgpd(peer);
  await topo.waitForSessions(60_000);
  const sessionMs = performance.now() - s0;

  const { links, waiters, events } = watchLinks(peer.ns);
  const watch = new RibWatch(lab.client);
  let raw: JoinSamples = { join: [], leave: [], timeouts: 0 };
  const agent = await lab.startAgent(peer);
  try {
    await watch.ready(10_000);
    const [vni, warmUp] = vniList(2) as [number, number];
    const dev = deviceName(vni);
    const community = vniCommunity(vni);
    // Ready when a device created now shows up in the hub, and its path is
    // gone again after the device is: the agent is connected and in step.
    const alive = () => {
      if (!agent.running()) throw new StopWaiting(`The spoke1 agent exited; see ${agent.logPath}`);
    };
    await topo.addVxlan(peer, warmUp);
    await waitFor(
      async () => {
        alive();
        return await watch.carries(peer.address, vniCommunity(warmUp), true, 150) !== undefined;
      },
      30_000,
      "spoke1's membership path in the hub",
    );
    await topo.delLink(peer, deviceName(warmUp));
    await waitFor(
      async () => {
        alive();
        return await watch.until(() => watch.communities(peer.address) === undefined, 150) !==
          undefined;
      },
      30_000,
      "spoke1's membership path withdrawn from the hub",
    );
    lab.log(`join: ${samples} create/delete samples of ${dev} in spoke1`);
    raw = await sampleJoinLeave(samples, {
      link: (create) => waiters.until(() => links.has(dev) === create, STEP_TIMEOUT_MS),
      seen: (create) => watch.carries(peer.address, community, create, STEP_TIMEOUT_MS),
      toggle: (create) =>
        create ? topo.addVxlan(peer, vni).then(() => {}) : topo.delLink(peer, dev),
    });
  } finally {
    await agent.stop();
    watch.close();
    waiters.close();
    events.close();
    await topo.process(peer, "gobgpd")?.stop("SIGTERM", 5_000);
  }
  return joinResult(samples, raw, sessionMs);
}
