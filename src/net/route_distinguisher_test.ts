import assert from "node:assert/strict";
import fc from "fast-check";
import {
  defaultRdNumber,
  defaultRouteDistinguisher,
  formatRouteDistinguisher,
  parseRouteDistinguisher,
} from "./route_distinguisher.ts";
import { parseIpv4 } from "./ip.ts";
import { defaultRouteTarget, parseRouteTarget, routeTargetKey } from "./route_target.ts";

Deno.test("parseRouteDistinguisher() reads the three types and refuses the rest", () => {
  assert.deepEqual(parseRouteDistinguisher("192.0.2.11:3"), {
    kind: "ipv4",
    admin: "192.0.2.11",
    assigned: 3,
  });
  assert.deepEqual(parseRouteDistinguisher("65000:4294967295"), {
    kind: "as2",
    admin: 65000,
    assigned: 4294967295,
  });
  assert.deepEqual(parseRouteDistinguisher("4200000000:65535"), {
    kind: "as4",
    admin: 4200000000,
    assigned: 65535,
  });
  for (
    const bad of ["", "1", ":1", "1:", "192.0.2.1:65536", "4200000000:65536", "a:1", "01.2.3.4:1"]
  ) {
    assert.equal(parseRouteDistinguisher(bad), undefined, bad);
  }
});

Deno.test("formatRouteDistinguisher() inverts parseRouteDistinguisher() (property)", () => {
  const text = fc.oneof(
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 0xffff })).map(([a, n]) => `${a}:${n}`),
    fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }))
      .map(([a, n]) => `${a}:${n}`),
    fc.tuple(fc.integer({ min: 0x10000, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }))
      .map(([a, n]) => `${a}:${n}`),
  ).filter((t) => parseIpv4(t.slice(0, t.lastIndexOf(":"))) !== undefined || !t.includes("."));
  fc.assert(
    fc.property(text, (t) => {
      const rd = parseRouteDistinguisher(t);
      assert.ok(rd, t);
      assert.equal(formatRouteDistinguisher(rd), t);
    }),
    { seed: 3, numRuns: 500 },
  );
});

Deno.test("the default RD number depends on the VNI only", () => {
  assert.equal(defaultRdNumber(10010), 10010);
  assert.equal(defaultRdNumber(65535), 65535);
  assert.equal(defaultRdNumber(65536 + 10010), 10010);
  assert.equal(
    formatRouteDistinguisher(defaultRouteDistinguisher(parseIpv4("192.0.2.10")!, 10010)),
    "192.0.2.10:10010",
  );
});

Deno.test("routeTargetKey() tells a four-octet-AS route target from the two-octet one", () => {
  const two = defaultRouteTarget(100, 5);
  const four = { kind: "as4", asn: 100, value: 5 } as const;
  assert.notEqual(routeTargetKey(two), routeTargetKey(four));
  assert.equal(routeTargetKey(two), routeTargetKey(parseRouteTarget("100:5")!));
});

Deno.test("defaultRouteTarget() derives FRR's auto-RT, the low 16 bits of a four-octet ASN", () => {
  assert.deepEqual(defaultRouteTarget(65000, 16777215), {
    kind: "as2",
    asn: 65000,
    value: 16777215,
  });
  assert.deepEqual(defaultRouteTarget(4200000001, 10010), {
    kind: "as2",
    asn: 59905,
    value: 10010,
  });
});
