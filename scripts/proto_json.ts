/**
 * Generates `src/bgp/gobgp_proto.json`, the precompiled descriptor of the project's
 * own GoBGP API subset (`proto/gobgp.proto`), which the agent loads at start
 * instead of parsing the `.proto` text (no parser, no `@grpc/proto-loader`
 * in the running agent: about 5 MiB and 70 ms less).
 *
 *     deno run -A scripts/proto_json.ts           # rewrite src/bgp/gobgp_proto.json
 *     deno run -A scripts/proto_json.ts --check   # exit 1 if it is stale
 *
 * `src/bgp/proto_test.ts` fails when the committed file is not what this
 * script makes from the committed `.proto`.
 *
 * @module
 */
import protobuf from "protobufjs";

export const PROTO_PATH = new URL("../proto/gobgp.proto", import.meta.url);
export const JSON_PATH = new URL("../src/bgp/gobgp_proto.json", import.meta.url);

/** The descriptor JSON (protobufjs `Root.toJSON()`) of `text`, with `Any` and `Empty` included. */
export function descriptorFromProto(text: string): protobuf.INamespace {
  const root = new protobuf.Root();
  for (const file of ["google/protobuf/any.proto", "google/protobuf/empty.proto"]) {
    const common = protobuf.common.get(file);
    if (common) root.addJSON(common.nested ?? {});
  }
  protobuf.parse(text, root, { keepCase: false });
  root.resolveAll();
  return root.toJSON();
}

/** The file text: 2-space JSON, as `deno fmt` leaves it. */
export function descriptorText(text: string): string {
  return JSON.stringify(descriptorFromProto(text), null, 2) + "\n";
}

if (import.meta.main) {
  const next = descriptorText(await Deno.readTextFile(PROTO_PATH));
  if (Deno.args.includes("--check")) {
    const current = await Deno.readTextFile(JSON_PATH).catch(() => "");
    if (JSON.stringify(JSON.parse(current || "null")) !== JSON.stringify(JSON.parse(next))) {
      console.error("src/bgp/gobgp_proto.json is stale: run deno run -A scripts/proto_json.ts");
      Deno.exit(1);
    }
  } else {
    await Deno.writeTextFile(JSON_PATH, next);
    console.log(`wrote ${JSON_PATH.pathname}`);
  }
}
