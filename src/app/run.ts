/**
 * The composition root: builds the edges (gobgpd over gRPC, libnl, the HTTP
 * endpoint, metrics), wraps them for `--dry-run`, wires them to the agent,
 * and runs it until SIGTERM or SIGINT, then stops it cleanly within the 2 s
 * budget. SIGHUP reloads the configuration (`reload.ts`).
 *
 * @module
 */
import type { ResolvedConfig } from "../config/types.ts";
import { GobgpClient } from "../bgp/client.ts";
import { Netlink, NetlinkEvents } from "../netlink/mod.ts";
import { bindAgentMetrics, createMetrics } from "../http/agent_metrics.ts";
import { agentEndpointSource, serveEndpoint } from "../http/server.ts";
import { logger, setupLogging } from "../log.ts";
import { hasNetAdmin } from "../privileges.ts";
import { VERSION } from "../version.ts";
import { Agent } from "./agent.ts";
import type { Http1Server } from "../http/http1.ts";
import { dryRunEdges } from "./dry_run.ts";
import type { AgentDeps, OpenEvents } from "./ports.ts";
import { Reloader } from "./reload.ts";

export interface RunOptions {
  /** Watch and compute, but change neither the kernel nor the RIB. */
  dryRun?: boolean;
  /**
   * Reads the configuration again on SIGHUP; throws when the file is
   * refused. @default none: SIGHUP is logged and ignored
   */
  reload?: () => Promise<ResolvedConfig>;
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
    ...(config.gobgp.tls ? { tls: config.gobgp.tls } : {}),
    onTlsReread: (result) => {
      if (result.changed) {
        logger("bgp").info(
          "Read new TLS files for gobgpd at {address}: connecting again with them",
          {
            address: config.gobgp.address,
          },
        );
      } else {
        logger("bgp").error("Cannot use the TLS files again: {issues}; keeping the ones in use", {
          issues: result.issues.map((i) => `${i.path}: ${i.message}`).join("; "),
        });
      }
    },
  });
  const metrics = createMetrics();
  const openEvents: OpenEvents = (handlers) => new NetlinkEvents(handlers);
  const edges: AgentDeps = {
    links: netlink.links,
    fdb: netlink.fdb,
    unicast: netlink.fdb,
    neighbours: netlink.neighbours,
    addresses: netlink.addresses,
    bgp: client,
    openEvents,
    observers: {
      eventToKernel: (seconds) => metrics.eventToKernel.observe(seconds),
      reconcile: (seconds) => metrics.reconcile.observe(seconds),
    },
  };
  const agent = new Agent(config, dryRun ? dryRunEdges(edges) : edges);
  bindAgentMetrics(metrics.registry, agent);

  const source = agentEndpointSource(metrics.registry, agent);
  let http: { server: Http1Server; stop: AbortController } | undefined;
  /** Serves on `listen` ("" = off): the new listener first, then the old one closes. */
  const listen = async (address: ResolvedConfig["http"]["listen"]) => {
    let next: typeof http;
    if (address) {
      const stop = new AbortController();
      next = {
        server: await serveEndpoint(source, { listen: address, signal: stop.signal }),
        stop,
      };
    }
    const old = http;
    http = next;
    old?.stop.abort();
    await old?.server.finished;
  };
  if (config.http.listen) {
    try {
      await listen(config.http.listen);
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
  let resync: ReturnType<typeof setInterval> | undefined;
  const resyncEvery = (ms: number) => {
    clearInterval(resync);
    resync = ms > 0 ? setInterval(() => agent.resync(), ms) : undefined;
  };
  resyncEvery(config.resyncIntervalMs);
  const load = options.reload;
  const reloader = load
    ? new Reloader(config, {
      load,
      logging: (level, format) => setupLogging(level, format),
      listen,
      resyncEvery,
      reconfigure: (next) => agent.reconfigure(next),
      // New certificates end the stream on the old channel; the watcher
      // subscribes again on the new one.
      rereadTls: () => void client.refreshTls(),
    })
    : undefined;
  const onHangup = () => {
    if (reloader) reloader.reload();
    else log.warning("Received SIGHUP, but this run cannot reload its configuration; ignored");
  };
  Deno.addSignalListener("SIGHUP", onHangup);
  const signal = await stopped;
  log.info("Received {signal}", { signal });
  for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
  Deno.removeSignalListener("SIGHUP", onHangup);
  clearInterval(resync);
  // A hard deadline: whatever hangs, the process is gone within 2 s.
  const deadline = setTimeout(() => {
    log.error("Shutdown took longer than 1.8 s; exiting anyway");
    Deno.exit(1);
  }, 1_800);
  const server = http;
  server?.stop.abort();
  await agent.stop();
  netlink.close();
  await server?.server.finished;
  clearTimeout(deadline);
  log.info("Stopped");
  return 0;
}
