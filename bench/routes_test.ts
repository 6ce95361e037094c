import assert from "node:assert/strict";
import { decodePath } from "../src/bgp/path_codec.ts";
import {
  bridgeBatch,
  churnVtep,
  entryCount,
  probeVtep,
  steadyState,
  steadyVtep,
  vniCommunity,
  vniList,
  vtepPath,
  withdrawPath,
} from "./routes.ts";

Deno.test("the address plan stays inside 198.18.0.0/15 and its pools do not overlap", () => {
  const inBenchmarkRange = (ip: string) => /^198\.(18|19)\./.test(ip);
  for (const ip of [steadyVtep(0), steadyVtep(59_999), churnVtep(39_999), probeVtep(15_999)]) {
    assert.ok(inBenchmarkRange(ip), ip);
  }
  assert.equal(steadyVtep(0), "198.18.0.1");
  assert.equal(churnVtep(0), "198.19.0.1");
  assert.equal(probeVtep(0), "198.19.192.1");
  const value = (ip: string) => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  assert.ok(value(steadyVtep(59_999)) < value(churnVtep(0)));
  assert.ok(value(churnVtep(39_999)) < value(probeVtep(0)));
  assert.throws(() => steadyVtep(60_000), RangeError);
});

Deno.test("vtepPath() and withdrawPath() decode back to the route the agent sees", () => {
  const [a, b] = vniList(2);
  const decoded = decodePath(vtepPath("198.18.0.7", [a!, b!]));
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.route, {
    vtep: "198.18.0.7",
    communities: [vniCommunity(a!), vniCommunity(b!)],
    withdraw: false,
  });
  const gone = decodePath(withdrawPath("198.18.0.7"));
  assert.ok(gone.ok && gone.route.withdraw);
});

Deno.test("steadyState() and bridgeBatch() cover K×M entries", () => {
  const state = steadyState(vniList(3), 4);
  assert.equal(entryCount(state), 12);
  const lines = bridgeBatch(state).trim().split("\n");
  assert.equal(lines.length, 12);
  assert.equal(
    lines[0],
    "fdb append 00:00:00:00:00:00 dev vxlan10001 dst 198.18.0.1 self permanent",
  );
});
