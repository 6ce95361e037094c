/**
 * The GoBGP API subset, loaded once from its precompiled descriptor
 * `src/bgp/gobgp_proto.json` (generated from `proto/gobgp.proto` by
 * `scripts/proto_json.ts`; `proto_test.ts` holds the two together), for
 * both gRPC and the `google.protobuf.Any` payloads. Nothing parses `.proto`
 * text at run time, and `@grpc/proto-loader` is not loaded: its service
 * definition is built here from the same protobufjs types, with the
 * conversions proto-loader applied (`LOADER_OPTIONS`). Imported as a JSON
 * module, the descriptor is part of the module graph, so a `deno compile`
 * binary carries it without `--include`.
 *
 * @module
 */
import protobuf from "protobufjs/light.js";
import type * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import descriptor from "./gobgp_proto.json" with { type: "json" };

/** Options of every decode: camelCase fields, longs and enums as numbers, defaults, oneofs. */
export const LOADER_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
};

let cached: protobuf.Root | undefined;

/** The protobufjs root holding package `apipb`. */
export function apipbRoot(): protobuf.Root {
  if (cached) return cached;
  cached = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
  cached.resolveAll();
  return cached;
}

/**
 * The gRPC package definition for `@grpc/grpc-js`'s `loadPackageDefinition`:
 * `apipb.GobgpApi` with every RPC of the subset, messages as plain objects
 * (what proto-loader's `fromJSON(…, LOADER_OPTIONS)` produced).
 */
export function packageDefinition(): Parameters<typeof grpc.loadPackageDefinition>[0] {
  const service = apipbRoot().lookupService("apipb.GobgpApi");
  const methods: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    methods[method.name] = {
      path: `/apipb.GobgpApi/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: method.name[0]!.toLowerCase() + method.name.slice(1),
    };
  }
  return { "apipb.GobgpApi": methods };
}

function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    const bytes = type.encode(type.fromObject(value)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(type: protobuf.Type): (bytes: Uint8Array) => object {
  return (bytes) => type.toObject(type.decode(bytes), LOADER_OPTIONS);
}

/** Looks up `apipb.<name>`; throws if the subset lacks it (a programming error). */
export function apipbType(name: string): protobuf.Type {
  return apipbRoot().lookupType(`apipb.${name}`);
}
