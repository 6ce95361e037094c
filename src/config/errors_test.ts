import assert from "node:assert/strict";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { resolveConfig } from "./schema.ts";

const noInterfaces = { interfaceAddresses: () => undefined };

/** `count` issues that differ only by list index (and the number they quote). */
function repeated(count: number): ConfigIssue[] {
  return Array.from({ length: count }, (_, i) => ({
    path: `vnis[${i}].community`,
    message: `VNI ${70_000 + i} is above 65535, so the community cannot be derived`,
  }));
}

Deno.test("ConfigError lists every issue when there are few of each kind", () => {
  const issues = [...repeated(20), { path: "node.vxlanport", message: "unknown key" }];
  const error = new ConfigError(issues);
  assert.equal(error.message.split("\n").length, 21);
  assert.doesNotMatch(error.message, /more of the same kind/);
  assert.equal(error.issues.length, 21);
});

Deno.test("ConfigError shows the first 20 of one kind and counts the rest", () => {
  const error = new ConfigError(repeated(20_000));
  const lines = error.message.split("\n");
  assert.equal(lines.length, 21, lines.slice(0, 25).join("\n"));
  assert.equal(
    lines[0],
    "vnis[0].community: VNI 70000 is above 65535, so the community cannot be derived",
  );
  assert.equal(
    lines[19],
    "vnis[19].community: VNI 70019 is above 65535, so the community cannot be derived",
  );
  assert.equal(lines[20], "... and 19980 more of the same kind as vnis[19].community");
  // Callers still get every issue.
  assert.equal(error.issues.length, 20_000);
  assert.equal(error.issues.at(-1)?.path, "vnis[19999].community");
});

Deno.test("ConfigError caps each kind on its own and keeps other kinds in document order", () => {
  const issues: ConfigIssue[] = [{
    path: "communityAsn",
    message: "ASN 70000 is outside 0..65535",
  }];
  for (let i = 0; i < 30; i++) {
    issues.push({ path: `vnis[${i}].id`, message: `VNI ${i} is already configured by vnis[0]` });
    issues.push({
      path: `vnis[${i}].device`,
      message: `device "x${i}" is already used by vnis[0]`,
    });
  }
  issues.push({ path: "node.vxlanPort", message: "70000 is outside 1..65535" });
  const lines = new ConfigError(issues).message.split("\n");
  assert.equal(lines.length, 1 + 20 + 20 + 1 + 2, lines.join("\n"));
  assert.equal(lines[0], "communityAsn: ASN 70000 is outside 0..65535");
  assert.equal(lines[1], "vnis[0].id: VNI 0 is already configured by vnis[0]");
  assert.equal(lines[2], 'vnis[0].device: device "x0" is already used by vnis[0]');
  assert.equal(lines[40], 'vnis[19].device: device "x19" is already used by vnis[0]');
  assert.equal(lines[41], "node.vxlanPort: 70000 is outside 1..65535");
  assert.deepEqual(lines.slice(42), [
    "... and 10 more of the same kind as vnis[19].id",
    "... and 10 more of the same kind as vnis[19].device",
  ]);
});

Deno.test("ConfigError keeps different reasons on the same key apart", () => {
  const issues: ConfigIssue[] = [];
  for (let i = 0; i < 25; i++) {
    issues.push({ path: `vnis[${i}].id`, message: "required: expected an integer" });
    issues.push({ path: `vnis[${i}].community`, message: "unknown key" });
  }
  const lines = new ConfigError(issues).message.split("\n");
  assert.equal(lines.length, 42, lines.join("\n"));
  assert.equal(lines.filter((l) => l.endsWith("required: expected an integer")).length, 20);
  assert.equal(lines.filter((l) => l.endsWith("unknown key")).length, 20);
});

Deno.test("resolveConfig() of 20,000 VNIs with one mistake repeated reports 20 lines and a count", () => {
  const vnis = Array.from(
    { length: 20_000 },
    (_, i) => ({ id: 70_000 + i, community: `65000:${70_000 + i}` }),
  );
  let error: unknown;
  try {
    resolveConfig({ communityAsn: 65000, vnis }, noInterfaces);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  const lines = error.message.split("\n");
  // node.localAddress is refused too (no interface here): one more line of its own kind.
  assert.ok(lines.length <= 22, `${lines.length} lines:\n${lines.slice(0, 30).join("\n")}`);
  assert.ok(lines.includes("... and 19980 more of the same kind as vnis[19].community"));
  assert.equal(error.issues.filter((i) => i.path.endsWith(".community")).length, 20_000);
});
