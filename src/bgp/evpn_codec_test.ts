import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeEvpnPath,
  decodeRd,
  encodeImetPath,
  encodeMacIpPath,
  encodeRd,
  EVPN_FAMILY,
  type ImetSpec,
  type MacIpSpec,
} from "./evpn_codec.ts";
import { decodeAnyPath } from "./codec.ts";
import { type AnyMessage, packAny, type PathMessage } from "./path_codec.ts";
import { apipbType, LOADER_OPTIONS } from "./proto.ts";
import { type IpAddress, parseIp } from "../net/ip.ts";
import type { RouteDistinguisher } from "../net/route_distinguisher.ts";
import type { RouteTarget } from "../net/route_target.ts";
import type { ImetRoute, MacIpRoute } from "../overlay/evpn_route.ts";
import { encodeMembershipPath } from "./path_codec.ts";

/** Sends a path through real protobuf encoding, as gobgpd's stream would deliver it. */
function wire(path: PathMessage): PathMessage {
  const type = apipbType("Path");
  const bytes = type.encode(type.fromObject(path)).finish();
  return type.toObject(type.decode(bytes), LOADER_OPTIONS) as PathMessage;
}

function unpack(any: AnyMessage): Record<string, unknown> {
  const name = any.type_url.split(".").pop()!;
  const type = apipbType(name);
  return type.toObject(type.decode(any.value), { longs: Number, defaults: true, bytes: Array });
}

/** fc.record without null-prototype objects (deepEqual compares prototypes). */
const rec: typeof fc.record =
  ((model: never) => fc.record(model, { noNullPrototype: true })) as never;

const ip = (text: string): IpAddress => parseIp(text)!;
const RD: RouteDistinguisher = { kind: "ipv4", admin: ip("192.0.2.11"), assigned: 10010 };
const RT: RouteTarget = { kind: "as2", asn: 65000, value: 10010 };

// ---- arbitraries ----------------------------------------------------------

