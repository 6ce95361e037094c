import assert from "node:assert/strict";
import fc from "fast-check";
import { formatDuration, toUserConfig } from "./render.ts";
import { parseDuration, resolveConfig } from "./schema.ts";

const env = { interfaceAddresses: () => ["192.0.2.10"] };

Deno.test("formatDuration() writes what parseDuration() reads back (property)", () => {
  assert.equal(formatDuration(300_000), "5m");
  assert.equal(formatDuration(5_000), "5s");
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(250), "250ms");
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 86_400_000 }), (ms) => {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }),
    { seed: 5, numRuns: 500 },
  );
});

Deno.test("toUserConfig() output resolves to the same configuration", () => {
  const config = resolveConfig({
    communityAsn: 65000,
    vnis: [{ id: 10010 }, { id: 70000, community: "65000:7", underlayInterface: "eth1" }],
    gobgp: { timeout: "1m30s" },
  }, env);
  assert.deepEqual(resolveConfig(toUserConfig(config), env), config);
});
