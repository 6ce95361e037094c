/**
 * Runs the agent with real edges (gobgpd over gRPC, libnl) until SIGTERM or
 * SIGINT, then stops it cleanly within the 2 s budget.
 *
 * @module
 */
import type { ResolvedConfig } from "./config/types.ts";
import { Agent } from "./agent.ts";
import { GobgpClient } from "./bgp/client.ts";
import { Netlink, NetlinkEvents } from "./netlink/mod.ts";
import { logger } from "./log.ts";
import { VERSION } from "./version.ts";

/** Resolves with the exit code once the agent has stopped. */
export async function run(config: ResolvedConfig): Promise<number> {
  const log = logger("agent");
  log.info("evpn-agent {version}", { version: VERSION });
  const kernel = Netlink.open();
  const bgp = new GobgpClient({ address: config.gobgp.address, timeoutMs: config.gobgp.timeoutMs });
  const agent = new Agent(config, {
    kernel,
    bgp,
    openEvents: (handlers) => new NetlinkEvents(handlers),
  });
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const handlers = signals.map((signal) => {
    const handler = () => resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  agent.start();
  const signal = await stopped;
  log.info("Received {signal}", { signal });
  for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
  // A hard deadline: whatever hangs, the process is gone within 2 s.
  const deadline = setTimeout(() => {
    log.error("Shutdown took longer than 1.8 s; exiting anyway");
    Deno.exit(1);
  }, 1_800);
  await agent.stop();
  clearTimeout(deadline);
  log.info("Stopped");
  return 0;
}
