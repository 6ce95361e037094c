import assert from "node:assert/strict";
import { parseWriteLine } from "./lab.ts";

Deno.test("parseWriteLine() counts single writes and pass summaries, never debug lines", () => {
  const t = "2026-11-24T21:05:01.382Z";
  assert.deepEqual(
    parseWriteLine(
      `${t} [INF] fdb: Added flood entry 00:00:00:00:00:00 dst 198.18.0.1 on vxlan10001`,
    ),
    { op: "added", count: 1 },
  );
  assert.deepEqual(
    parseWriteLine(`${t} [INF] fdb: Removed 1000 flood entries on vxlan10001 (first: 198.18.0.1)`),
    { op: "removed", count: 1000 },
  );
  assert.equal(
    parseWriteLine(`${t} [DBG] fdb: Added flood entry 00:00:00:00:00:00 dst 198.18.0.1 on vxlan1`),
    undefined,
  );
  assert.equal(parseWriteLine(`${t} [INF] link: VNI 10001 is online on vxlan10001`), undefined);
});
