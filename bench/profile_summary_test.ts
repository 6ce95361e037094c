import assert from "node:assert/strict";
import { breakdown, type CpuProfile, originOf } from "./profile_summary.ts";

const frame = (functionName: string, url = "", lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});

const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 4] },
    {
      id: 2,
      callFrame: frame("flush", "file:///r/src/reconcile/reconciler.ts", 10),
      children: [3],
    },
    { id: 3, callFrame: frame("appendFlood", "file:///r/src/netlink/netlink.ts", 20) },
    { id: 4, callFrame: frame("(idle)") },
  ],
  startTime: 0,
  endTime: 4000,
  samples: [3, 3, 2, 4],
  timeDeltas: [1000, 1000, 1000, 1000],
};

Deno.test("breakdown() splits self and inclusive time by function and origin", () => {
  const b = breakdown(profile);
  assert.equal(b.totalMs, 4);
  assert.equal(b.self.get("appendFlood src/netlink/netlink.ts:21"), 2);
  assert.equal(b.inclusive.get("flush src/reconcile/reconciler.ts:11"), 3);
  assert.equal(b.origin.get("src/netlink/netlink.ts"), 2);
  assert.equal(b.origin.get("(idle)"), 1);
});

Deno.test("breakdown() keeps only samples inside the window", () => {
  const b = breakdown(profile, 2.5, 3.5);
  assert.equal(b.totalMs, 1);
  assert.equal(b.self.get("flush src/reconcile/reconciler.ts:11"), 1);
});

Deno.test("originOf() names npm packages and Deno internals", () => {
  assert.equal(
    originOf(
      frame(
        "x",
        "file:///root/.cache/deno/npm/registry.npmjs.org/@grpc/grpc-js/1.14.7/build/src/a.js",
      ),
    ),
    "npm:@grpc/grpc-js",
  );
  assert.equal(originOf(frame("x", "ext:deno_node/http2.ts")), "deno: node compat");
  assert.equal(originOf(frame("(garbage collector)")), "(garbage collector)");
});
