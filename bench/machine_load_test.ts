import assert from "node:assert/strict";
import { parseProcStatBusy, parseStatCpuWithChildren } from "./machine_load.ts";

Deno.test("parseProcStatBusy() adds every busy column of the cpu line, not idle or iowait", () => {
  const text = "cpu  100 5 50 9000 40 3 2 1 0 0\ncpu0 50 2 25 4500 20 1 1 0 0 0\n";
  assert.equal(parseProcStatBusy(text), 100 + 5 + 50 + 3 + 2 + 1);
});

Deno.test("parseStatCpuWithChildren() adds reaped children's time", () => {
  const stat = "42 (deno) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 7 3 20 0 8 0 5000 1000000";
  assert.equal(parseStatCpuWithChildren(stat), 250 + 31 + 7 + 3);
});
