import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { ConfigError } from "../config/errors.ts";
import { resolveConfig } from "../config/schema.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { Reloader, type ReloadTargets } from "./reload.ts";

function config(raw: Record<string, unknown> = {}): ResolvedConfig {
  return resolveConfig({
    communityAsn: 65000,
    node: { localAddress: "192.0.2.11" },
    vnis: [{ id: 10010 }],
    ...raw,
  }, { interfaceAddresses: () => undefined });
}

function fake(file: () => ResolvedConfig, failBind = false) {
  const calls: string[] = [];
  const targets: ReloadTargets = {
    load: () => Promise.resolve().then(file),
    logging: (level, format) => void calls.push(`logging ${level} ${format}`),
    listen: (listen) => {
      calls.push(`listen ${listen}`);
      return failBind ? Promise.reject(new Error("Address in use")) : Promise.resolve();
    },
    resyncEvery: (ms) => void calls.push(`resync ${ms}`),
    reconfigure: (next) => {
      calls.push(`reconfigure ${next.vnis.map((v) => v.id).join(",")} ${next.http.listen}`);
      return Promise.resolve();
    },
  };
  return { calls, targets };
}

function captureLogs(): { lines: string[]; [Symbol.dispose](): void } {
  const lines: string[] = [];
  configureSync({
    reset: true,
    sinks: {
      mem: (r: LogRecord) =>
        void lines.push(
          r.message.map((p, i) => i % 2 ? JSON.stringify(p) : p).join("").replaceAll('"', ""),
        ),
    },
    loggers: [
      { category: ["evpn-agent"], lowestLevel: "debug", sinks: ["mem"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["mem"] },
    ],
  });
  return { lines, [Symbol.dispose]: () => resetSync() };
}

Deno.test("Reloader applies live changes: log level, VNIs, http.listen, resync", async () => {
  using logs = captureLogs();
  let file = config();
  const { calls, targets } = fake(() => file);
  const reloader = new Reloader(config(), targets);
  file = config({
    logLevel: "debug",
    vnis: [{ id: 10010 }, { id: 10020 }],
    http: { listen: "127.0.0.1:9470" },
    resyncInterval: "1m",
  });
  await reloader.reload();
  assert.equal(reloader.last, "applied");
  assert.deepEqual(calls, [
    "logging debug text",
    "listen 127.0.0.1:9470",
    "resync 60000",
    "reconfigure 10010,10020 127.0.0.1:9470",
  ]);
  assert.equal(reloader.config, file);
  assert.ok(logs.lines.some((l) => l.includes("Reload applied logLevel: info -> debug")));
});

Deno.test("Reloader refuses a restart-only change, naming the key and 'restart', and applies nothing", async () => {
  using logs = captureLogs();
  const running = config();
  const { calls, targets } = fake(() =>
    config({ logLevel: "debug", gobgp: { address: "127.0.0.1:50052" } })
  );
  const reloader = new Reloader(running, targets);
  await reloader.reload();
  assert.equal(reloader.last, "refused");
  assert.deepEqual(calls, []);
  assert.equal(reloader.config, running);
  const line = logs.lines.find((l) => l.includes("gobgp.address"));
  assert.ok(line?.includes("restart"), `no refusal line: ${logs.lines.join("\n")}`);
});

Deno.test("Reloader refuses a bad file and changes nothing", async () => {
  using logs = captureLogs();
  const running = config();
  const { calls, targets } = fake(() => {
    throw new ConfigError([{ path: "logLevel", message: "bad" }]);
  });
  const reloader = new Reloader(running, targets);
  await reloader.reload();
  assert.equal(reloader.last, "refused");
  assert.deepEqual(calls, []);
  assert.equal(reloader.config, running);
  assert.ok(logs.lines.some((l) => l.startsWith("Reload refused:")));
});

Deno.test("Reloader keeps the old listener when the new one cannot bind, and applies the rest", async () => {
  using logs = captureLogs();
  const running = config();
  const { calls, targets } = fake(
    () => config({ http: { listen: "127.0.0.1:1" }, vnis: [{ id: 10020 }] }),
    true,
  );
  const reloader = new Reloader(running, targets);
  await reloader.reload();
  assert.equal(reloader.last, "applied");
  assert.deepEqual(calls, ["listen 127.0.0.1:1", "reconfigure 10020 127.0.0.1:9469"]);
  assert.equal(reloader.config.http.listen, "127.0.0.1:9469");
  assert.ok(logs.lines.some((l) => l.includes("Address in use") && l.includes("still serving")));
});

Deno.test("Reloader runs one reload at a time and coalesces signals during one", async () => {
  using _logs = captureLogs();
  let loads = 0;
  const { targets } = fake(() => {
    loads++;
    return config({ logLevel: loads % 2 ? "debug" : "info" });
  });
  const reloader = new Reloader(config(), targets);
  const first = reloader.reload();
  reloader.reload();
  reloader.reload();
  await first;
  assert.equal(loads, 2);
});
