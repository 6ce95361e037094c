import assert from "node:assert/strict";
import { type Community, makeCommunity } from "../net/community.ts";
import { type IpAddress, parseIp } from "../net/ip.ts";
import { admitRoute } from "./admit.ts";
import { DesiredState } from "./desired.ts";
import type { Decoded, SkipReason } from "./route.ts";

const C = (v: number) => makeCommunity(65000, v);
const ip = (text: string) => parseIp(text)!;

function route(vtep: string, communities: number[], withdraw = false): Decoded {
  return { ok: true, route: { vtep: ip(vtep), communities, withdraw } };
}

function state(own: string) {
  const skips: [SkipReason, string][] = [];
  const dirty: number[] = [];
  const desired = new DesiredState({
    mode: {
      kind: "static",
      vnis: [{
        id: 10010,
        community: C(10010),
        device: "vxlan10010",
        underlayInterface: undefined,
      }],
    },
    localAddress: ip(own) as IpAddress,
    onDirty: (vni) => dirty.push(vni),
    observer: { skipped: (reason, detail) => skips.push([reason, detail]) },
  });
  desired.vnis.observeLink({ ifindex: 7, name: "vxlan10010", kind: "vxlan", vni: 10010 });
  return { desired, skips, dirty };
}

Deno.test("admitRoute() skips a VTEP of the other family as family_mismatch, and says why", () => {
  const known = (c: Community) => c === C(10010);
  const v6 = { vtep: ip("2001:db8::12"), communities: [C(10010)], withdraw: false };
  const out = admitRoute(v6, ip("192.0.2.11"), known);
  assert.equal(out.store, false);
  assert.equal(out.otherFamily, true);
  assert.equal(out.skip?.reason, "family_mismatch");
  assert.match(
    out.skip!.detail,
    /2001:db8::12\/128: 2001:db8::12 is an IPv6 VTEP.*192\.0\.2\.11 is IPv4/,
  );
  assert.match(out.skip!.detail, /65000:10010/);
  // The other way round.
  const v4 = { vtep: ip("192.0.2.12"), communities: [C(10010)], withdraw: false };
  assert.match(
    admitRoute(v4, ip("2001:db8::11"), known).skip!.detail,
    /192\.0\.2\.12\/32: 192\.0\.2\.12 is an IPv4 VTEP.*2001:db8::11 is IPv6/,
  );
  // No known community: unknown_vni, still kept apart; a withdrawal: no skip.
  assert.equal(
    admitRoute({ ...v6, communities: [C(1)] }, ip("192.0.2.11"), known).skip?.reason,
    "unknown_vni",
  );
  const withdrawal = admitRoute({ ...v6, withdraw: true }, ip("192.0.2.11"), known);
  assert.deepEqual(withdrawal, { store: false, otherFamily: true });
});

Deno.test("DesiredState never desires a VTEP of the other family, but names it per VNI", () => {
  const { desired, skips, dirty } = state("2001:db8::11");
  desired.replace([route("2001:db8::12", [C(10010)]), route("192.0.2.13", [C(10010)])]);
  assert.deepEqual([...desired.desired(10010)], ["2001:db8::12"]);
  assert.deepEqual([...desired.mismatched(10010)], ["192.0.2.13"]);
  assert.deepEqual(skips.map(([r]) => r), ["family_mismatch"]);

  // Later changes of a mismatched VTEP never mark the VNI dirty.
  desired.apply([route("192.0.2.14", [C(10010)])]);
  desired.apply([route("192.0.2.13", [], true)]);
  assert.deepEqual(dirty, []);
  assert.deepEqual([...desired.mismatched(10010)], ["192.0.2.14"]);
  assert.deepEqual([...desired.desired(10010)], ["2001:db8::12"]);
  assert.deepEqual(skips.map(([r]) => r), ["family_mismatch", "family_mismatch"]);

  // A same-family change does.
  desired.apply([route("2001:db8::13", [C(10010)])]);
  assert.deepEqual(dirty, [10010]);
  assert.deepEqual([...desired.desired(10010)].sort(), ["2001:db8::12", "2001:db8::13"]);

  // A new table forgets the old mismatches.
  desired.replace([]);
  assert.equal(desired.mismatched(10010).size, 0);
});

Deno.test("DesiredState on an IPv4 node keeps IPv6 VTEPs out of the flood list", () => {
  const { desired, skips } = state("192.0.2.11");
  desired.replace([route("2001:db8::12", [C(10010)]), route("192.0.2.12", [C(10010)])]);
  assert.deepEqual([...desired.desired(10010)], ["192.0.2.12"]);
  assert.deepEqual([...desired.mismatched(10010)], ["2001:db8::12"]);
  assert.deepEqual(skips.map(([r]) => r), ["family_mismatch"]);
});
