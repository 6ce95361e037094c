import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatCommunity,
  isVniCommunityOf,
  largeCommunityParts,
  makeCommunity,
  makeLargeCommunity,
  parseCommunity,
  parseLargeCommunity,
  parseStandardCommunity,
  sortedCommunities,
  vniCommunity,
} from "./community.ts";
import {
  formatIp,
  hostPrefix,
  ipBytes,
  ipFamily,
  isIpv4,
  parseIp,
  parseIpv4,
  parseIpv6,
  parseVtep,
  vtepProblem,
} from "./ip.ts";
import { FLOOD_MAC, formatMac, isZeroMac, parseMac } from "./mac.ts";
import { formatRouteTarget, parseRouteTarget } from "./route_target.ts";
import { parseHostPort, splitHostPort } from "./host_port.ts";

// ---- communities (moved from overlay/overlay_test.ts and config/schema_test.ts) ----

Deno.test("parseCommunity() and formatCommunity() are inverse (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      (a, v) => {
        const text = `${a}:${v}`;
        assert.equal(formatCommunity(parseStandardCommunity(text)!), text);
      },
    ),
    { seed: 1, numRuns: 500 },
  );
});

Deno.test("parseCommunity() refuses values outside 0..65535 and other shapes", () => {
  for (const bad of ["65000:70000", "70000:1", "65000", "a:b", "1:2:3", "-1:5", ""]) {
    assert.equal(parseStandardCommunity(bad), undefined, bad);
  }
  assert.throws(() => makeCommunity(65000, 70000), RangeError);
});

Deno.test("parseCommunity() normalises ASN:VALUE and refuses the rest", () => {
  const normal = (text: string) => {
    const value = parseStandardCommunity(text);
    return value === undefined ? undefined : formatCommunity(value);
  };
  assert.equal(normal("65000:10010"), "65000:10010");
  assert.equal(normal(" 65000:010 "), "65000:10");
  assert.equal(normal("00001:00002"), "1:2");
  assert.equal(normal("0:0"), "0:0");
  for (const bad of ["65536:1", "1:65536", "1", "1:", ":1", "1:2:3", "-1:2", "1.0:2", "123456:1"]) {
    assert.equal(normal(bad), undefined, bad);
  }
});

Deno.test("parseCommunity() reads large communities GLOBAL:LOCAL1:LOCAL2 and round-trips them", () => {
  assert.equal(parseLargeCommunity("4200000000:1:2"), "4200000000:1:2");
  assert.equal(parseLargeCommunity("065000:00:010"), "65000:0:10");
  assert.deepEqual(largeCommunityParts(parseLargeCommunity("4200000000:1:2")!), {
    global: 4200000000,
    local1: 1,
    local2: 2,
  });
  assert.equal(parseCommunity("65000:10010"), makeCommunity(65000, 10010));
  assert.equal(formatCommunity(parseCommunity("4294967295:0:7")!), "4294967295:0:7");
  for (const bad of ["4294967296:1:2", "1:2", "1:2:3:4", "a:1:2"]) {
    assert.equal(parseLargeCommunity(bad), undefined, bad);
  }
});

Deno.test("vniCommunity() derives ASN:VNI up to 65535 and ASN:0:VNI above, or always large", () => {
  assert.equal(vniCommunity(65000, 10010, "auto"), makeCommunity(65000, 10010));
  assert.equal(vniCommunity(65000, 65535, "auto"), makeCommunity(65000, 65535));
  assert.equal(vniCommunity(65000, 65536, "auto"), "65000:0:65536");
  assert.equal(vniCommunity(65000, 16777215, "auto"), "65000:0:16777215");
  assert.equal(vniCommunity(65000, 10010, "large"), "65000:0:10010");
  assert.equal(vniCommunity(4200000000, 7, "large"), "4200000000:0:7");
  assert.throws(() => vniCommunity(4200000000, 7, "auto"), RangeError);
  // Discovery keeps exactly the shapes it derives.
  assert.ok(isVniCommunityOf(makeCommunity(65000, 7), 65000, "auto"));
  assert.ok(!isVniCommunityOf(makeCommunity(65000, 7), 65000, "large"));
  assert.ok(isVniCommunityOf(makeLargeCommunity(65000, 0, 70000), 65000, "auto"));
  assert.ok(!isVniCommunityOf(makeLargeCommunity(65000, 0, 7), 65000, "auto"));
  assert.ok(isVniCommunityOf(makeLargeCommunity(65000, 0, 7), 65000, "large"));
  assert.ok(!isVniCommunityOf(makeLargeCommunity(65000, 1, 70000), 65000, "auto"));
  assert.ok(!isVniCommunityOf(makeLargeCommunity(65001, 0, 70000), 65000, "auto"));
  assert.ok(!isVniCommunityOf(makeLargeCommunity(65000, 0, 16777216), 65000, "large"));
});

