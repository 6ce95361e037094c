/**
 * The operator's endpoint: `/metrics`, `/healthz`, `/readyz` and `/status`,
 * served by {@linkcode serveHttp1} (bounded connections, header deadline).
 * GET and HEAD only; requests with a body, unknown paths and other methods
 * get a short plain-text refusal.
 *
 * @module
 */
import type { AgentStatus, Health } from "../status/types.ts";
import { logger } from "../log.ts";
import { type Http1Limits, type Http1Server, serveHttp1 } from "./http1.ts";
import { type HostPort, splitHostPort } from "../net/host_port.ts";

/** What the endpoint serves; the agent and its metrics registry provide it. */
export interface EndpointSource {
  metrics(): string;
  health(): Health;
  ready(): boolean;
  status(): AgentStatus;
}

/** What the endpoint serves for an agent and its metrics registry (run.ts and the tests wire it so). */
export function agentEndpointSource(
  registry: { render(): string },
  agent: { health(): Health; readonly ready: boolean; status(): AgentStatus },
): EndpointSource {
  return {
    metrics: () => registry.render(),
    health: () => agent.health(),
    ready: () => agent.ready,
    status: () => agent.status(),
  };
}

/** Where and how to serve; the connection limits default as in {@linkcode Http1Limits}. */
export interface EndpointOptions extends Http1Limits {
  /** `host:port`; IPv6 hosts in brackets. */
  listen: HostPort;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

const log = logger("http");

function text(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** Handles one request; exported for tests. */
export function handle(request: Request, source: EndpointSource): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return text("method not allowed: use GET\n", 405, { allow: "GET, HEAD" });
  }
  const length = request.headers.get("content-length");
  if ((length !== null && length !== "0") || request.headers.has("transfer-encoding")) {
    return text("request bodies are not accepted\n", 413);
  }
  const path = new URL(request.url).pathname;
  switch (path) {
    case "/metrics":
      return text(source.metrics(), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      });
    case "/healthz": {
      const health = source.health();
      const lines = Object.entries(health.loops).map(([name, loop]) =>
        `${loop.ok ? "ok" : "STUCK"} ${name}: ${loop.detail}`
      );
      return text(
        `${health.ok ? "ok" : "unhealthy"}\n${lines.join("\n")}\n`,
        health.ok ? 200 : 503,
      );
    }
    case "/readyz":
      return source.ready() ? text("ready\n") : text("not ready\n", 503);
    case "/status":
      return new Response(JSON.stringify(source.status(), null, 2) + "\n", {
        headers: { "content-type": "application/json" },
      });
    default:
      return text(`not found: ${path}\nendpoints: /metrics /healthz /readyz /status\n`, 404);
  }
}

/** Starts the endpoint; resolves once it listens. */
// deno-lint-ignore require-await -- async so that a failed bind rejects like every other failure
export async function serveEndpoint(
  source: EndpointSource,
  options: EndpointOptions,
): Promise<Http1Server> {
  const { listen, ...limits } = options;
  const server = serveHttp1({
    ...limits,
    ...splitHostPort(listen),
    onError: (error) => {
      log.error("Request failed: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
      return text("internal error\n", 500);
    },
  }, (request) => handle(request, source));
  log.info("Serving /metrics /healthz /readyz /status on http://{listen}", { listen });
  return server;
}
