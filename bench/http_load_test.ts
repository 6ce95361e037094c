import assert from "node:assert/strict";
import { httpLoadFailures } from "./scenarios/http_load.ts";

const fine = { rssKiBBefore: 80_000, rssKiBPeak: 160_000, scrapesOk: 990, probe: "200" };

Deno.test("httpLoadFailures() passes a loaded endpoint that answered, whatever it took", () => {
  assert.deepEqual(httpLoadFailures(fine), []);
});

Deno.test("httpLoadFailures() fails an endpoint that stopped answering or grew without bound", () => {
  assert.deepEqual(httpLoadFailures({ ...fine, scrapesOk: 0 }), ["no scrape was answered"]);
  assert.deepEqual(httpLoadFailures({ ...fine, probe: "Connection refused" }), [
    "GET /healthz after the load: Connection refused",
  ]);
  assert.deepEqual(httpLoadFailures({ ...fine, rssKiBPeak: 240_001 }), [
    "peak RSS 234.4 MiB is over 3× the 78.1 MiB before the load",
  ]);
});