const ipv4 = fc.ipV4().map(ip);
const rd: fc.Arbitrary<RouteDistinguisher> = fc.oneof(
  rec({
    kind: fc.constant("as2" as const),
    admin: fc.integer({ min: 0, max: 0xffff }),
    assigned: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  rec({
    kind: fc.constant("ipv4" as const),
    admin: ipv4,
    assigned: fc.integer({ min: 0, max: 0xffff }),
  }),
  rec({
    kind: fc.constant("as4" as const),
    admin: fc.integer({ min: 0, max: 0xffffffff }),
    assigned: fc.integer({ min: 0, max: 0xffff }),
  }),
);
const rt: fc.Arbitrary<RouteTarget> = fc.oneof(
  rec({
    kind: fc.constant("as2" as const),
    asn: fc.integer({ min: 0, max: 0xffff }),
    value: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  rec({
    kind: fc.constant("as4" as const),
    asn: fc.integer({ min: 0, max: 0xffffffff }),
    value: fc.integer({ min: 0, max: 0xffff }),
  }),
  rec({
    kind: fc.constant("ipv4" as const),
    address: ipv4,
    value: fc.integer({ min: 0, max: 0xffff }),
  }),
);
const vni = fc.integer({ min: 1, max: 16_777_215 });
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":")
);
const ipv6 = fc.ipV6().map((t) => parseIp(t)!);

const imetSpec: fc.Arbitrary<ImetSpec> = rec({
  rd,
  vtep: ipv4,
  vni,
  routeTargets: fc.array(rt, { minLength: 1, maxLength: 4 }),
});
const macIpSpec: fc.Arbitrary<MacIpSpec> = rec({
  rd,
  vtep: ipv4,
  vni,
  mac,
  // The unspecified addresses mean "MAC-only" on the wire (gobgpd's nil IP).
  ip: fc.option(fc.oneof(ipv4, ipv6).filter((a) => a !== "0.0.0.0" && a !== "::"), {
    nil: undefined,
  }),
  routeTargets: fc.array(rt, { minLength: 1, maxLength: 4 }),
  mobility: fc.option(
    rec({ sequence: fc.integer({ min: 0, max: 0xffffffff }), sticky: fc.boolean() }),
    { nil: undefined },
  ),
});

// ---- Type 3 ----------------------------------------------------------------

Deno.test("encodeImetPath() carries exactly the attributes FRR sends", () => {
  const path = wire(
    encodeImetPath({ rd: RD, vtep: ip("192.0.2.11"), vni: 10010, routeTargets: [RT] }),
  );
  assert.deepEqual(path.family, EVPN_FAMILY);
  const names = path.pattrs!.map((a) => a.type_url);
  assert.deepEqual(names, [
    "type.googleapis.com/apipb.OriginAttribute",
    "type.googleapis.com/apipb.MpReachNLRIAttribute",
    "type.googleapis.com/apipb.ExtendedCommunitiesAttribute",
    "type.googleapis.com/apipb.PmsiTunnelAttribute",
  ]);
  const [origin, mpReach, ext, pmsi] = path.pattrs!.map(unpack);
  assert.deepEqual(origin, { origin: 0 });
  assert.deepEqual(mpReach!["family"], { afi: 25, safi: 70 });
  assert.deepEqual(mpReach!["nextHops"], ["192.0.2.11"]);
  // MP_REACH_NLRI repeats the NLRI (gobgpd rejects the path otherwise).
  const repeated = (mpReach!["nlris"] as { type_url: string; value: number[] }[])[0]!;
  assert.equal(repeated.type_url, path.nlri!.type_url);
  assert.deepEqual(new Uint8Array(repeated.value), new Uint8Array(path.nlri!.value));
  const nlri = unpack(path.nlri!);
  assert.equal(nlri["ethernetTag"], 0);
  assert.equal(nlri["ipAddress"], "192.0.2.11");
  const communities = (ext!["communities"] as { type_url: string; value: number[] }[]).map((c) =>
    unpack({ type_url: c.type_url, value: new Uint8Array(c.value) })
  );
  assert.deepEqual(communities, [
    { isTransitive: true, subType: 2, asn: 65000, localAdmin: 10010 },
    { tunnelType: 8 },
  ]);
  assert.deepEqual(pmsi, { flags: 0, type: 6, label: 10010, id: [192, 0, 2, 11] });
});

Deno.test("encodeImetPath() for an IPv6 VTEP: IPv6 originating IP, next hop, 16-byte tunnel id", () => {
  const vtep = ip("2001:db8::11");
  const path = wire(encodeImetPath({ rd: RD, vtep, vni: 10010, routeTargets: [RT] }));
  const [, mpReach, , pmsi] = path.pattrs!.map(unpack);
  assert.deepEqual(mpReach!["nextHops"], ["2001:db8::11"]);
  assert.equal(unpack(path.nlri!)["ipAddress"], "2001:db8::11");
  assert.deepEqual(pmsi!["id"], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11]);
  const decoded = decodeAnyPath(path);
  assert.ok(decoded.ok && "evpn" in decoded && decoded.evpn.type === 3);
  const route = decoded.evpn as ImetRoute;
  assert.deepEqual(
    [route.originator, route.nextHop, route.pmsi?.id],
    [vtep, vtep, vtep],
  );
});

Deno.test("decodeEvpnPath() round-trips Type 3 routes through protobuf (property)", () => {
  fc.assert(
    fc.property(imetSpec, fc.boolean(), (spec, withdraw) => {
      const path = { ...wire(encodeImetPath(spec)), isWithdraw: withdraw };
      const decoded = decodeAnyPath(wire(path));
      assert.ok(
        decoded.ok && "evpn" in decoded && decoded.evpn.type === 3,
        JSON.stringify(decoded),
      );
      const route = decoded.evpn as ImetRoute;
      assert.deepEqual(route.rd, spec.rd);
      assert.deepEqual(route.routeTargets, spec.routeTargets);
      assert.equal(route.originator, spec.vtep);
      assert.equal(route.nextHop, spec.vtep);
      assert.equal(route.ethernetTag, 0);
      assert.deepEqual(route.encapsulations, [8]);
      assert.deepEqual(route.pmsi, { flags: 0, type: 6, label: spec.vni, id: spec.vtep });
      assert.equal(route.withdraw, withdraw);
      // The key is the NLRI: the same NLRI with other attributes has the same key.
      const other = decodeEvpnPath(wire(encodeImetPath({ ...spec, vni: spec.vni ^ 1 })));
      assert.ok(other.ok && other.evpn.key === route.key);
    }),
    { seed: 11, numRuns: 300 },
  );
});

Deno.test("decodeEvpnPath() reads a Type 3 without PMSI and with foreign communities", () => {
  const nlri = packAny("EVPNInclusiveMulticastEthernetTagRoute", {
    rd: encodeRd({ kind: "as2", admin: 65001, assigned: 3 }),
    ethernetTag: 7,
    ipAddress: "192.0.2.12",
  });
  const path: PathMessage = {
    nlri,
    family: { ...EVPN_FAMILY },
    neighborIp: "192.0.2.12",
    pattrs: [
      packAny("ExtendedCommunitiesAttribute", {
        communities: [
          packAny("EncapExtended", { tunnelType: 8 }),
          packAny("TwoOctetAsSpecificExtended", {
            isTransitive: true,
            subType: 3, // route origin: not a route target
            asn: 1,
            localAdmin: 2,
          }),
          packAny("IPv4AddressSpecificExtended", {
            isTransitive: true,
            subType: 2,
            address: "192.0.2.1",
            localAdmin: 9,
          }),
          { type_url: "type.googleapis.com/apipb.UnknownExtended", value: new Uint8Array([8, 1]) },
        ],
      }),
      packAny("MpReachNLRIAttribute", {
        family: EVPN_FAMILY,
        nextHops: ["192.0.2.12"],
        nlris: [nlri],
      }),
    ],
  };
  const decoded = decodeEvpnPath(wire(path));
  assert.ok(decoded.ok);
  const route = decoded.evpn as ImetRoute;
  assert.equal(route.pmsi, undefined);
  assert.equal(route.ethernetTag, 7);
  assert.equal(route.neighbor, "192.0.2.12");
  assert.deepEqual(route.routeTargets, [{ kind: "ipv4", address: "192.0.2.1", value: 9 }]);
  assert.deepEqual(route.encapsulations, [8]);
});

// ---- Type 2 ----------------------------------------------------------------

Deno.test("encodeMacIpPath() always sends ESI type 0 with nine zero bytes and labels [VNI]", () => {
  const path = wire(encodeMacIpPath({
    rd: RD,
    vtep: ip("192.0.2.11"),
    vni: 10010,
    mac: "AA:BB:CC:00:00:01",
    ip: undefined,
    routeTargets: [RT],
  }));
  const nlri = unpack(path.nlri!);
  assert.deepEqual(nlri["esi"], { type: 0, value: [0, 0, 0, 0, 0, 0, 0, 0, 0] });
  assert.equal(nlri["macAddress"], "aa:bb:cc:00:00:01");
  assert.equal(nlri["ipAddress"], "");
  assert.deepEqual(nlri["labels"], [10010]);
  assert.equal(nlri["ethernetTag"], 0);
  assert.deepEqual(path.pattrs!.map((a) => a.type_url.split(".").pop()), [
    "OriginAttribute",
    "MpReachNLRIAttribute",
    "ExtendedCommunitiesAttribute",
  ]);
});

Deno.test("decodeEvpnPath() round-trips Type 2 routes through protobuf (property)", () => {
  fc.assert(
    fc.property(macIpSpec, fc.boolean(), (spec, withdraw) => {
      const path = { ...wire(encodeMacIpPath(spec)), isWithdraw: withdraw };
      const decoded = decodeAnyPath(wire(path));
      assert.ok(
        decoded.ok && "evpn" in decoded && decoded.evpn.type === 2,
        JSON.stringify(decoded),
      );
      const route = decoded.evpn as MacIpRoute;
      assert.deepEqual(route.rd, spec.rd);
      assert.equal(route.mac, spec.mac);
      assert.equal(route.ip, spec.ip);
      assert.deepEqual(route.labels, [spec.vni]);
      assert.deepEqual(route.esi, { type: 0, value: new Uint8Array(9) });
      assert.deepEqual(route.routeTargets, spec.routeTargets);
      assert.deepEqual(route.encapsulations, [8]);
      assert.deepEqual(route.mobility, spec.mobility);
      assert.equal(route.nextHop, spec.vtep);
      assert.equal(route.withdraw, withdraw);
      // MAC-only and MAC+IP are two routes (two keys).
      const sibling = decodeEvpnPath(
        wire(encodeMacIpPath({ ...spec, ip: spec.ip ? undefined : ip("198.51.100.1") })),
      );
      assert.ok(sibling.ok && sibling.evpn.key !== route.key);
    }),
    { seed: 12, numRuns: 300 },
  );
});

Deno.test("decodeEvpnPath() takes gobgpd's nil IP of a MAC-only route as no IP", () => {
  for (const text of ["", "<nil>", "0.0.0.0", "::"]) {
    const nlri = packAny("EVPNMACIPAdvertisementRoute", {
      rd: encodeRd(RD),
      esi: { type: 0, value: new Uint8Array(9) },
      macAddress: "52:54:00:00:00:01",
      ipAddress: text,
      labels: [10010],
    });
    const decoded = decodeEvpnPath(wire({ nlri, family: { ...EVPN_FAMILY }, pattrs: [] }));
    assert.ok(decoded.ok && decoded.evpn.type === 2 && decoded.evpn.ip === undefined, text);
  }
});

// ---- RDs, other types, hostile input ------------------------------------

Deno.test("encodeRd() and decodeRd() are inverse for all three RD types (property)", () => {
  fc.assert(
    fc.property(rd, (value) => {
      const any = encodeRd(value);
      assert.deepEqual(decodeRd(any), value);
    }),
    { seed: 13, numRuns: 300 },
  );
});

Deno.test("decodeEvpnPath() counts Types 1, 4, 5 and unknown NLRIs as route_type skips", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      "EVPNEthernetAutoDiscoveryRoute",
      { rd: encodeRd(RD), ethernetTag: 1, label: 2 },
      "ethernet_ad",
    ],
    ["EVPNEthernetSegmentRoute", { rd: encodeRd(RD), ipAddress: "192.0.2.1" }, "ethernet_segment"],
    [
      "EVPNIPPrefixRoute",
      { rd: encodeRd(RD), ipPrefix: "198.51.100.0", ipPrefixLen: 24 },
      "ip_prefix",
    ],
  ];
  for (const [name, fields, type] of cases) {
    const decoded = decodeAnyPath(
      wire({ nlri: packAny(name, fields), family: { ...EVPN_FAMILY }, pattrs: [] }),
    );
    assert.ok(!decoded.ok && decoded.reason === "route_type" && decoded.evpnType === type, name);
  }
  const unknown = decodeAnyPath({
    nlri: { type_url: "type.googleapis.com/apipb.EVPNIPMSIRoute", value: new Uint8Array() },
    family: { ...EVPN_FAMILY },
  });
  assert.ok(!unknown.ok && unknown.reason === "route_type" && unknown.evpnType === "other");
});

