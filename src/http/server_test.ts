import { serveHttp1 } from "./http1.ts";
import assert from "node:assert/strict";
import process from "node:process";
import { Agent } from "../app/agent.ts";
import type { BgpPort, EventHandlers, FdbPort, LinkPort } from "../app/ports.ts";
import type { AgentStatus, Health } from "../status/types.ts";
import { resolveConfig, type ResolvedConfig } from "../config/mod.ts";
import type { WatchHandlers } from "../bgp/client.ts";
import { encodeMembershipPath, type PathMessage } from "../bgp/path_codec.ts";
import { makeCommunity } from "../net/community.ts";
import type { LinkInfo } from "../netlink/types.ts";
import { parseExposition, sampleValue } from "../../tests/_ops_prom.ts";
import { bindAgentMetrics, createMetrics } from "./agent_metrics.ts";
import { agentEndpointSource, type EndpointSource, handle, serveEndpoint } from "./server.ts";
import type { HostPort } from "../net/host_port.ts";
import { VERSION } from "../version.ts";

const STATUS: AgentStatus = {
  version: "0.0.0-test",
  dryRun: false,
  ready: true,
  node: { localAddress: "192.0.2.11", addressFamily: "ipv4", mode: "discover" },
  bgp: {
    address: "127.0.0.1:50051",
    stream: "up",
    reconnects: 0,
    remoteVteps: 0,
    membership: { enabled: true, prefix: "192.0.2.11/32", communities: [] },
  },
  lastSync: null,
  vnis: [],
};

class FakeSource implements EndpointSource {
  isReady = false;
  loops: Health["loops"] = {
    reconcile: { ok: true, detail: "idle" },
    bgp: { ok: true, detail: "stream up" },
  };
  metricsText = "# HELP demo_up Up.\n# TYPE demo_up gauge\ndemo_up 1\n";
  metrics() {
    return this.metricsText;
  }
  health(): Health {
    return { ok: Object.values(this.loops).every((l) => l.ok), loops: this.loops };
  }
  ready() {
    return this.isReady;
  }
  status() {
    return STATUS;
  }
}

const get = (path: string, init: RequestInit = {}) =>
  new Request(`http://127.0.0.1:9469${path}`, init);

Deno.test("handle() refuses methods other than GET and HEAD with 405 and Allow", async () => {
  const source = new FakeSource();
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    const response = handle(get("/metrics", { method }), source);
    assert.equal(response.status, 405, method);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    assert.match(await response.text(), /method not allowed/);
  }
  assert.equal(handle(get("/status", { method: "POST", body: "{}" }), source).status, 405);
});

Deno.test("handle() refuses a GET that announces a body with 413", async () => {
  const source = new FakeSource();
  const withLength = get("/metrics", { headers: { "content-length": "5" } });
  const response = handle(withLength, source);
  assert.equal(response.status, 413);
  assert.match(await response.text(), /bodies are not accepted/);
  const chunked = get("/status", { headers: { "transfer-encoding": "chunked" } });
  assert.equal(handle(chunked, source).status, 413);
  const empty = get("/readyz", { headers: { "content-length": "0" } });
  assert.equal(handle(empty, source).status, 503, "an empty body is no body");
});

Deno.test("handle() answers unknown paths with 404 and the list of endpoints", async () => {
  const source = new FakeSource();
  for (const path of ["/", "/metric", "/status/x", "/METRICS", "/../etc/passwd"]) {
    const response = handle(get(path), source);
    assert.equal(response.status, 404, path);
    assert.match(await response.text(), /endpoints: \/metrics \/healthz \/readyz \/status/);
  }
  assert.equal(handle(get("/metrics?debug=1"), source).status, 200, "queries are ignored");
});

Deno.test("handle() /readyz follows the source: 503 before ready, 200 after, 503 again", async () => {
  const source = new FakeSource();
  const ready = async () => {
    const r = handle(get("/readyz"), source);
    return [r.status, await r.text()];
  };
  assert.deepEqual(await ready(), [503, "not ready\n"]);
  source.isReady = true;
  assert.deepEqual(await ready(), [200, "ready\n"]);
  source.isReady = false;
  assert.deepEqual(await ready(), [503, "not ready\n"]);
});

