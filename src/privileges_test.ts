import assert from "node:assert/strict";
import { hasNetAdmin } from "./privileges.ts";

Deno.test("hasNetAdmin() reads bit 12 of CapEff", () => {
  assert.equal(hasNetAdmin("Name:\tx\nCapEff:\t000001ffffffffff\n"), true);
  assert.equal(hasNetAdmin("CapEff:\t0000000000001000\n"), true);
  assert.equal(hasNetAdmin("CapEff:\t0000000000000fff\n"), false);
  assert.equal(hasNetAdmin("CapEff:\t0000000000000000\n"), false);
  assert.equal(hasNetAdmin("Name:\tx\n"), undefined);
});
