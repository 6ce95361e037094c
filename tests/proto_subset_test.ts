/**
 * Checks every message, field, enum value and RPC of the project's subset in
 * proto/gobgp.proto against GoBGP's full protos, as installed by Debian's
 * golang-github-osrg-gobgp-dev: same names, numbers, types and labels.
 */
import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { apipbRoot } from "../src/bgp/proto.ts";

const FULL_DIR = "/usr/share/gocode/src/github.com/osrg/gobgp/api";
const haveFull = (() => {
  try {
    return Deno.statSync(`${FULL_DIR}/gobgp.proto`).isFile;
  } catch {
    return false;
  }
})();
const inCi = Deno.env.get("CI") === "true";
if (!haveFull && !inCi) {
  console.log(
    `skipping proto subset check: ${FULL_DIR} is missing (apt-get install golang-github-osrg-gobgp-dev)`,
  );
}

function loadFull(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/") ? target : `${FULL_DIR}/${target.replace(/^.*\//, "")}`;
  root.loadSync(["gobgp.proto", "attribute.proto", "capability.proto"], { keepCase: false });
  root.resolveAll();
  return root;
}

function* walk(ns: protobuf.NamespaceBase): Generator<protobuf.ReflectionObject> {
  for (const child of ns.nestedArray) {
    yield child;
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) {
      yield* walk(child as protobuf.NamespaceBase);
    }
  }
}

Deno.test({
  name: "proto/gobgp.proto matches GoBGP's full API: names, numbers, types",
  ignore: !haveFull && !inCi,
  fn() {
    assert.ok(haveFull, `${FULL_DIR}/gobgp.proto is required in CI`);
    const full = loadFull();
    const subset = apipbRoot().lookup("apipb") as protobuf.Namespace;
    let checked = 0;
    for (const item of walk(subset)) {
      const name = item.fullName;
      const other = full.lookup(name);
      assert.ok(other, `${name} does not exist in GoBGP's protos`);
      if (item instanceof protobuf.Type) {
        assert.ok(other instanceof protobuf.Type, `${name} is not a message in GoBGP`);
        for (const field of item.fieldsArray) {
          const ref: protobuf.Field | undefined = other.fields[field.name];
          assert.ok(ref, `${name}.${field.name} does not exist in GoBGP`);
          assert.equal(field.id, ref.id, `${name}.${field.name}: field number`);
          assert.equal(
            field.resolvedType?.fullName ?? field.type,
            ref.resolvedType?.fullName ?? ref.type,
            `${name}.${field.name}: type`,
          );
          assert.equal(field.repeated, ref.repeated, `${name}.${field.name}: repeated`);
          assert.equal(field.partOf?.name, ref.partOf?.name, `${name}.${field.name}: oneof`);
          checked++;
        }
      } else if (item instanceof protobuf.Enum) {
        assert.ok(other instanceof protobuf.Enum, `${name} is not an enum in GoBGP`);
        for (const [key, value] of Object.entries(item.values)) {
          assert.equal(other.values[key], value, `${name}.${key}: enum number`);
          checked++;
        }
      } else if (item instanceof protobuf.Service) {
        assert.ok(other instanceof protobuf.Service, `${name} is not a service in GoBGP`);
        for (const method of item.methodsArray) {
          const ref: protobuf.Method | undefined = other.methods[method.name];
          assert.ok(ref, `${name}.${method.name} does not exist in GoBGP`);
          method.resolve();
          ref.resolve();
          assert.equal(method.resolvedRequestType?.fullName, ref.resolvedRequestType?.fullName);
          assert.equal(method.resolvedResponseType?.fullName, ref.resolvedResponseType?.fullName);
          assert.equal(
            !!method.requestStream,
            !!ref.requestStream,
            `${method.name}: request stream`,
          );
          assert.equal(
            !!method.responseStream,
            !!ref.responseStream,
            `${method.name}: response stream`,
          );
          checked++;
        }
      }
    }
    assert.ok(checked > 40, `only ${checked} items were compared`);
  },
});
