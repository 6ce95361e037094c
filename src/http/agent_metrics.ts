/**
 * The agent's Prometheus metrics: counters read from `Agent.stats`, gauges
 * read from its status on scrape, two histograms fed as events happen, and
 * the standard `process_*` metrics.
 *
 * @module
 */
import process from "node:process";
import { GOBGP_RPCS, type MetricsSource, RESYNC_TRIGGERS } from "../status/types.ts";
import { EVPN_ROUTE_TYPES } from "../overlay/evpn_route.ts";
import { SKIP_REASONS } from "../overlay/route.ts";
import { VERSION } from "../version.ts";
import { type Histogram, LATENCY_BUCKETS, Registry } from "./metrics.ts";

export interface AgentMetrics {
  registry: Registry;
  eventToKernel: Histogram;
  reconcile: Histogram;
}

/** Histograms first (the agent feeds them), then `bind` the rest to the agent. */
export function createMetrics(): AgentMetrics {
  const registry = new Registry();
  return {
    registry,
    eventToKernel: registry.histogram(
      "evpn_agent_event_to_kernel_seconds",
      "Time from a route change received on the WatchEvent stream to the FDB write it caused.",
      LATENCY_BUCKETS,
    ),
    reconcile: registry.histogram(
      "evpn_agent_reconcile_duration_seconds",
      "Duration of one reconcile pass over the dirty VNIs.",
      LATENCY_BUCKETS,
    ),
  };
}

const START_TIME = Date.now() / 1000;

/** Registers every metric that is read from `agent` on scrape. */
export function bindAgentMetrics(registry: Registry, agent: MetricsSource): void {
  const s = agent.stats;
  registry.gauge("evpn_agent_vnis_online", "VNIs whose vxlan device exists.", () => [
    [{}, agent.vnisOnline],
  ]);
  registry.gauge(
    "evpn_agent_build_info",
    "Always 1; the agent's version in a label.",
    () => [[{ version: VERSION }, 1]],
  );
  // One status() per scrape, shared by the per-VNI gauges below.
  const vnis = perScrape(() => agent.status().vnis.filter((vni) => vni.online));
  registry.gauge(
    "evpn_agent_flood_entries",
    "Flood FDB entries per VNI: desired (from BGP) and programmed (in the kernel).",
    function* () {
      for (const vni of vnis()) {
        const labels = { vni: String(vni.vni), device: vni.device };
        yield [{ ...labels, state: "desired" }, vni.desired.length];
        yield [{ ...labels, state: "programmed" }, vni.programmed.length];
      }
    },
  );
  registry.gauge(
    "evpn_agent_flood_entries_missing",
    "Flood FDB entries per VNI that BGP asks for but the kernel lacks.",
    () => vnis().map((vni) => [{ vni: String(vni.vni), device: vni.device }, vni.missing.length]),
  );
  registry.gauge(
    "evpn_agent_flood_entries_extra",
    "Flood FDB entries per VNI in the kernel that BGP does not ask for.",
    () => vnis().map((vni) => [{ vni: String(vni.vni), device: vni.device }, vni.extra.length]),
  );
  for (
    const [name, kind, help] of [
      [
        "evpn_agent_unicast_entries",
        "remoteMacs",
        "Unicast FDB entries (MAC dst VTEP, from EVPN Type 2 routes)",
      ],
      [
        "evpn_agent_neighbour_entries",
        "neighbours",
        "Neighbour entries (IP lladdr MAC, from EVPN Type 2 MAC+IP routes)",
      ],
    ] as const
  ) {
    registry.gauge(name, `${help} per VNI: desired and programmed.`, function* () {
      for (const vni of vnis()) {
        const entries = vni.macIp?.[kind];
        if (!entries) continue;
        const labels = { vni: String(vni.vni), device: vni.device };
        yield [{ ...labels, state: "desired" }, entries.desired.length];
        yield [{ ...labels, state: "programmed" }, entries.programmed.length];
      }
    });
  }
  registry.gauge(
    "evpn_agent_own_type2_routes",
    "Our own EVPN Type 2 routes per VNI (the device's MAC-only route and one per address).",
    function* () {
      for (const vni of vnis()) {
        if (!vni.macIp) continue;
        yield [{ vni: String(vni.vni), device: vni.device }, vni.macIp.ownRoutes.length];
      }
    },
  );
  registry.counterFrom(
    "evpn_agent_fdb_operations_total",
    "FDB writes by operation (append, del) and result (ok, error).",
    () => [
      [{ op: "append", result: "ok" }, s.fdbWrites.append],
      [{ op: "del", result: "ok" }, s.fdbWrites.del],
      [{ op: "append", result: "error" }, s.fdbErrors.append],
      [{ op: "del", result: "error" }, s.fdbErrors.del],
    ],
  );
  registry.counterFrom(
    "evpn_agent_route_events_total",
    "Route events taken from the WatchEvent stream, by kind.",
    () => [[{ kind: "add" }, s.routeEvents.add], [{ kind: "withdraw" }, s.routeEvents.withdraw]],
  );
  registry.counterFrom(
    "evpn_agent_routes_skipped_total",
    "Paths skipped, by reason.",
    () => SKIP_REASONS.map((reason) => [{ reason }, s.skipped[reason]]),
  );
  registry.counterFrom(
    "evpn_agent_evpn_routes_total",
    "EVPN paths received from gobgpd (taken or skipped), by route type: ethernet_ad (1), mac_ip (2), inclusive_multicast (3), ethernet_segment (4), ip_prefix (5), other.",
    () => EVPN_ROUTE_TYPES.map((type) => [{ type }, s.evpnRoutes[type]]),
  );
  registry.gauge(
    "evpn_agent_evpn_type3_advertised",
    "This node's EVPN Type 3 routes that gobgpd holds (one per online VNI in EVPN mode).",
    () => {
      const n = agent.type3Advertised;
      return n === undefined ? [] : [[{}, n]];
    },
  );
  registry.counterFrom(
    "evpn_agent_evpn_type3_updates_total",
    "Changes of this node's own EVPN Type 3 routes (adds and withdrawals) accepted by gobgpd.",
    () => [[{}, s.type3Updates]],
  );
  registry.gauge(
    "evpn_agent_bgp_stream_up",
    "1 while the WatchEvent stream to gobgpd is up.",
    () => [[{}, agent.watchState === "up" ? 1 : 0]],
  );
  // One stream counter: every loss is followed by one new stream (the old
  // evpn_agent_bgp_reconnects_total was this count, late by at most one).
  registry.counterFrom(
    "evpn_agent_bgp_stream_losses_total",
    "WatchEvent streams lost: failed, closed by gobgpd, or without an initial table in time; each is followed by a new stream after a backoff.",
    () => [[{}, s.streamDowns]],
  );
  registry.counterFrom(
    "evpn_agent_resyncs_total",
    "Full resyncs (links and flood entries read again), by trigger: interval, netlink_overrun, netlink_error.",
    () => RESYNC_TRIGGERS.map((trigger) => [{ trigger }, s.resyncs[trigger]]),
  );
  registry.counterFrom(
    "evpn_agent_netlink_overruns_total",
    "Times the kernel dropped notifications to the agent (netlink socket overrun); each starts a full resync.",
    () => [[{}, s.netlinkOverruns]],
  );
  registry.counterFrom(
    "evpn_agent_gobgp_api_errors_total",
    "gobgpd API calls that failed with a gRPC error, by RPC: add_path, delete_path, watch_event (a stream that ended with one).",
    () => GOBGP_RPCS.map((rpc) => [{ rpc }, s.gobgpErrors[rpc]]),
  );
  registry.gauge(
    "evpn_agent_membership_advertised",
    "1 while this node's membership route is in gobgpd with at least one community.",
    () => [[{}, (agent.advertised?.length ?? 0) > 0 ? 1 : 0]],
  );
  registry.counterFrom(
    "evpn_agent_membership_updates_total",
    "Membership route changes accepted by gobgpd.",
    () => [[{}, s.membershipUpdates]],
  );
  registry.gauge(
    "evpn_agent_last_sync_timestamp_seconds",
    "Unix time of the last reconcile pass that left every VNI in sync.",
    () => {
      const last = agent.lastSync;
      return last ? [[{}, last.getTime() / 1000]] : [];
    },
  );
  registry.gauge("evpn_agent_ready", "1 when /readyz answers 200.", () => [
    [{}, agent.ready ? 1 : 0],
  ]);
  bindProcessMetrics(registry);
}

