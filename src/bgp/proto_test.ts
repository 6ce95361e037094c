import assert from "node:assert/strict";
import { descriptorFromProto, JSON_PATH, PROTO_PATH } from "../../scripts/proto_json.ts";
import { apipbType, packageDefinition } from "./proto.ts";

Deno.test("src/bgp/gobgp_proto.json is what scripts/proto_json.ts makes of proto/gobgp.proto", async () => {
  const committed = JSON.parse(await Deno.readTextFile(JSON_PATH));
  const fresh = descriptorFromProto(await Deno.readTextFile(PROTO_PATH));
  assert.deepEqual(committed, JSON.parse(JSON.stringify(fresh)), "run scripts/proto_json.ts");
});

Deno.test("packageDefinition() has every RPC of the subset, with its streaming kind", () => {
  const service = packageDefinition()["apipb.GobgpApi"] as Record<
    string,
    { path: string; requestStream: boolean; responseStream: boolean; originalName: string }
  >;
  const kinds = Object.fromEntries(
    Object.entries(service).map(([name, m]) => [name, [m.path, m.requestStream, m.responseStream]]),
  );
  assert.deepEqual(kinds, {
    GetBgp: ["/apipb.GobgpApi/GetBgp", false, false],
    WatchEvent: ["/apipb.GobgpApi/WatchEvent", false, true],
    AddPath: ["/apipb.GobgpApi/AddPath", false, false],
    DeletePath: ["/apipb.GobgpApi/DeletePath", false, false],
    ListPath: ["/apipb.GobgpApi/ListPath", false, true],
    AddPathStream: ["/apipb.GobgpApi/AddPathStream", true, false],
    ListPeer: ["/apipb.GobgpApi/ListPeer", false, true],
  });
  assert.equal(service["WatchEvent"]!.originalName, "watchEvent");
});

Deno.test("the gRPC codec hands over plain objects as proto-loader did: camelCase, numbers, Any as type_url/value", () => {
  // deno-lint-ignore no-explicit-any
  const watch = (packageDefinition()["apipb.GobgpApi"] as any)["WatchEvent"];
  const prefix = apipbType("IPAddressPrefix");
  const nlri = {
    type_url: "type.googleapis.com/apipb.IPAddressPrefix",
    value: prefix.encode(prefix.fromObject({ prefixLen: 32, prefix: "192.0.2.12" })).finish(),
  };
  const response = {
    table: {
      paths: [{ nlri, family: { afi: 1, safi: 1 }, isWithdraw: true }],
    },
  };
  const bytes: Uint8Array = watch.responseSerialize(response);
  const back = watch.responseDeserialize(bytes);
  const path = back.table.paths[0];
  assert.equal(path.isWithdraw, true);
  assert.deepEqual(path.family, { afi: 1, safi: 1 });
  assert.equal(path.nlri.type_url, nlri.type_url);
  assert.deepEqual([...path.nlri.value], [...nlri.value]);
  assert.deepEqual(path.pattrs, []); // defaults filled in
  assert.equal(back.peer, undefined); // oneof not set: absent
  // A request goes through the same types.
  const request = watch.requestDeserialize(
    watch.requestSerialize({ table: { filters: [{ type: 0, init: true }] } }),
  );
  assert.deepEqual(request.table.filters, [{ type: 0, init: true }]);
});
