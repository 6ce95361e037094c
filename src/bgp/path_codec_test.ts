import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AFI_IP,
  AFI_IP6,
  decodePath,
  encodeMembershipKey,
  encodeMembershipPath,
  packAny,
  type PathMessage,
  SAFI_UNICAST,
  warmCodecs,
} from "./path_codec.ts";
import { apipbType, LOADER_OPTIONS } from "./proto.ts";
import {
  type Community,
  compareCommunities,
  makeCommunity,
  makeLargeCommunity,
} from "../net/community.ts";
import { parseIpv4, parseIpv6 } from "../net/ip.ts";

/** Sends a path through real protobuf encoding, as gobgpd's stream would deliver it. */
function wire(path: PathMessage): PathMessage {
  const type = apipbType("Path");
  const bytes = type.encode(type.fromObject(path)).finish();
  return type.toObject(type.decode(bytes), LOADER_OPTIONS) as PathMessage;
}

function hostRoute(prefix: string, len: number, communities: number[], withdraw = false) {
  const pattrs = [packAny("NextHopAttribute", { nextHop: prefix })];
  if (communities.length) pattrs.push(packAny("CommunitiesAttribute", { communities }));
  return {
    nlri: packAny("IPAddressPrefix", { prefixLen: len, prefix }),
    pattrs,
    family: { afi: AFI_IP, safi: SAFI_UNICAST },
    isWithdraw: withdraw,
  };
}

Deno.test("decodePath() round-trips the membership path through protobuf encoding", () => {
  const communities = [makeCommunity(65000, 10011), makeCommunity(65000, 10010)];
  const path = wire(encodeMembershipPath({ address: "192.0.2.11", communities }));
  const decoded = decodePath(path);
  assert.deepEqual(decoded, {
    ok: true,
    route: {
      vtep: "192.0.2.11",
      communities: [makeCommunity(65000, 10010), makeCommunity(65000, 10011)],
      withdraw: false,
    },
  });
});

Deno.test("encodeMembershipPath() carries standard and large communities in their own attributes", () => {
  const communities: Community[] = [
    makeLargeCommunity(65000, 0, 16777215),
    makeCommunity(65000, 10010),
    makeLargeCommunity(65000, 0, 70000),
  ];
  const path = wire(encodeMembershipPath({ address: "192.0.2.11", communities }));
  const names = path.pattrs?.map((a) => a.type_url.split(".").pop());
  assert.deepEqual(names, [
    "OriginAttribute",
    "NextHopAttribute",
    "CommunitiesAttribute",
    "LargeCommunitiesAttribute",
  ]);
  const large = apipbType("LargeCommunitiesAttribute").decode(path.pattrs![3]!.value).toJSON();
  assert.deepEqual(large, {
    communities: [
      { globalAdmin: 65000, localData1: 0, localData2: 70000 },
      { globalAdmin: 65000, localData1: 0, localData2: 16777215 },
    ],
  });
  const decoded = decodePath(path);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.route.communities, [
    makeCommunity(65000, 10010),
    "65000:0:70000",
    "65000:0:16777215",
  ]);
  // Only large communities: no empty COMMUNITIES attribute.
  const onlyLarge = wire(encodeMembershipPath({
    address: "192.0.2.11",
    communities: [makeLargeCommunity(4200000000, 0, 7)],
  }));
  assert.deepEqual(onlyLarge.pattrs?.map((a) => a.type_url.split(".").pop()), [
    "OriginAttribute",
    "NextHopAttribute",
    "LargeCommunitiesAttribute",
  ]);
});

Deno.test("decodePath() keeps a stale path (graceful restart) as a valid announcement", () => {
  const path = wire({ ...hostRoute("192.0.2.12", 32, [makeCommunity(65000, 10010)]), stale: true });
  assert.deepEqual(decodePath(path), {
    ok: true,
    route: {
      vtep: "192.0.2.12",
      communities: [makeCommunity(65000, 10010)],
      withdraw: false,
      stale: true,
    },
  });
});

Deno.test("warmCodecs() runs the AddPath and WatchEvent codecs and reads its own VTEP back", () => {
  assert.equal(warmCodecs(parseIpv4("192.0.2.11")!), "192.0.2.11");
});

Deno.test("encodeMembershipPath() carries origin IGP and the local next hop", () => {
  const path = wire(encodeMembershipPath({ address: "192.0.2.11", communities: [1] }));
  const names = path.pattrs?.map((a) => a.type_url.split(".").pop());
  assert.deepEqual(names, ["OriginAttribute", "NextHopAttribute", "CommunitiesAttribute"]);
  const nh = apipbType("NextHopAttribute").decode(path.pattrs![1]!.value).toJSON();
  assert.deepEqual(nh, { nextHop: "192.0.2.11" });
});

