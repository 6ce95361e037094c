import assert from "node:assert/strict";
import { checkFlood } from "./verify.ts";

const expected = new Map([
  ["vxlan10001", new Set(["198.18.0.1", "198.18.0.2"])],
  ["vxlan10002", new Set(["198.18.0.1"])],
]);
const ifindexes = new Map([["vxlan10001", 7], ["vxlan10002", 8]]);

Deno.test("checkFlood() accepts exactly the expected lists", () => {
  const dump = new Map([[7, ["198.18.0.2", "198.18.0.1"]], [8, ["198.18.0.1"]]]);
  const check = checkFlood(dump, expected, ifindexes);
  assert.equal(check.exact, true);
  assert.equal(check.expected, 3);
  assert.equal(check.actual, 3);
});

Deno.test("checkFlood() reports missing, unexpected and foreign-device entries", () => {
  const dump = new Map([[7, ["198.18.0.1", "198.18.0.9"]], [9, ["198.18.0.5"]]]);
  const check = checkFlood(dump, expected, ifindexes);
  assert.equal(check.exact, false);
  assert.equal(check.missing, 2); // .2 on 10001, .1 on 10002
  assert.equal(check.extra, 2); // .9 on 10001, one on ifindex 9
  assert.ok(check.examples.some((e) => e.includes("198.18.0.9")));
});