Deno.test("handle() /healthz turns 503 and names the loop that is stuck", async () => {
  const source = new FakeSource();
  let response = handle(get("/healthz"), source);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok\nok reconcile: idle\nok bgp: stream up\n");
  source.loops.reconcile = { ok: false, detail: "work pending and no flush for 42 s" };
  response = handle(get("/healthz"), source);
  assert.equal(response.status, 503);
  assert.equal(
    await response.text(),
    "unhealthy\nSTUCK reconcile: work pending and no flush for 42 s\nok bgp: stream up\n",
  );
});

Deno.test("handle() /status serves the source's status as JSON", async () => {
  const response = handle(get("/status"), new FakeSource());
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), STATUS);
});

Deno.test("handle() /metrics has the text-format content type; HEAD is allowed", async () => {
  const source = new FakeSource();
  const response = handle(get("/metrics"), source);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(await response.text(), source.metricsText);
  assert.equal(handle(get("/metrics", { method: "HEAD" }), source).status, 200);
});

// ---- the agent's real metrics ------------------------------------------------

const C = (v: number) => makeCommunity(65000, v);

class FakeKernel implements LinkPort, FdbPort {
  links = new Map<number, LinkInfo>([
    [7, { ifindex: 7, name: "vxlan10010", kind: "vxlan", up: true, vni: 10010 }],
    [8, { ifindex: 8, name: "vxlan10011", kind: "vxlan", up: true, vni: 10011 }],
  ]);
  fdb = new Map<number, Set<string>>();
  listLinks = () => [...this.links.values()];
  getLink = (name: string) => this.listLinks().find((l) => l.name === name);
  getLinkByIndex = (ifindex: number) => this.links.get(ifindex);
  createVxlan = () => -1;
  deleteLink() {}
  /** Destinations whose writes the kernel refuses. */
  refuse = new Set<string>();
  listFlood = (ifindex: number) => [...(this.fdb.get(ifindex) ?? [])];
  appendFlood(ifindex: number, dst: string) {
    if (this.refuse.has(dst)) throw new Error(`refused append ${dst}`);
    if (!this.fdb.has(ifindex)) this.fdb.set(ifindex, new Set());
    this.fdb.get(ifindex)!.add(dst);
  }
  delFlood(ifindex: number, dst: string) {
    if (this.refuse.has(dst)) throw new Error(`refused del ${dst}`);
    this.fdb.get(ifindex)?.delete(dst);
  }
  close() {}
}

class FakeBgp implements BgpPort {
  watch: WatchHandlers | undefined;
  watchBest(handlers: WatchHandlers) {
    this.watch = handlers;
    return { cancel: () => {} };
  }
  /** What AddPath fails with, while set. */
  addPathError: Error | undefined;
  addPath = () =>
    this.addPathError ? Promise.reject(this.addPathError) : Promise.resolve(new Uint8Array(16));
  deletePath = () => Promise.resolve();
  close() {}
}

/** Resolved by the schema itself, so new config keys need no change here. */
const CONFIG: ResolvedConfig = resolveConfig({
  logLevel: "error",
  communityAsn: 65000,
  http: { listen: "" },
  resyncInterval: "0",
  node: { localAddress: "192.0.2.11" },
}, { interfaceAddresses: () => undefined });

