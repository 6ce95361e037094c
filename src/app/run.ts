/**
 * The composition root: builds the edges (gobgpd over gRPC, libnl, the HTTP
 * endpoint, metrics), wraps them for `--dry-run`, wires them to the agent,
 * and runs it until SIGTERM or SIGINT, then stops it cleanly within the 2 s
 * budget.
 *
 * @module
 */
import type { ResolvedConfig } from "../config/types.ts";
import { GobgpClient } from "../bgp/client.ts";
import { Netlink, NetlinkEvents } from "../netlink/mod.ts";
import { bindAgentMetrics, createMetrics } from "../http/agent_metrics.ts";
import { serveEndpoint } from "../http/server.ts";
import { logger } from "../log.ts";
import { hasNetAdmin } from "../privileges.ts";
import { VERSION } from "../version.ts";
import { Agent } from "./agent.ts";
import type { Http1Server } from "../http/http1.ts";
import { dryRunEdges } from "./dry_run.ts";
import type { AgentDeps, OpenEvents } from "./ports.ts";

export interface RunOptions {
  /** Watch and compute, but change neither the kernel nor the RIB. */
  dryRun?: boolean;
}

/** Resolves with the exit code once the agent has stopped. */
export async function run(config: ResolvedConfig, options: RunOptions = {}): Promise<number> {
  const log = logger("agent");
  const dryRun = options.dryRun ?? false;
  log.info("evpn-agent {version}{mode}", {
    version: VERSION,
    mode: dryRun ? " (dry run: no kernel or RIB changes)" : "",
  });
  if (!dryRun && hasNetAdmin() === false) {
    throw new Error(
      "This process lacks CAP_NET_ADMIN, which writing FDB entries and links needs: " +
        "run as root, or grant the capability (e.g. securityContext.capabilities.add: [NET_ADMIN])",
    );
  }
  const netlink = Netlink.open();
  const client = new GobgpClient({
    address: config.gobgp.address,
    timeoutMs: config.gobgp.timeoutMs,
  });
  const metrics = createMetrics();
  const openEvents: OpenEvents = (handlers) => new NetlinkEvents(handlers);
  const edges: AgentDeps = {
    links: netlink.links,
    fdb: netlink.fdb,
    bgp: client,
    openEvents,
    observers: {
      eventToKernel: (seconds) => metrics.eventToKernel.observe(seconds),
      reconcile: (seconds) => metrics.reconcile.observe(seconds),
    },
  };
  const agent = new Agent(config, dryRun ? dryRunEdges(edges) : edges);
  bindAgentMetrics(metrics.registry, agent);

  const stopHttp = new AbortController();
  let server: Http1Server | undefined;
  if (config.http.listen) {
    try {
      server = await serveEndpoint({
        metrics: () => metrics.registry.render(),
        health: () => agent.health(),
        ready: () => agent.ready,
        status: () => agent.status(),
      }, { listen: config.http.listen, signal: stopHttp.signal });
    } catch (error) {
      netlink.close();
      client.close();
      throw new Error(
        `Cannot serve http.listen "${config.http.listen}": ${
          error instanceof Error ? error.message : error
        }`,
        { cause: error },
      );
    }
  }

  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const handlers = signals.map((signal) => {
    const handler = () => resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  agent.start();
  const resync = config.resyncIntervalMs > 0
    ? setInterval(() => agent.resync(), config.resyncIntervalMs)
    : undefined;
  const signal = await stopped;
  log.info("Received {signal}", { signal });
  for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
  clearInterval(resync);
  // A hard deadline: whatever hangs, the process is gone within 2 s.
  const deadline = setTimeout(() => {
    log.error("Shutdown took longer than 1.8 s; exiting anyway");
    Deno.exit(1);
  }, 1_800);
  stopHttp.abort();
  await agent.stop();
  netlink.close();
  await server?.finished;
  clearTimeout(deadline);
  log.info("Stopped");
  return 0;
}