/**
 * The standard process metrics of Prometheus client libraries. CPU time comes
 * from `node:process` `cpuUsage()`, which needs no permission. Virtual memory
 * and open fds come from /proc/self, which Deno opens only with --allow-all:
 * under the compiled executable's permissions (scripts/build.sh) the two are
 * declared without samples.
 */
function bindProcessMetrics(registry: Registry): void {
  registry.counterFrom("process_cpu_seconds_total", "User and system CPU time spent.", () => {
    const { user, system } = process.cpuUsage();
    return [[{}, (user + system) / 1e6]];
  });
  registry.gauge("process_resident_memory_bytes", "Resident memory size.", () => {
    return [[{}, Deno.memoryUsage().rss]];
  });
  registry.gauge("process_virtual_memory_bytes", "Virtual memory size.", () => {
    const kb = /VmSize:\s+(\d+)/.exec(readProc("/proc/self/status") ?? "")?.[1];
    return kb ? [[{}, Number(kb) * 1024]] : [];
  });
  registry.gauge("process_heap_bytes", "V8 heap in use.", () => [
    [{}, Deno.memoryUsage().heapUsed],
  ]);
  registry.gauge("process_open_fds", "Open file descriptors.", () => {
    try {
      return [[{}, [...Deno.readDirSync("/proc/self/fd")].length]];
    } catch {
      return [];
    }
  });
  registry.gauge("process_start_time_seconds", "Start time since the Unix epoch.", () => [
    [{}, START_TIME],
  ]);
}

/**
 * `read` once per scrape: a render is synchronous, so the value is dropped
 * in the microtask after the first call.
 */
function perScrape<T>(read: () => T): () => T {
  let cached: { value: T } | undefined;
  return () => {
    if (!cached) {
      cached = { value: read() };
      queueMicrotask(() => cached = undefined);
    }
    return cached.value;
  };
}

function readProc(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}
