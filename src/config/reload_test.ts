import assert from "node:assert/strict";
import { planReload, RELOAD_KEYS } from "./reload.ts";
import { type ConfigEnv, resolveConfig } from "./schema.ts";
import type { ResolvedConfig } from "./types.ts";

const env: ConfigEnv = {
  interfaceAddresses: (name) => ({ eth0: ["192.0.2.11"], eth1: ["192.0.2.99"] })[name],
};

const BASE = {
  communityAsn: 65000,
  vnis: [{ id: 10010 }, { id: 10020 }],
};

function config(overrides: Record<string, unknown> = {}): ResolvedConfig {
  return resolveConfig({ ...BASE, ...overrides }, env);
}

const keys = (changes: readonly { key: string }[]) => changes.map((c) => c.key);

Deno.test("planReload() of an identical config applies and refuses nothing", () => {
  assert.deepEqual(planReload(config(), config()), { apply: [], refuse: [] });
});

Deno.test("planReload() applies log level and format, http.listen, resync and membership", () => {
  const plan = planReload(
    config(),
    config({
      logLevel: "debug",
      logFormat: "json",
      http: { listen: "127.0.0.1:9470" },
      resyncInterval: "1m",
      advertiseSelf: false,
      node: { skipLinkCleanup: true },
    }),
  );
  assert.deepEqual(keys(plan.refuse), []);
  assert.deepEqual(keys(plan.apply).sort(), [
    "advertiseSelf",
    "http.listen",
    "logFormat",
    "logLevel",
    "node.skipLinkCleanup",
    "resyncInterval",
  ]);
  const level = plan.apply.find((c) => c.key === "logLevel")!;
  assert.equal(level.from, "info");
  assert.equal(level.to, "debug");
});

Deno.test("planReload() refuses gobgp.address and node.localAddress with both values", () => {
  const plan = planReload(
    config(),
    config({ gobgp: { address: "127.0.0.1:50052" }, node: { localAddress: "192.0.2.12" } }),
  );
  assert.deepEqual(keys(plan.refuse).sort(), ["gobgp.address", "node.localAddress"]);
  const address = plan.refuse.find((c) => c.key === "gobgp.address")!;
  assert.equal(address.from, "127.0.0.1:50051");
  assert.equal(address.to, "127.0.0.1:50052");
});

Deno.test("planReload() refuses every restart-only key", () => {
  const plan = planReload(
    config(),
    config({
      gobgp: { timeout: "2s", reconnectMaxDelay: "3s", restartHoldTime: "4s" },
      node: { localInterface: "eth1", vxlanPort: 4790, autoRecreateVxlan: true },
    }),
  );
  assert.deepEqual(keys(plan.refuse).sort(), [
    "gobgp.reconnectMaxDelay",
    "gobgp.restartHoldTime",
    "gobgp.timeout",
    "node.autoRecreateVxlan",
    "node.localAddress", // eth1's address differs
    "node.localInterface",
    "node.vxlanPort",
  ]);
  assert.deepEqual(plan.apply, []);
});

Deno.test("planReload() applies VNIs added, removed and re-communitied, one change each", () => {
  const plan = planReload(
    config(),
    config({ vnis: [{ id: 10010, community: "65000:7" }, { id: 10030 }] }),
  );
  assert.deepEqual(plan.refuse, []);
  assert.deepEqual(plan.apply.map((c) => [c.key, c.from, c.to]), [
    ["vnis[10010].community", "65000:10010", "65000:7"],
    ["vnis[10020]", "vxlan10020 65000:10020", "(none)"],
    ["vnis[10030]", "(none)", "vxlan10030 65000:10030"],
  ]);
});

Deno.test("planReload() refuses a switch between static VNIs and discovery", () => {
  const plan = planReload(config(), config({ vnis: [] }));
  assert.deepEqual(keys(plan.refuse), ["vnis"]);
  assert.deepEqual(planReload(config({ vnis: [] }), config()).refuse.map((c) => c.key), ["vnis"]);
});

Deno.test("planReload() refuses communityAsn in discovery mode, not with static VNIs", () => {
  const discovery = planReload(
    config({ vnis: [] }),
    config({ vnis: [], communityAsn: 65001 }),
  );
  assert.deepEqual(keys(discovery.refuse), ["communityAsn"]);
  // With static VNIs the ASN only fills in communities, which are compared themselves.
  const fixed = [{ id: 10010, community: "65000:10010" }];
  const static_ = planReload(
    config({ vnis: fixed }),
    config({ vnis: fixed, communityAsn: 65001 }),
  );
  assert.deepEqual(static_.refuse, []);
  assert.deepEqual(keys(static_.apply), ["communityAsn"]);
});

Deno.test("RELOAD_KEYS names every key planReload() can report", () => {
  const plan = planReload(
    config(),
    config({
      logLevel: "debug",
      logFormat: "json",
      http: { listen: "" },
      resyncInterval: "0",
      advertiseSelf: false,
      communityAsn: 65001,
      gobgp: {
        address: "127.0.0.1:1",
        timeout: "2s",
        reconnectMaxDelay: "3s",
        restartHoldTime: "4s",
      },
      node: {
        localInterface: "eth1",
        vxlanPort: 1,
        skipLinkCleanup: true,
        autoRecreateVxlan: true,
      },
      vnis: [{ id: 1 }],
    }),
  );
  for (const change of [...plan.apply, ...plan.refuse]) {
    const key = change.key.replace(/^vnis\[\d+\]/, "vnis[]");
    const mode = RELOAD_KEYS[key.startsWith("vnis[]") ? "vnis" : key];
    assert.ok(mode, `${change.key} is not in RELOAD_KEYS`);
    assert.equal(mode, plan.apply.includes(change) ? "live" : "restart", change.key);
  }
});
