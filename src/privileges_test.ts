import assert from "node:assert/strict";
import { effectiveCapabilities, hasNetAdmin } from "./privileges.ts";

Deno.test("hasNetAdmin() reads bit 12 of CapEff", () => {
  assert.equal(hasNetAdmin("Name:\tx\nCapEff:\t000001ffffffffff\n"), true);
  assert.equal(hasNetAdmin("CapEff:\t0000000000001000\n"), true);
  assert.equal(hasNetAdmin("CapEff:\t0000000000000fff\n"), false);
  assert.equal(hasNetAdmin("CapEff:\t0000000000000000\n"), false);
  assert.equal(hasNetAdmin("Name:\tx\n"), undefined);
});

Deno.test("effectiveCapabilities() (capget) equals CapEff of /proc/self/status", () => {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"))?.[1];
  assert.ok(hex !== undefined);
  assert.equal(effectiveCapabilities(), BigInt(`0x${hex}`));
  assert.equal(hasNetAdmin(), ((BigInt(`0x${hex}`) >> 12n) & 1n) === 1n);
});