Deno.test("compareCommunities() orders standard before large, then numerically by part", () => {
  const list = [
    makeLargeCommunity(2, 0, 1),
    makeCommunity(1, 2),
    makeLargeCommunity(1, 0, 10),
    makeLargeCommunity(1, 0, 9),
    makeCommunity(1, 1),
  ];
  assert.deepEqual(sortedCommunities([...list, ...list]).map(formatCommunity), [
    "1:1",
    "1:2",
    "1:0:9",
    "1:0:10",
    "2:0:1",
  ]);
});

// ---- IP addresses (moved from overlay/overlay_test.ts and config/schema_test.ts) ----

Deno.test("vtepProblem() accepts unicast addresses and names what is wrong otherwise", () => {
  assert.equal(vtepProblem("192.0.2.11"), undefined);
  assert.equal(vtepProblem("198.18.0.1"), undefined);
  assert.equal(vtepProblem("127.0.0.1"), "loopback address");
  assert.equal(vtepProblem("239.1.1.1"), "multicast address");
  assert.equal(vtepProblem("169.254.0.9"), "link-local address");
  assert.equal(vtepProblem("0.0.0.0"), "unspecified address");
  assert.equal(vtepProblem("255.255.255.255"), "broadcast address");
  assert.equal(isIpv4("192.0.2.011"), false);
  assert.equal(isIpv4("192.0.2.256"), false);
});

Deno.test("vtepProblem() refuses IPv6 addresses no VTEP can have, and accepts the rest", () => {
  const refused: [string, RegExp][] = [
    ["::", /unspecified/],
    ["::1", /loopback/],
    ["::ffff:192.0.2.1", /IPv4-mapped/],
    ["::ffff:c000:201", /IPv4-mapped/],
    ["::192.0.2.1", /reserved.*IPv4-compatible/],
    ["64:ff9b::192.0.2.1", /reserved.*NAT64/],
    ["100::1", /discard-only/],
    ["fe80::1", /link-local/],
    ["febf:ffff::1", /link-local/],
    ["fec0::1", /site-local/],
    ["ff02::1", /multicast/],
    ["ff0e::1:2", /multicast/],
  ];
  for (const [address, why] of refused) {
    assert.match(vtepProblem(address) ?? "(accepted)", why, address);
    assert.ok("problem" in parseVtep(address), address);
  }
  for (const ok of ["2001:db8::11", "2001:db8:0:2::1", "fd00::1", "2600::1", "100:0:0:1::1"]) {
    assert.equal(vtepProblem(ok), undefined, ok);
  }
  assert.equal(vtepProblem("2001:db8::g"), "not an IPv4 or IPv6 address");
});

Deno.test("parseVtep() hands out canonical text for IPv6", () => {
  assert.deepEqual(parseVtep("2001:DB8:0:0::0011"), { vtep: "2001:db8::11" });
  assert.deepEqual(parseVtep("192.0.2.11"), { vtep: "192.0.2.11" });
});

Deno.test("isIPv4() accepts dotted quads only", () => {
  assert.ok(isIpv4("0.0.0.0"));
  assert.ok(isIpv4("255.255.255.255"));
  for (
    const bad of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.1.1.1", "1.2.3.a", "::1", " 1.2.3.4"]
  ) {
    assert.ok(!isIpv4(bad), bad);
  }
});