Deno.test("decodeAnyPath() dispatches by family: community, EVPN, other", () => {
  const community = decodeAnyPath(
    wire(encodeMembershipPath({ address: "192.0.2.11", communities: [1] })),
  );
  assert.ok(community.ok && "route" in community && community.route.vtep === "192.0.2.11");
  // IPv6 unicast goes to the community decoder (an IPv6 underlay's /128 memberships).
  const v6 = decodeAnyPath({ family: { afi: 2, safi: 1 } });
  assert.ok(!v6.ok && v6.reason === "malformed" && /IPAddressPrefix/.test(v6.detail));
  const other = decodeAnyPath({ family: { afi: 2, safi: 4 } });
  assert.ok(!other.ok && other.reason === "family");
});

Deno.test("decodeEvpnPath() never throws on garbage (fuzz)", () => {
  const names = [
    "EVPNInclusiveMulticastEthernetTagRoute",
    "EVPNMACIPAdvertisementRoute",
    "PmsiTunnelAttribute",
    "ExtendedCommunitiesAttribute",
    "MpReachNLRIAttribute",
    "RouteDistinguisherIPAddress",
  ];
  const any = rec({
    type_url: fc.oneof(
      fc.constantFrom(...names).map((n) => `type.googleapis.com/apipb.${n}`),
      fc.string(),
    ),
    value: fc.uint8Array({ maxLength: 64 }),
  });
  fc.assert(
    fc.property(any, fc.array(any, { maxLength: 5 }), (nlri, pattrs) => {
      const decoded = decodeEvpnPath({ nlri, pattrs, family: { ...EVPN_FAMILY } });
      if (!decoded.ok) assert.ok(["malformed", "route_type"].includes(decoded.reason));
    }),
    { seed: 14, numRuns: 2000 },
  );
  // Valid NLRIs with mutated attributes: decoded or malformed, never a throw.
  fc.assert(
    fc.property(imetSpec, fc.uint8Array({ maxLength: 40 }), fc.nat(3), (spec, junk, at) => {
      const path = encodeImetPath(spec);
      const pattrs = [...path.pattrs!];
      pattrs[at % pattrs.length] = { type_url: pattrs[at % pattrs.length]!.type_url, value: junk };
      const decoded = decodeEvpnPath({ ...path, pattrs });
      if (!decoded.ok) assert.equal(decoded.reason, "malformed");
    }),
    { seed: 15, numRuns: 1000 },
  );
});

Deno.test("an RD with a non-IPv4 admin, a bad MAC or a bad IP is malformed", () => {
  const bad = [
    packAny("EVPNInclusiveMulticastEthernetTagRoute", {
      rd: packAny("RouteDistinguisherIPAddress", { admin: "2001:db8::1", assigned: 1 }),
      ipAddress: "192.0.2.1",
    }),
    packAny("EVPNInclusiveMulticastEthernetTagRoute", { ipAddress: "192.0.2.1" }),
    packAny("EVPNMACIPAdvertisementRoute", { rd: encodeRd(RD), macAddress: "zz", labels: [1] }),
    packAny("EVPNMACIPAdvertisementRoute", {
      rd: encodeRd(RD),
      macAddress: "52:54:00:00:00:01",
      ipAddress: "198.51.100.300",
    }),
  ];
  for (const nlri of bad) {
    const decoded = decodeEvpnPath(wire({ nlri, family: { ...EVPN_FAMILY } }));
    assert.ok(!decoded.ok && decoded.reason === "malformed", JSON.stringify(decoded));
  }
});