Deno.test("encodeMembershipKey() is a withdrawal of the /32 without attributes", () => {
  const path = wire(encodeMembershipKey("192.0.2.11"));
  const decoded = decodePath(path);
  assert.deepEqual(decoded, {
    ok: true,
    route: { vtep: "192.0.2.11", communities: [], withdraw: true },
  });
});

Deno.test("decodePath() reports withdrawals", () => {
  const decoded = decodePath(wire(hostRoute("192.0.2.12", 32, [5], true)));
  assert.ok(decoded.ok && decoded.route.withdraw);
});

Deno.test("decodePath() skips families other than IPv4 and IPv6 unicast", () => {
  for (const family of [{ afi: 25, safi: 70 }, { afi: 2, safi: 4 }, { afi: 1, safi: 2 }]) {
    const decoded = decodePath(wire({ ...hostRoute("192.0.2.12", 32, []), family }));
    assert.equal(!decoded.ok && decoded.reason, "family", JSON.stringify(family));
  }
});

Deno.test("decodePath() refuses a prefix whose family is not the path's", () => {
  const v4InV6 = { ...hostRoute("192.0.2.12", 32, [5]), family: { afi: AFI_IP6, safi: 1 } };
  const v6InV4 = { ...hostRoute("2001:db8::12", 128, [5]), family: { afi: AFI_IP, safi: 1 } };
  for (const path of [v4InV6, v6InV4]) {
    const decoded = decodePath(wire(path));
    assert.equal(!decoded.ok && decoded.reason, "malformed");
  }
});

Deno.test("decodePath() reads IPv6 /128 paths as gobgpd delivers them (MP_REACH_NLRI)", () => {
  const nlri = packAny("IPAddressPrefix", { prefixLen: 128, prefix: "2001:db8::12" });
  const path: PathMessage = {
    nlri,
    pattrs: [
      packAny("OriginAttribute", { origin: 0 }),
      packAny("MpReachNLRIAttribute", {
        family: { afi: AFI_IP6, safi: 1 },
        nextHops: ["2001:db8::12"],
        nlris: [nlri],
      }),
      packAny("CommunitiesAttribute", { communities: [5] }),
    ],
    family: { afi: AFI_IP6, safi: SAFI_UNICAST },
  };
  assert.deepEqual(decodePath(wire(path)), {
    ok: true,
    route: { vtep: "2001:db8::12", communities: [5], withdraw: false },
  });
  const v6 = (prefix: string, len: number) =>
    decodePath(wire({ ...path, nlri: packAny("IPAddressPrefix", { prefixLen: len, prefix }) }));
  const wide = v6("2001:db8::", 64);
  assert.equal(!wide.ok && wide.reason, "not_host_route");
  assert.match(!wide.ok ? wide.detail : "", /2001:db8::\/64 is not a \/128/);
  for (const hostile of ["::", "::1", "fe80::1", "ff02::1", "::ffff:192.0.2.1", "fec0::1"]) {
    const decoded = v6(hostile, 128);
    assert.equal(!decoded.ok && decoded.reason, "not_a_vtep", hostile);
  }
  // Text as gobgpd could print it is taken to canonical form.
  const loud = v6("2001:DB8:0::12", 128);
  assert.equal(loud.ok && loud.route.vtep, "2001:db8::12");
});

Deno.test("encodeMembershipPath() for an IPv6 VTEP: a /128 with the next hop in MP_REACH_NLRI", () => {
  const path = wire(encodeMembershipPath({ address: "2001:db8::11", communities: [7, 3] }));
  assert.deepEqual(path.family, { afi: AFI_IP6, safi: SAFI_UNICAST });
  const names = path.pattrs?.map((a) => a.type_url.split(".").pop());
  assert.deepEqual(names, ["OriginAttribute", "MpReachNLRIAttribute", "CommunitiesAttribute"]);
  const type = apipbType("MpReachNLRIAttribute");
  const mp = type.toObject(type.decode(path.pattrs![1]!.value), LOADER_OPTIONS) as {
    family: unknown;
    nextHops: string[];
    nlris: { type_url: string }[];
  };
  assert.deepEqual(mp.family, { afi: AFI_IP6, safi: SAFI_UNICAST });
  assert.deepEqual(mp.nextHops, ["2001:db8::11"]);
  assert.deepEqual(mp.nlris.map((n) => n.type_url), ["type.googleapis.com/apipb.IPAddressPrefix"]);
  assert.deepEqual(decodePath(path), {
    ok: true,
    route: { vtep: "2001:db8::11", communities: [3, 7], withdraw: false },
  });
  const key = wire(encodeMembershipKey("2001:db8::11"));
  assert.deepEqual(key.family, { afi: AFI_IP6, safi: SAFI_UNICAST });
  assert.deepEqual(decodePath(key), {
    ok: true,
    route: { vtep: "2001:db8::11", communities: [], withdraw: true },
  });
});

