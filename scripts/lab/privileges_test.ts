import assert from "node:assert/strict";
import { rootOnly } from "./privileges.ts";

Deno.test("rootOnly() skips with a printed reason when not root outside CI", () => {
  const lines: string[] = [];
  const gate = rootOnly("x test", { root: false, ci: false, print: (l) => lines.push(l) });
  assert.equal(gate.ignore, true);
  assert.deepEqual(lines, ["skipping x test: needs root for network namespaces"]);
});

Deno.test("rootOnly() fails instead of skipping when not root in CI", () => {
  const gate = rootOnly("x test", { root: false, ci: true, print: () => {} });
  assert.equal(gate.ignore, false);
  assert.throws(gate.check, /x test needs root .* CI=true/);
});

Deno.test("rootOnly() runs as root", () => {
  const gate = rootOnly("x test", { root: true, ci: true });
  assert.equal(gate.ignore, false);
  gate.check();
});
