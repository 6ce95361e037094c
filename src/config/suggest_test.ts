import assert from "node:assert/strict";
import { closest, editDistance } from "./suggest.ts";

Deno.test("editDistance() counts insertions, deletions and substitutions", () => {
  assert.equal(editDistance("", ""), 0);
  assert.equal(editDistance("status", "status"), 0);
  assert.equal(editDistance("statu", "status"), 1);
  assert.equal(editDistance("stauts", "status"), 2);
  assert.equal(editDistance("", "abc"), 3);
});

Deno.test("closest() names a near candidate and nothing for a far one", () => {
  const commands = ["status", "check-config"];
  assert.equal(closest("stauts", commands), "status");
  assert.equal(closest("Check-Confg", commands), "check-config");
  assert.equal(closest("frobnicate", commands), undefined);
  assert.equal(closest("x", []), undefined);
});
