/**
 * Loads the GoBGP API subset in `proto/gobgp.proto` once, for both gRPC
 * (through `@grpc/proto-loader`) and the `google.protobuf.Any` payloads
 * (through protobufjs, proto-loader's own engine). The text is read with
 * `Deno.readTextFileSync`, so it works from a checkout and from a
 * `deno compile` binary built with `--include proto`.
 *
 * @module
 */
import protobuf from "protobufjs";
import * as protoLoader from "@grpc/proto-loader";

const PROTO_URL = new URL("../../proto/gobgp.proto", import.meta.url);

/** Options shared by every decode: camelCase fields, longs and enums as numbers. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
};

let cached: { root: protobuf.Root; definition: protoLoader.PackageDefinition } | undefined;

function load() {
  if (cached) return cached;
  const text = Deno.readTextFileSync(PROTO_URL);
  const root = new protobuf.Root();
  for (const file of ["google/protobuf/any.proto", "google/protobuf/empty.proto"]) {
    const common = protobuf.common.get(file);
    if (common) root.addJSON(common.nested ?? {});
  }
  protobuf.parse(text, root, { keepCase: false });
  root.resolveAll();
  const definition = protoLoader.fromJSON(root.toJSON(), LOADER_OPTIONS);
  cached = { root, definition };
  return cached;
}

/** The protobufjs root holding package `apipb`. */
export function apipbRoot(): protobuf.Root {
  return load().root;
}

/** The gRPC package definition for `@grpc/grpc-js`'s `loadPackageDefinition`. */
export function packageDefinition(): protoLoader.PackageDefinition {
  return load().definition;
}

/** Looks up `apipb.<name>`; throws if the subset lacks it (a programming error). */
export function apipbType(name: string): protobuf.Type {
  return apipbRoot().lookupType(`apipb.${name}`);
}