Deno.test("decodePath() skips prefixes that are not /32", () => {
  const decoded = decodePath(wire(hostRoute("192.0.2.0", 24, [5])));
  assert.equal(!decoded.ok && decoded.reason, "not_host_route");
  assert.match(!decoded.ok ? decoded.detail : "", /192\.0\.2\.0\/24/);
});

Deno.test("decodePath() skips addresses that cannot be a VTEP", () => {
  for (const addr of ["0.0.0.0", "255.255.255.255", "127.0.0.1", "224.0.0.5", "169.254.1.1"]) {
    const decoded = decodePath(wire(hostRoute(addr, 32, [5])));
    assert.equal(!decoded.ok && decoded.reason, "not_a_vtep", addr);
  }
});

Deno.test("decodePath() reports malformed Any payloads instead of throwing", () => {
  const path: PathMessage = {
    nlri: { type_url: "type.googleapis.com/apipb.IPAddressPrefix", value: new Uint8Array([0xff]) },
    family: { afi: AFI_IP, safi: SAFI_UNICAST },
  };
  const decoded = decodePath(path);
  assert.equal(!decoded.ok && decoded.reason, "malformed");
  const wrongType: PathMessage = { ...path, nlri: packAny("NextHopAttribute", { nextHop: "x" }) };
  const wrong = decodePath(wrongType);
  assert.equal(!wrong.ok && wrong.reason, "malformed");
});

Deno.test("decodePath() never throws on arbitrary bytes (fuzz)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
      const path: PathMessage = {
        nlri: { type_url: "type.googleapis.com/apipb.IPAddressPrefix", value: a },
        pattrs: [{ type_url: "type.googleapis.com/apipb.CommunitiesAttribute", value: b }],
        family: { afi: AFI_IP, safi: SAFI_UNICAST },
      };
      const decoded = decodePath(path);
      assert.equal(typeof decoded.ok, "boolean");
      const large: PathMessage = {
        ...hostRoute("192.0.2.12", 32, []),
        pattrs: [{ type_url: "type.googleapis.com/apipb.LargeCommunitiesAttribute", value: b }],
      };
      const decodedLarge = decodePath(large);
      if (decodedLarge.ok) {
        for (const c of decodedLarge.route.communities) {
          assert.match(String(c), /^\d{1,10}:\d{1,10}:\d{1,10}$/);
        }
      } else assert.equal(decodedLarge.reason, "malformed");
    }),
    { seed: 42, numRuns: 2000 },
  );
});

/** decode(encode(membership)) is the membership, communities sorted. */
function assertRoundTrip(address: string, communities: Community[]): void {
  const decoded = decodePath(wire(encodeMembershipPath({ address, communities })));
  assert.deepEqual(decoded, {
    ok: true,
    route: {
      vtep: address,
      communities: [...new Set(communities)].sort(compareCommunities),
      withdraw: false,
    },
  });
}

Deno.test("decode(encode(m)) == m for arbitrary IPv6 memberships (property)", () => {
  // Global unicast 2000::/3 plus unique local fc00::/7: never refused.
  const group = fc.integer({ min: 0, max: 0xffff });
  const first = fc.oneof(
    fc.integer({ min: 0x2000, max: 0x3fff }),
    fc.integer({ min: 0xfc00, max: 0xfdff }),
  );
  fc.assert(
    fc.property(
      first,
      fc.array(group, { minLength: 7, maxLength: 7 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 20 }),
      (head, rest, communities) => {
        const address = parseIpv6([head, ...rest].map((g) => g.toString(16)).join(":"))!;
        assertRoundTrip(address, communities);
      },
    ),
    { seed: 11, numRuns: 300 },
  );
});

Deno.test("decode(encode(m)) == m for arbitrary memberships (property)", () => {
  const octet = fc.integer({ min: 1, max: 223 }).filter((n) => n !== 127 && n !== 169);
  const u32 = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 0xffffffff));
  fc.assert(
    fc.property(
      octet,
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 254 }),
      fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.tuple(u32, u32, u32).map(([g, l1, l2]) => makeLargeCommunity(g, l1, l2)),
        ),
        { maxLength: 60 },
      ),
      (a, b, c, d, communities: Community[]) => {
        const address = `${a}.${b}.${c}.${d}`;
        assertRoundTrip(address, communities);
      },
    ),
    { seed: 7, numRuns: 300 },
  );
});