function route(vtep: string, communities: number[], withdraw = false): PathMessage {
  return { ...encodeMembershipPath({ address: vtep, communities }), isWithdraw: withdraw };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Polls `probe` every 5 ms until it holds (a busy machine may need more than one tick). */
async function until(probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!probe()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out after ${timeoutMs} ms: ${what}`);
    await tick();
  }
}

/** An agent on fakes, with its metrics bound, served through `handle()` as run.ts does. */
function agentEndpoint() {
  const kernel = new FakeKernel();
  const bgp = new FakeBgp();
  const metrics = createMetrics();
  let events: EventHandlers | undefined;
  const agent = new Agent(structuredClone(CONFIG), {
    links: kernel,
    fdb: kernel,
    bgp,
    openEvents: (handlers) => {
      events = handlers;
      return { start() {}, close() {} };
    },
    observers: {
      eventToKernel: (s) => metrics.eventToKernel.observe(s),
      reconcile: (s) => metrics.reconcile.observe(s),
    },
  });
  bindAgentMetrics(metrics.registry, agent);
  const source = agentEndpointSource(metrics.registry, agent);
  const scrape = async () => {
    const response = handle(get("/metrics"), source);
    assert.equal(response.status, 200);
    return parseExposition(await response.text());
  };
  return { agent, kernel, bgp, source, scrape, events: () => events! };
}

Deno.test("the agent's /metrics parses and follows conventions before the first table", async () => {
  const { agent, scrape } = agentEndpoint();
  agent.start();
  const families = await scrape();
  for (
    const name of [
      "evpn_agent_vnis_online",
      "evpn_agent_build_info",
      "evpn_agent_flood_entries",
      "evpn_agent_flood_entries_missing",
      "evpn_agent_flood_entries_extra",
      "evpn_agent_fdb_operations_total",
      "evpn_agent_resyncs_total",
      "evpn_agent_gobgp_api_errors_total",
      "evpn_agent_netlink_overruns_total",
      "evpn_agent_route_events_total",
      "evpn_agent_routes_skipped_total",
      "evpn_agent_bgp_stream_up",
      "evpn_agent_bgp_stream_losses_total",
      "evpn_agent_membership_advertised",
      "evpn_agent_last_sync_timestamp_seconds",
      "evpn_agent_reconcile_duration_seconds",
      "evpn_agent_event_to_kernel_seconds",
      "evpn_agent_ready",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "process_open_fds",
    ]
  ) {
    assert.ok(families.has(name), `${name} is exported`);
    assert.ok(families.get(name)!.help.length > 0, `${name} has help`);
  }
  assert.equal(families.get("evpn_agent_reconcile_duration_seconds")!.type, "histogram");
  assert.equal(sampleValue(families, "evpn_agent_vnis_online"), 2);
  assert.equal(sampleValue(families, "evpn_agent_build_info", { version: VERSION }), 1);
  assert.equal(sampleValue(families, "evpn_agent_ready"), 0);
  assert.equal(sampleValue(families, "evpn_agent_bgp_stream_up"), 0, "up only once a table came");
  assert.equal(
    families.get("evpn_agent_last_sync_timestamp_seconds")!.samples.length,
    0,
    "no sync yet",
  );
  assert.ok(sampleValue(families, "process_resident_memory_bytes")! > 1_000_000);
  // Enumerated label values are snake_case; names and numbers (vni, device, le, version) are data.
  const data = new Set(["vni", "device", "le", "version"]);
  const notSnake = [...families.values()].flatMap((f) => f.samples).flatMap((s) =>
    Object.entries(s.labels).filter(([k, v]) => !data.has(k) && !/^[a-z][a-z0-9_]*$/.test(v))
      .map(([k, v]) => `${s.name}{${k}="${v}"}`)
  );
  assert.deepEqual(notSnake, [], "label values not in snake_case");
  const cpu = sampleValue(families, "process_cpu_seconds_total")!;
  const { user, system } = process.cpuUsage();
  assert.ok(cpu > 0 && cpu <= (user + system) / 1e6, `CPU ${cpu} s from cpuUsage()`);
  await agent.stop();
});

Deno.test("the agent's /metrics, /readyz and /status agree after a table and an update", async () => {
  const { agent, kernel, bgp, source, scrape } = agentEndpoint();
  agent.start();
  assert.equal(handle(get("/readyz"), source).status, 503);
  bgp.watch!.onTable([
    route("192.0.2.12", [C(10010)]),
    route("192.0.2.13", [C(10010), C(10011)]),
    route("192.0.2.11", [C(10010)]), // own address: skipped
    route("192.0.2.14", [C(999)]), // unknown VNI: skipped
  ]);
  await until(() => handle(get("/readyz"), source).status === 200, "/readyz 200 after the table");
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)], true)]);
  await until(() => kernel.fdb.get(7)?.size === 1, "the withdrawn VTEP deleted");
  assert.deepEqual([...kernel.fdb.get(7)!], ["192.0.2.13"]);

  const families = await scrape();
  const v = (name: string, labels: Record<string, string> = {}) =>
    sampleValue(families, name, labels);
  assert.equal(v("evpn_agent_ready"), 1);
  assert.equal(v("evpn_agent_flood_entries", { vni: "10010", state: "desired" }), 1);
  assert.equal(v("evpn_agent_flood_entries", { vni: "10010", state: "programmed" }), 1);
  assert.equal(v("evpn_agent_flood_entries", { vni: "10011", state: "programmed" }), 1);
  assert.equal(v("evpn_agent_fdb_operations_total", { op: "append", result: "ok" }), 3);
  assert.equal(v("evpn_agent_fdb_operations_total", { op: "del", result: "ok" }), 1);
  assert.equal(v("evpn_agent_route_events_total", { kind: "add" }), 3);
  assert.equal(v("evpn_agent_route_events_total", { kind: "withdraw" }), 1);
  assert.equal(v("evpn_agent_routes_skipped_total", { reason: "own_address" }), 1);
  assert.equal(v("evpn_agent_routes_skipped_total", { reason: "unknown_vni" }), 1);
  assert.equal(v("evpn_agent_membership_advertised"), 1);
  assert.ok(v("evpn_agent_reconcile_duration_seconds_count")! >= 2);
  assert.equal(v("evpn_agent_event_to_kernel_seconds_count"), 1, "the withdrawal's delete");
  const synced = v("evpn_agent_last_sync_timestamp_seconds")!;
  assert.ok(Math.abs(synced - Date.now() / 1000) < 5, `last sync ${synced}`);

  const status = await handle(get("/status"), source).json() as AgentStatus;
  assert.equal(status.ready, true);
  assert.deepEqual(
    status.vnis.map((x) => [x.vni, x.device, x.desired, x.programmed, x.missing, x.extra]),
    [
      [10010, "vxlan10010", ["192.0.2.13"], ["192.0.2.13"], [], []],
      [10011, "vxlan10011", ["192.0.2.13"], ["192.0.2.13"], [], []],
    ],
  );
  assert.deepEqual(status.bgp.membership.communities, ["65000:10010", "65000:10011"]);

  bgp.watch!.onEnd(new Error("UNAVAILABLE"));
  await tick();
  assert.equal(handle(get("/readyz"), source).status, 503, "not ready while gobgpd is gone");
  const after = await scrape();
  assert.equal(sampleValue(after, "evpn_agent_bgp_stream_up"), 0);
  assert.equal(sampleValue(after, "evpn_agent_bgp_stream_losses_total"), 1);
  await agent.stop();
});

Deno.test("the agent's /metrics counts missing and extra entries even when the totals agree", async () => {
  const { agent, kernel, bgp, source, scrape } = agentEndpoint();
  agent.start();
  bgp.watch!.onTable([route("192.0.2.13", [C(10010)])]);
  await until(() => handle(get("/readyz"), source).status === 200, "ready after the table");
  // A foreign entry appears and a new VTEP arrives; the kernel refuses both writes.
  kernel.refuse = new Set(["192.0.2.12", "192.0.2.99"]);
  kernel.fdb.get(7)!.add("192.0.2.99");
  agent.resync();
  bgp.watch!.onTable([route("192.0.2.12", [C(10010)])]);
  await until(() => agent.stats.fdbErrors.append > 0 && agent.stats.fdbErrors.del > 0, "refused");

  const families = await scrape();
  const v = (name: string, labels: Record<string, string>) => sampleValue(families, name, labels);
  const vni = { vni: "10010", device: "vxlan10010" };
  assert.equal(v("evpn_agent_flood_entries", { ...vni, state: "desired" }), 2);
  assert.equal(v("evpn_agent_flood_entries", { ...vni, state: "programmed" }), 2);
  assert.equal(v("evpn_agent_flood_entries_missing", vni), 1, "192.0.2.12");
  assert.equal(v("evpn_agent_flood_entries_extra", vni), 1, "192.0.2.99");
  assert.equal(v("evpn_agent_flood_entries_missing", { vni: "10011" }), 0);
  assert.equal(v("evpn_agent_flood_entries_extra", { vni: "10011" }), 0);
  await agent.stop();
});

Deno.test("the agent's /metrics counts resyncs by trigger and netlink overruns", async () => {
  const { agent, scrape, events } = agentEndpoint();
  agent.start();
  const before = await scrape();
  for (const trigger of ["interval", "netlink_overrun", "netlink_error"]) {
    assert.equal(sampleValue(before, "evpn_agent_resyncs_total", { trigger }), 0, trigger);
  }
  assert.equal(
    sampleValue(before, "evpn_agent_netlink_overruns_total"),
    0,
    "start-up is no resync",
  );
  agent.resync();
  events().onOverrun();
  events().onOverrun();
  events().onError(new Error("socket closed"));
  const after = await scrape();
  const v = (trigger: string) => sampleValue(after, "evpn_agent_resyncs_total", { trigger });
  assert.deepEqual([v("interval"), v("netlink_overrun"), v("netlink_error")], [1, 2, 1]);
  assert.equal(sampleValue(after, "evpn_agent_netlink_overruns_total"), 2);
  await agent.stop();
});

/** What grpc-js rejects with: an Error with a numeric status `code`. */
function grpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("the agent's /metrics counts gobgpd API errors by RPC, gRPC errors only", async () => {
  const { agent, bgp, source, scrape } = agentEndpoint();
  const errors = async (rpc: string) =>
    sampleValue(await scrape(), "evpn_agent_gobgp_api_errors_total", { rpc });
  bgp.addPathError = grpcError(14, "14 UNAVAILABLE: No connection established");
  agent.start();
  assert.deepEqual(
    [await errors("add_path"), await errors("delete_path"), await errors("watch_event")],
    [0, 0, 0],
  );
  bgp.watch!.onTable([route("192.0.2.13", [C(10010)])]);
  await until(() => agent.stats.gobgpErrors.add_path > 0, "AddPath failed");
  bgp.addPathError = undefined;
  await until(() => handle(get("/readyz"), source).status === 200, "ready");
  const addPathErrors = await errors("add_path");
  assert.ok(addPathErrors! >= 1, `add_path ${addPathErrors}`);
  bgp.watch!.onEnd(new Error("gobgpd closed the WatchEvent stream")); // no gRPC status
  assert.equal(await errors("watch_event"), 0);
  await until(() => agent.watchState === "connecting", "re-subscribed");
  bgp.watch!.onEnd(grpcError(14, "14 UNAVAILABLE: Connection dropped"));
  assert.equal(await errors("watch_event"), 1);
  assert.equal(await errors("delete_path"), 0);
  await agent.stop();
});

// ---- over a real socket -------------------------------------------------------

/** Sends raw bytes, returns everything the server wrote until it closed or went quiet. */
async function raw(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 100; i++) {
      const timer = setTimeout(() => conn.close(), 2000);
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        n = null;
      } finally {
        clearTimeout(timer);
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      const text = new TextDecoder().decode(
        new Uint8Array(chunks.flatMap((c) => [...c])),
      );
      if (/\r\n\r\n[^]*\n$/.test(text) && /content-length: (\d+)/i.test(text)) {
        const length = Number(/content-length: (\d+)/i.exec(text)![1]);
        if (text.length - text.indexOf("\r\n\r\n") - 4 >= length) return text;
      }
    }
    return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by the timer
    }
  }
}

Deno.test("serveEndpoint() refuses bodies and unknown paths on the wire and keeps serving", async () => {
  const source = new FakeSource();
  source.isReady = true;
  const stop = new AbortController();
  const server = await serveEndpoint(source, {
    listen: "127.0.0.1:0" as HostPort, // port 0: any free port, which the config refuses
    signal: stop.signal,
  });
  try {
    const port = (server.addr as Deno.NetAddr).port;
    const status = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    assert.equal(
      status(await raw(port, "GET /metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello")),
      413,
    );
    assert.equal(
      status(
        await raw(
          port,
          "GET /status HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
      ),
      413,
    );
    assert.equal(
      status(await raw(port, "POST /readyz HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")),
      405,
    );
    assert.equal(status(await raw(port, "GET /nope HTTP/1.1\r\nhost: x\r\n\r\n")), 404);
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.deepEqual([response.status, await response.text()], [200, "ready\n"]);
  } finally {
    stop.abort();
    await server.finished;
  }
});

// ---- connection limits ----------------------------------------------------------

const encode = (text: string) => new TextEncoder().encode(text);

/**
 * Reads `conn` until the server closes it (then `"closed"`, with what it
 * sent) or `withinMs` passes (then `"open"`; the connection is left open).
 */
async function untilClosed(
  conn: Deno.Conn,
  withinMs: number,
): Promise<{ state: "closed" | "open"; text: string }> {
  let text = "";
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { state: "open", text };
    const { promise: late, resolve } = Promise.withResolvers<"late">();
    const timer = setTimeout(() => resolve("late"), left);
    const n = await Promise.race([conn.read(buf).catch(() => null), late]);
    clearTimeout(timer);
    if (n === "late") return { state: "open", text };
    if (n === null) return { state: "closed", text };
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

/** The endpoint with small limits, and connections opened to it, all closed afterwards. */
async function limitedEndpoint(
  limits: {
    headerTimeoutMs?: number;
    maxConnections?: number;
    idleEvictAfterMs?: number;
  },
) {
  const source = new FakeSource();
  source.isReady = true;
  const stop = new AbortController();
  const server = await serveEndpoint(source, {
    listen: "127.0.0.1:0" as HostPort, // port 0: any free port, which the config refuses
    signal: stop.signal,
    ...limits,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  return {
    server,
    connect: async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      return conn;
    },
    async [Symbol.asyncDispose]() {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed by the server or the test
        }
      }
      stop.abort();
      await server.finished;
    },
  };
}

Deno.test("serveEndpoint() closes a connection that sends no request within headerTimeoutMs", async () => {
  await using endpoint = await limitedEndpoint({ headerTimeoutMs: 300 });
  const idle = await endpoint.connect();
  assert.equal((await untilClosed(idle, 5_000)).state, "closed");
});

Deno.test("serveEndpoint() closes a connection whose header trickles in slower than headerTimeoutMs", async () => {
  await using endpoint = await limitedEndpoint({ headerTimeoutMs: 500 });
  const slow = await endpoint.connect();
  await slow.write(encode("GET /metrics HTTP/1.1\r\n"));
  const drip = setInterval(() => slow.write(encode("x-a: b\r\n")).catch(() => {}), 50);
  try {
    const result = await untilClosed(slow, 5_000);
    assert.equal(result.state, "closed");
    assert.doesNotMatch(result.text, /^HTTP\/1\.1 200/);
  } finally {
    clearInterval(drip);
  }
});

Deno.test("serveEndpoint() keeps a connection alive for more requests, then closes it when idle", async () => {
  await using endpoint = await limitedEndpoint({ headerTimeoutMs: 500 });
  const conn = await endpoint.connect();
  // Two pipelined requests in one write, answered in order on the same connection.
  await conn.write(
    encode("GET /readyz HTTP/1.1\r\nhost: x\r\n\r\nHEAD /nope HTTP/1.1\r\nhost: x\r\n\r\n"),
  );
  const { state, text } = await untilClosed(conn, 5_000);
  assert.equal(state, "closed", "an idle keep-alive connection is closed after headerTimeoutMs");
  const responses = text.split(/(?=HTTP\/1\.1 )/);
  assert.equal(responses.length, 2, text);
  assert.match(responses[0]!, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nready\n$/);
  // HEAD: the GET's headers (its length), no body.
  assert.match(responses[1]!, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.match(responses[1]!, /\r\ncontent-length: [1-9]\d*\r\n/i);
  assert.match(responses[1]!, /\r\n\r\n$/);
});

/** Sends a kept-alive GET and reads exactly its response (by content-length). */
async function keptAliveGet(conn: Deno.Conn, path: string): Promise<string> {
  await conn.write(encode(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`));
  let text = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1];
    if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) return text;
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed after ${JSON.stringify(text)}`);
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("serveEndpoint() holds at most maxConnections and evicts the longest kept-alive idle one", async () => {
  await using endpoint = await limitedEndpoint({
    headerTimeoutMs: 60_000,
    maxConnections: 3,
    idleEvictAfterMs: 200,
  });
  const idle = [];
  for (let i = 0; i < 3; i++) {
    const conn = await endpoint.connect();
    assert.match(await keptAliveGet(conn, "/readyz"), /^HTTP\/1\.1 200 OK\r\n/);
    idle.push(conn);
  }
  await new Promise((r) => setTimeout(r, 400));
  const client = await endpoint.connect();
  await client.write(encode("GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
  const answer = await untilClosed(client, 5_000);
  assert.equal(answer.state, "closed");
  assert.match(answer.text, /^HTTP\/1\.1 200 OK\r\n[^]*ready\n$/);
  assert.equal(
    (await untilClosed(idle[0]!, 2_000)).state,
    "closed",
    "the oldest idle one made room",
  );
  assert.equal((await untilClosed(idle[2]!, 300)).state, "open", "the others stay");
  assert.ok(endpoint.server.connections <= 3, `${endpoint.server.connections} open`);
});

Deno.test("serveEndpoint() never evicts a connection before its first response: a new client waits", async () => {
  // A fresh connection's request may sit unread in the socket: closing it would drop a scrape.
  await using endpoint = await limitedEndpoint({
    headerTimeoutMs: 1_000,
    maxConnections: 3,
    idleEvictAfterMs: 50,
  });
  const silent = [];
  for (let i = 0; i < 3; i++) silent.push(await endpoint.connect());
  await new Promise((r) => setTimeout(r, 200));
  const client = await endpoint.connect();
  await client.write(encode("GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
  assert.equal((await untilClosed(silent[0]!, 300)).state, "open", "not evicted");
  const answer = await untilClosed(client, 5_000);
  assert.equal(answer.state, "closed");
  assert.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/, "answered once a silent one timed out");
  assert.ok(endpoint.server.connections <= 3, `${endpoint.server.connections} open`);
});

Deno.test("serveHttp1() handles at most maxConcurrentRequests at once and answers every request", async () => {
  let running = 0;
  let most = 0;
  const stop = new AbortController();
  const server = serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    signal: stop.signal,
    maxConcurrentRequests: 2,
    onError: () => new Response("error", { status: 500 }),
  }, async () => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    return new Response("x".repeat(100_000));
  });
  try {
    const statuses = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          fetch(`http://127.0.0.1:${server.addr.port}/metrics`).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
      ),
    );
    assert.deepEqual(statuses, Array(20).fill(200));
    assert.equal(most, 2, "requests in the handler at once");
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("serveEndpoint() refuses a request header over 8 KiB with 431 and closes", async () => {
  await using endpoint = await limitedEndpoint({});
  const conn = await endpoint.connect();
  await conn.write(
    encode(`GET /metrics HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(9000)}\r\n\r\n`),
  );
  const result = await untilClosed(conn, 5_000);
  assert.equal(result.state, "closed");
  assert.match(result.text, /^HTTP\/1\.1 431 /);
});
