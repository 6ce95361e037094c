import assert from "node:assert/strict";
import { afiSafiName, missingFamilyWarning } from "./families.ts";

const V4 = { afi: 1, safi: 1 };
const V6 = { afi: 2, safi: 1 };

Deno.test("missingFamilyWarning() warns only when neighbours exist and none has the family", () => {
  assert.equal(missingFamilyWarning([], V6), undefined);
  assert.equal(
    missingFamilyWarning([
      { address: "2001:db8::10", families: [V4] },
      { address: "2001:db8::20", families: [V4, V6] },
    ], V6),
    undefined,
  );
  const warning = missingFamilyWarning([
    { address: "2001:db8::10", families: [V4] },
    { address: "192.0.2.10", families: [] },
  ], V6);
  assert.match(warning ?? "", /No BGP neighbour of gobgpd carries ipv6-unicast/);
  assert.match(warning ?? "", /2001:db8::10 \(ipv4-unicast\), 192\.0\.2\.10 \(no family\)/);
  assert.match(warning ?? "", /afi-safi-name = "ipv6-unicast"/);
});

Deno.test("afiSafiName() follows GoBGP's names", () => {
  assert.equal(afiSafiName(V4), "ipv4-unicast");
  assert.equal(afiSafiName(V6), "ipv6-unicast");
  assert.equal(afiSafiName({ afi: 25, safi: 70 }), "afi25-safi70");
});