Deno.test("parseIpv6() writes RFC 5952 text and refuses malformed addresses", () => {
  assert.equal(parseIpv6("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(parseIpv6("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(parseIpv6("::"), "::");
  assert.equal(parseIpv6("::1"), "::1");
  assert.equal(parseIpv6("2001:db8::0:1"), "2001:db8::1");
  assert.equal(parseIpv6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1", "one zero group stays");
  assert.equal(parseIpv6("::ffff:192.0.2.1"), "::ffff:c000:201");
  for (
    const bad of [
      "",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "g::1",
      "fe80::1%eth0",
    ]
  ) {
    assert.equal(parseIpv6(bad), undefined, bad);
  }
});

Deno.test("formatIp() and ipBytes() are inverse for IPv4 and IPv6 (property)", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
      ),
      (bytes) => {
        const ip = formatIp(bytes)!;
        assert.deepEqual(ipBytes(ip), bytes);
        assert.equal(parseIp(ip), ip, "canonical text parses to itself");
      },
    ),
    { seed: 7, numRuns: 500 },
  );
});

Deno.test("hostPrefix() and ipFamily() follow the address family", () => {
  assert.equal(hostPrefix(parseIpv4("192.0.2.11")!), "192.0.2.11/32");
  assert.equal(hostPrefix(parseIp("2001:db8::1")!), "2001:db8::1/128");
  assert.equal(ipFamily(parseIp("2001:db8::1")!), 6);
  assert.equal(ipFamily(parseIp("192.0.2.1")!), 4);
});

// ---- MAC, route target, host:port ----

Deno.test("formatMac() and parseMac() are inverse; the flood MAC is all zero", () => {
  assert.equal(formatMac(new Uint8Array([0xaa, 0xbb, 0xcc, 0, 1, 0xff])), "aa:bb:cc:00:01:ff");
  assert.deepEqual(parseMac("AA:bb:cc:00:01:ff"), new Uint8Array([0xaa, 0xbb, 0xcc, 0, 1, 0xff]));
  assert.ok(isZeroMac(parseMac(FLOOD_MAC)!));
  assert.equal(parseMac("aa:bb:cc:00:01"), undefined);
});

Deno.test("parseRouteTarget() reads the three RFC 4360 forms and refuses the rest", () => {
  assert.deepEqual(parseRouteTarget("65000:10010"), { kind: "as2", asn: 65000, value: 10010 });
  assert.deepEqual(parseRouteTarget("4200000000:7"), { kind: "as4", asn: 4200000000, value: 7 });
  assert.deepEqual(parseRouteTarget("192.0.2.1:7"), {
    kind: "ipv4",
    address: "192.0.2.1",
    value: 7,
  });
  for (const text of ["65000:10010", "4200000000:7", "192.0.2.1:7", "1:4294967295"]) {
    assert.equal(formatRouteTarget(parseRouteTarget(text)!), text);
  }
  for (const bad of ["65000", "4200000000:70000", "192.0.2.1:70000", "a:1", "1:-1"]) {
    assert.equal(parseRouteTarget(bad), undefined, bad);
  }
});

Deno.test("splitHostPort() splits IPv4, names and bracketed IPv6", () => {
  assert.deepEqual(splitHostPort("127.0.0.1:9469"), { hostname: "127.0.0.1", port: 9469 });
  assert.deepEqual(splitHostPort("localhost:1"), { hostname: "localhost", port: 1 });
  assert.deepEqual(splitHostPort("[::1]:9469"), { hostname: "::1", port: 9469 });
  assert.deepEqual(splitHostPort("0.0.0.0:0"), { hostname: "0.0.0.0", port: 0 });
});

Deno.test("parseHostPort() keeps the text as written and names what is wrong", () => {
  assert.deepEqual(parseHostPort("[::1]:6000", "h:1"), { value: "[::1]:6000" });
  assert.deepEqual(parseHostPort("h", "h:1"), { problem: '"h" is not host:port (e.g. "h:1")' });
  assert.deepEqual(parseHostPort("h:0", "h:1"), { problem: 'port 0 in "h:0" is outside 1..65535' });
});
