import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AFI_IP,
  decodePath,
  encodeMembershipKey,
  encodeMembershipPath,
  packAny,
  type PathMessage,
  SAFI_UNICAST,
  warmCodecs,
} from "./path_codec.ts";
import { apipbType, LOADER_OPTIONS } from "./proto.ts";
import { makeCommunity } from "../net/community.ts";
import { parseIpv4 } from "../net/ip.ts";

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

Deno.test("decodePath() skips other families", () => {
  const path = { ...hostRoute("192.0.2.12", 32, []), family: { afi: 2, safi: 1 } };
  const decoded = decodePath(wire(path));
  assert.equal(decoded.ok, false);
  assert.equal(!decoded.ok && decoded.reason, "family");
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
    }),
    { seed: 42, numRuns: 2000 },
  );
});

Deno.test("decode(encode(m)) == m for arbitrary memberships (property)", () => {
  const octet = fc.integer({ min: 1, max: 223 }).filter((n) => n !== 127 && n !== 169);
  fc.assert(
    fc.property(
      octet,
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 254 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 60 }),
      (a, b, c, d, communities) => {
        const address = `${a}.${b}.${c}.${d}`;
        const decoded = decodePath(wire(encodeMembershipPath({ address, communities })));
        assert.deepEqual(decoded, {
          ok: true,
          route: {
            vtep: address,
            communities: [...communities].sort((x, y) => x - y),
            withdraw: false,
          },
        });
      },
    ),
    { seed: 7, numRuns: 300 },
  );
});
