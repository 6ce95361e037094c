/**
 * Integration tests of `src/netlink` against the real kernel. Each test gets a
 * fresh network namespace (`evpnt-nl-<pid>-<rand>-<n>`), removed in `finally`,
 * and runs the code under test inside it through `tests/_netlink_probe.ts`
 * (FFI calls act on the calling thread's namespace). Only 192.0.2.0/24 is
 * used, and no traffic is sent.
 *
 * Needs root. Without root the tests are skipped, except with `CI=true`,
 * where they fail.
 */

import assert from "node:assert/strict";
import { NetlinkError } from "../src/netlink/mod.ts";

const isRoot = Deno.uid() === 0;
const inCI = Deno.env.get("CI") === "true";
const ignore = !isRoot && !inCI;
if (ignore) {
  console.warn(
    "tests/netlink_test.ts: skipping namespace tests: not root (with CI=true this is a failure)",
  );
}

const PROBE = new URL("./_netlink_probe.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const RUN_ID = `${Deno.pid}-${Math.random().toString(36).slice(2, 6)}`;
let nsCounter = 0;

interface Run {
  cmd: string;
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], signal?: AbortSignal): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    ...(signal === undefined ? {} : { signal }),
  }).output();
  const dec = new TextDecoder();
  return {
    cmd: [cmd, ...args].join(" "),
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

async function must(cmd: string, ...args: string[]): Promise<string> {
  const r = await run(cmd, args);
  assert.equal(r.code, 0, `${r.cmd} failed: ${r.stderr}`);
  return r.stdout;
}

/** A fresh namespace, with the steps of `fn` run against it, always removed. */
async function withNamespace(fn: (ns: Namespace) => Promise<void>): Promise<void> {
  if (!isRoot) {
    throw new Error("netlink namespace tests need root (CI=true turns the skip into a failure)");
  }
  const name = `evpnt-nl-${RUN_ID}-${++nsCounter}`;
  await must("ip", "netns", "add", name);
  try {
    await fn(new Namespace(name));
  } finally {
    await run("ip", ["netns", "del", name]);
  }
}

interface StepResult {
  ok?: unknown;
  error?: { name: string; message: string; code?: number; errno?: string; op?: string };
}

interface ProbeOutput {
  results: StepResult[];
  collected: Record<string, unknown>[];
}

/** `bridge fdb VERB MAC dst DST dev DEV self [permanent]` as an argument list. */
function bridgeFdb(verb: "append" | "del", mac: string, dst: string, dev: string): string[] {
  const argv = ["bridge", "fdb", verb, mac, "dst", dst, "dev", dev, "self"];
  return verb === "append" ? [...argv, "permanent"] : argv;
}

class Namespace {
  constructor(readonly name: string) {}

  /** Adds an FDB entry by hand, as an operator would (`bridge fdb append ... self permanent`). */
  fdbAppend(mac: string, dst: string, dev: string): Promise<string> {
    return this.exec(...bridgeFdb("append", mac, dst, dev));
  }

  ip(...args: string[]): Promise<string> {
    return must("ip", "-n", this.name, ...args);
  }

  exec(...args: string[]): Promise<string> {
    return must("ip", "netns", "exec", this.name, ...args);
  }

  async ifindex(dev: string): Promise<number> {
    const [link] = JSON.parse(await this.ip("-j", "link", "show", "dev", dev)) as {
      ifindex: number;
    }[];
    assert.ok(link, `no link ${dev}`);
    return link.ifindex;
  }

  /** The device's MAC, as `ip -j link show` reports it. */
  async mac(dev: string): Promise<string> {
    const [link] = JSON.parse(await this.ip("-j", "link", "show", "dev", dev)) as {
      address: string;
    }[];
    assert.ok(link, `no link ${dev}`);
    return link.address;
  }

  /** `ip -j neigh show dev DEV` (all states), parsed. */
  async neigh(dev: string): Promise<
    { dst: string; lladdr?: string; state: string[]; extern_learn?: null }[]
  > {
    return JSON.parse(await this.exec("ip", "-j", "neigh", "show", "nud", "all", "dev", dev));
  }

  /** `bridge -j fdb show dev DEV`, parsed. */
  async fdb(
    dev: string,
  ): Promise<{ mac: string; dst?: string; flags?: string[]; state?: string }[]> {
    return JSON.parse(await this.exec("bridge", "-j", "fdb", "show", "dev", dev));
  }

  /** The `dst`s of the flood entries that `bridge -j fdb show dev DEV` lists, sorted. */
  async floodDsts(dev: string): Promise<string[]> {
    return (await this.fdb(dev))
      .filter((e) => e.mac === "00:00:00:00:00:00" && e.dst !== undefined)
      .map((e) => e.dst!)
      .sort();
  }

  async vxlan(name: string, vni: number, extra: string[] = []): Promise<void> {
    await this.ip(
      "link",
      "add",
      name,
      "type",
      "vxlan",
      "id",
      String(vni),
      "local",
      "192.0.2.11",
      "dstport",
      "4789",
      "nolearning",
      ...extra,
    );
  }

  /** Runs the probe in this namespace; it must exit 0 on its own within 30 s. */
  async probe(steps: unknown[]): Promise<ProbeOutput> {
    const r = await run(
      "ip",
      ["netns", "exec", this.name, Deno.execPath(), "run", "-A", PROBE, JSON.stringify(steps)],
      AbortSignal.timeout(30_000),
    );
    assert.equal(r.code, 0, `probe exited with ${r.code}: ${r.stderr}`);
    const last = r.stdout.trim().split("\n").at(-1) ?? "";
    return JSON.parse(last) as ProbeOutput;
  }
}

function ok(result: StepResult | undefined): unknown {
  assert.ok(result, "missing step result");
  assert.equal(result.error, undefined, `step failed: ${JSON.stringify(result.error)}`);
  return result.ok;
}

function sorted(list: unknown): string[] {
  assert.ok(Array.isArray(list));
  return [...(list as string[])].sort();
}

// ---- links -----------------------------------------------------------------

Deno.test({
  name: "listLinks() and getLink() report an iproute2 vxlan device with vni, local, port, underlay",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.ip("link", "add", "u0", "type", "veth", "peer", "name", "u1");
      await ns.vxlan("vx10010", 10010, ["dev", "u0"]);
      const u0 = await ns.ifindex("u0");
      const vx = await ns.ifindex("vx10010");
      const out = await ns.probe([
        { call: "listLinks" },
        { call: "getLink", args: ["vx10010"] },
        { call: "getLinkByIndex", args: [vx] },
        { call: "getLink", args: ["nosuchdev"] },
        { call: "getLinkByIndex", args: [999_999] },
      ]);
      const expected = {
        ifindex: vx,
        name: "vx10010",
        kind: "vxlan",
        up: false,
        vni: 10010,
        local: "192.0.2.11",
        port: 4789,
        underlayIfindex: u0,
        mac: await ns.mac("vx10010"),
      };
      const links = ok(out.results[0]) as { name: string; kind?: string }[];
      assert.deepEqual(links.find((l) => l.name === "vx10010"), expected);
      assert.equal(links.find((l) => l.name === "u0")?.kind, "veth");
      assert.deepEqual(ok(out.results[1]), expected);
      assert.deepEqual(ok(out.results[2]), expected);
      assert.equal(ok(out.results[3]), null);
      assert.equal(ok(out.results[4]), null);
    }),
});

Deno.test({
  name: "createVxlan() makes an up, non-learning vxlan device as ip -d link show describes it",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.ip("link", "add", "u0", "type", "veth", "peer", "name", "u1");
      const u0 = await ns.ifindex("u0");
      const out = await ns.probe([
        {
          call: "createVxlan",
          args: [{
            name: "vx10020",
            vni: 10020,
            local: "192.0.2.12",
            port: 4789,
            underlayIfindex: u0,
          }],
        },
        { call: "createVxlan", args: [{ name: "vx10030", vni: 10030, port: 8472 }] },
        { call: "createVxlan", args: [{ name: "vx10020", vni: 10021, port: 4789 }] },
      ]);
      const ifindex = ok(out.results[0]);
      assert.equal(ifindex, await ns.ifindex("vx10020"));
      const [link] = JSON.parse(await ns.ip("-j", "-d", "link", "show", "dev", "vx10020"));
      assert.ok(link.flags.includes("UP"), `flags ${link.flags}`);
      assert.equal(link.linkinfo.info_kind, "vxlan");
      const data = link.linkinfo.info_data;
      assert.equal(data.id, 10020);
      assert.equal(data.local, "192.0.2.12");
      assert.equal(data.port, 4789);
      assert.equal(data.link, "u0");
      assert.equal(data.learning, false);
      // Only IFF_UP was changed: the default BROADCAST/MULTICAST flags stay.
      assert.ok(link.flags.includes("MULTICAST"), `flags ${link.flags}`);

      const [bare] = JSON.parse(await ns.ip("-j", "-d", "link", "show", "dev", "vx10030"));
      assert.equal(bare.linkinfo.info_data.port, 8472);
      assert.equal(bare.linkinfo.info_data.local, undefined);

      const dup = out.results[2]?.error;
      assert.equal(dup?.name, "NetlinkError");
      assert.equal(dup?.errno, "NLE_EXIST");
      assert.match(dup?.message ?? "", /^Cannot create VXLAN device "vx10020" \(VNI 10021\): /);
    }),
});

Deno.test({
  name: "deleteLink() removes a link, after which getLink() returns undefined",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const out = await ns.probe([
        { call: "deleteLink", args: ["@vx10010", "vx10010"] },
        { call: "getLink", args: ["vx10010"] },
        { call: "deleteLink", args: [999_999, "ghost"] },
      ]);
      ok(out.results[0]);
      assert.equal(ok(out.results[1]), null);
      assert.equal(
        out.results[2]?.error?.message,
        'Cannot delete link "ghost" (ifindex 999999): No such device (NLE_NODEV)',
      );
      assert.equal(JSON.parse(await ns.ip("-j", "link", "show")).length, 1); // lo only
    }),
});

// ---- flood entries -----------------------------------------------------------

Deno.test({
  name: "appendFlood() adds one flood entry that bridge fdb show lists",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const out = await ns.probe([
        { call: "appendFlood", args: ["@vx10010", "192.0.2.12", "vx10010"] },
        { call: "listFlood", args: ["@vx10010"] },
      ]);
      ok(out.results[0]);
      assert.deepEqual(ok(out.results[1]), ["192.0.2.12"]);
      const entries = (await ns.fdb("vx10010")).filter((e) => e.mac === "00:00:00:00:00:00");
      assert.equal(entries.length, 1);
      assert.equal(entries[0]?.dst, "192.0.2.12");
      assert.ok(entries[0]?.flags?.includes("self"));
      const [raw] = JSON.parse(await ns.exec("bridge", "-j", "fdb", "show", "dev", "vx10010"));
      assert.equal(raw.state, "permanent");
    }),
});

Deno.test({
  name: "appendFlood() of the same remote twice leaves one entry",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const out = await ns.probe([
        { call: "appendFlood", args: ["@vx10010", "192.0.2.12"] },
        { call: "appendFlood", args: ["@vx10010", "192.0.2.12"] },
        { call: "listFlood", args: ["@vx10010"] },
      ]);
      ok(out.results[0]);
      ok(out.results[1]);
      assert.deepEqual(ok(out.results[2]), ["192.0.2.12"]);
      assert.deepEqual(await ns.floodDsts("vx10010"), ["192.0.2.12"]);
    }),
});

Deno.test({
  name: "listFlood() matches bridge fdb show after appends made by both sides",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      await ns.fdbAppend("00:00:00:00:00:00", "192.0.2.21", "vx10010");
      const out = await ns.probe([
        { call: "appendFlood", args: ["@vx10010", "192.0.2.22"] },
        { call: "appendFlood", args: ["@vx10010", "192.0.2.23"] },
        { call: "listFlood", args: ["@vx10010"] },
      ]);
      assert.deepEqual(sorted(ok(out.results[2])), await ns.floodDsts("vx10010"));
      assert.deepEqual(await ns.floodDsts("vx10010"), ["192.0.2.21", "192.0.2.22", "192.0.2.23"]);
    }),
});

Deno.test({
  name: "delFlood() removes only that remote and leaves the others",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const out = await ns.probe([
        { call: "appendFlood", args: ["@vx10010", "192.0.2.12"] },
        { call: "appendFlood", args: ["@vx10010", "192.0.2.13"] },
        { call: "appendFlood", args: ["@vx10010", "192.0.2.14"] },
        { call: "delFlood", args: ["@vx10010", "192.0.2.13", "vx10010"] },
        { call: "listFlood", args: ["@vx10010"] },
        // Deleting what is not there is not an error.
        { call: "delFlood", args: ["@vx10010", "192.0.2.13"] },
        { call: "delFlood", args: ["@vx10010", "192.0.2.12"] },
        { call: "delFlood", args: ["@vx10010", "192.0.2.14"] },
        { call: "delFlood", args: ["@vx10010", "192.0.2.14"] },
        { call: "listFlood", args: ["@vx10010"] },
      ]);
      out.results.forEach(ok);
      assert.deepEqual(sorted(out.results[4]?.ok), ["192.0.2.12", "192.0.2.14"]);
      assert.deepEqual(ok(out.results[9]), []);
      assert.deepEqual(await ns.floodDsts("vx10010"), []);
    }),
});

Deno.test({
  name: "listFlood() never lists a unicast entry and delFlood() leaves it in place",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      await ns.fdbAppend("aa:bb:cc:dd:ee:01", "192.0.2.99", "vx10010");
      const out = await ns.probe([
        { call: "appendFlood", args: ["@vx10010", "192.0.2.12"] },
        { call: "appendFlood", args: ["@vx10010", "192.0.2.99"] },
        { call: "listFlood", args: ["@vx10010"] },
        { call: "delFlood", args: ["@vx10010", "192.0.2.12"] },
        { call: "delFlood", args: ["@vx10010", "192.0.2.99"] },
        { call: "listFlood", args: ["@vx10010"] },
      ]);
      out.results.forEach(ok);
      assert.deepEqual(sorted(out.results[2]?.ok), ["192.0.2.12", "192.0.2.99"]);
      assert.deepEqual(ok(out.results[5]), []);
      const left = await ns.fdb("vx10010");
      assert.deepEqual(left.map((e) => [e.mac, e.dst]), [["aa:bb:cc:dd:ee:01", "192.0.2.99"]]);
    }),
});

Deno.test({
  name: "listFloodAll() groups the flood entries of every device by ifindex in one dump",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      await ns.vxlan("vx10020", 10020);
      await ns.vxlan("vx10030", 10030); // no flood entries: absent from the map
      const out = await ns.probe([
        { call: "appendFlood", args: ["@vx10010", "192.0.2.12"] },
        { call: "appendFlood", args: ["@vx10010", "192.0.2.13"] },
        { call: "appendFlood", args: ["@vx10020", "192.0.2.14"] },
        { call: "listFloodAll" },
      ]);
      out.results.forEach(ok);
      const all = ok(out.results[3]) as Record<string, string[]>;
      const a = await ns.ifindex("vx10010");
      const b = await ns.ifindex("vx10020");
      assert.deepEqual(Object.keys(all).sort(), [String(a), String(b)].sort());
      assert.deepEqual(sorted(all[String(a)]), ["192.0.2.12", "192.0.2.13"]);
      assert.deepEqual(all[String(b)], ["192.0.2.14"]);
    }),
});

Deno.test({
  name: "appendFlood() on a missing ifindex throws a NetlinkError naming the device and the entry",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      const out = await ns.probe([
        { call: "appendFlood", args: [999_999, "192.0.2.12", "vxlan10010"] },
        { call: "appendFlood", args: [999_999, "192.0.2.12"] },
        { call: "delFlood", args: [999_999, "192.0.2.12"] },
      ]);
      assert.deepEqual(out.results[0]?.error, {
        name: "NetlinkError",
        message: 'Cannot append FDB entry "00:00:00:00:00:00 dst 192.0.2.12" on "vxlan10010" ' +
          "(ifindex 999999): No such device (NLE_NODEV)",
        code: 31,
        errno: "NLE_NODEV",
        op: "rtnl_link_get_kernel",
      });
      assert.equal(
        out.results[1]?.error?.message,
        'Cannot append FDB entry "00:00:00:00:00:00 dst 192.0.2.12" on ifindex 999999: ' +
          "No such device (NLE_NODEV)",
      );
      assert.match(
        out.results[2]?.error?.message ?? "",
        /^Cannot delete FDB entry .*\(NLE_NODEV\)$/,
      );
    }),
});

Deno.test({
  name: "appendFlood() on a veth throws a NetlinkError saying it is not a VXLAN device",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.ip("link", "add", "va", "type", "veth", "peer", "name", "vb");
      const out = await ns.probe([
        { call: "appendFlood", args: ["@va", "192.0.2.12"] },
        { call: "delFlood", args: ["@va", "192.0.2.12"] },
        { call: "appendFlood", args: ["@va", "not-an-ip"] },
      ]);
      const va = await ns.ifindex("va");
      assert.deepEqual(out.results[0]?.error, {
        name: "NetlinkError",
        message: `Cannot append FDB entry "00:00:00:00:00:00 dst 192.0.2.12" on "va" ` +
          `(ifindex ${va}): not a VXLAN device (kind "veth") (NLE_OPNOTSUPP)`,
        code: 10,
        errno: "NLE_OPNOTSUPP",
        op: "rtnl_link_is_vxlan",
      });
      assert.equal(out.results[1]?.error?.errno, "NLE_OPNOTSUPP");
      assert.equal(out.results[2]?.error?.name, "TypeError");
      // Nothing reached the veth (the kernel would have taken it as a unicast filter).
      assert.equal((await ns.fdb("va")).some((e) => e.mac === "00:00:00:00:00:00"), false);
    }),
});

// ---- IPv6 underlay -------------------------------------------------------------

Deno.test({
  name: "an IPv6 vxlan device: local6 read and written, flood entries with a 16-byte dst, events",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.ip("link", "add", "u0", "type", "veth", "peer", "name", "u1");
      // Made by iproute2: discovery must read IFLA_VXLAN_LOCAL6.
      await ns.ip(
        ..."link add vx6 type vxlan id 10010 local 2001:db8::11 dstport 4789 nolearning".split(" "),
      );
      const u0 = await ns.ifindex("u0");
      const out = await ns.probe([
        { call: "getLink", args: ["vx6"] },
        {
          call: "createVxlan",
          args: [{
            name: "vx6b",
            vni: 10011,
            local: "2001:db8::11",
            port: 4789,
            underlayIfindex: u0,
          }],
        },
        { events: "open" },
        { events: "start" },
        { call: "appendFlood", args: ["@vx6", "2001:db8::12", "vx6"] },
        { call: "appendFlood", args: ["@vx6", "2001:db8:0:0::13", "vx6"] },
        { call: "listFlood", args: ["@vx6"] },
        { waitFor: { kind: "neigh", type: "new", dst: "2001:db8::13" } },
        { call: "delFlood", args: ["@vx6", "2001:db8::12", "vx6"] },
        { waitFor: { kind: "neigh", type: "del", dst: "2001:db8::12" } },
        { call: "listFlood", args: ["@vx6"] },
        // An IPv6 device and an IPv4 remote: what the kernel answers.
        { sh: bridgeFdb("append", "00:00:00:00:00:00", "192.0.2.12", "vx6") },
      ]);
      const vx6 = await ns.ifindex("vx6");
      const link = ok(out.results[0]) as { local?: string; vni?: number };
      assert.equal(link.local, "2001:db8::11");
      assert.equal(link.vni, 10010);

      assert.equal(ok(out.results[1]), await ns.ifindex("vx6b"));
      const [made] = JSON.parse(await ns.ip("-j", "-d", "link", "show", "dev", "vx6b"));
      assert.equal(made.linkinfo.info_data.local6, "2001:db8::11");
      assert.equal(made.linkinfo.info_data.local, undefined);
      assert.equal(made.linkinfo.info_data.link, "u0");
      assert.equal(made.linkinfo.info_data.learning, false);

      for (const i of [4, 5]) ok(out.results[i]);
      assert.deepEqual(sorted(ok(out.results[6])), ["2001:db8::12", "2001:db8::13"]);
      ok(out.results[7]);
      ok(out.results[8]);
      ok(out.results[9]);
      assert.deepEqual(ok(out.results[10]), ["2001:db8::13"]);
      const neigh = out.collected.filter((e) =>
        e.kind === "neigh" && e.mac === "00:00:00:00:00:00"
      );
      assert.deepEqual(neigh.slice(0, 3), [
        {
          kind: "neigh",
          type: "new",
          ifindex: vx6,
          mac: "00:00:00:00:00:00",
          dst: "2001:db8::12",
          ours: false,
        },
        {
          kind: "neigh",
          type: "new",
          ifindex: vx6,
          mac: "00:00:00:00:00:00",
          dst: "2001:db8::13",
          ours: false,
        },
        {
          kind: "neigh",
          type: "del",
          ifindex: vx6,
          mac: "00:00:00:00:00:00",
          dst: "2001:db8::12",
          ours: false,
        },
      ]);
      // bridge fdb agrees, entry by entry.
      const entries = (await ns.fdb("vx6")).filter((e) => e.mac === "00:00:00:00:00:00");
      const v6 = entries.filter((e) => e.dst?.includes(":"));
      assert.deepEqual(v6.map((e) => e.dst), ["2001:db8::13"]);
      assert.ok(v6[0]?.flags?.includes("self"));
      // The kernel refuses a remote of the other family (EAFNOSUPPORT): why the
      // agent skips such VTEPs as family_mismatch instead of writing them.
      const mixed = ok(out.results[11]) as { code: number; stderr: string };
      assert.notEqual(mixed.code, 0);
      assert.match(mixed.stderr, /Address family not supported/);
    }),
});

// ---- events ------------------------------------------------------------------

Deno.test({
  name: "NetlinkEvents reports a vxlan link's creation and deletion with its vni",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      const out = await ns.probe([
        { events: "open" },
        { events: "start" },
        {
          sh: [
            "ip",
            "link",
            "add",
            "vx10040",
            "type",
            "vxlan",
            "id",
            "10040",
            "local",
            "192.0.2.11",
            "dstport",
            "4789",
          ],
        },
        { waitFor: { kind: "link", type: "new", link: { name: "vx10040" } } },
        { sh: ["ip", "link", "del", "vx10040"] },
        { waitFor: { kind: "link", type: "del", link: { name: "vx10040" } } },
        { events: "close" },
      ]);
      out.results.forEach(ok);
      const mine = out.collected.filter((e) =>
        e.kind === "link" && (e.link as { name: string }).name === "vx10040"
      );
      const first = mine[0] as { type: string; link: Record<string, unknown> };
      const last = mine.at(-1) as { type: string; link: Record<string, unknown> };
      assert.equal(first.type, "new");
      assert.equal(last.type, "del");
      for (const ev of [first, last]) {
        assert.equal(ev.link.kind, "vxlan");
        assert.equal(ev.link.vni, 10040);
        assert.equal(ev.link.local, "192.0.2.11");
        assert.equal(ev.link.port, 4789);
      }
      assert.equal(out.collected.filter((e) => e.kind === "error").length, 0);
    }),
});

Deno.test({
  name: "NetlinkEvents reports bridge fdb append and del as AF_BRIDGE neighbour events",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const vx = await ns.ifindex("vx10010");
      const fdb = (verb: "append" | "del", mac: string, dst: string) => ({
        sh: bridgeFdb(verb, mac, dst, "vx10010"),
      });
      const out = await ns.probe([
        { events: "open" },
        { events: "start" },
        fdb("append", "00:00:00:00:00:00", "192.0.2.12"),
        fdb("append", "aa:bb:cc:dd:ee:01", "192.0.2.99"),
        fdb("del", "00:00:00:00:00:00", "192.0.2.12"),
        { waitFor: { kind: "neigh", type: "del", dst: "192.0.2.12" } },
        { events: "close" },
      ]);
      out.results.forEach(ok);
      const neigh = out.collected.filter((e) => e.kind === "neigh");
      assert.deepEqual(neigh, [
        {
          kind: "neigh",
          type: "new",
          ifindex: vx,
          mac: "00:00:00:00:00:00",
          dst: "192.0.2.12",
          ours: false,
        },
        {
          kind: "neigh",
          type: "new",
          ifindex: vx,
          mac: "aa:bb:cc:dd:ee:01",
          dst: "192.0.2.99",
          ours: false,
        },
        {
          kind: "neigh",
          type: "del",
          ifindex: vx,
          mac: "00:00:00:00:00:00",
          dst: "192.0.2.12",
          ours: false,
        },
      ]);
    }),
});

Deno.test({
  name: "NetlinkEvents queues changes made between construction and start()",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const out = await ns.probe([
        { events: "open" },
        { call: "appendFlood", args: ["@vx10010", "192.0.2.12"] },
        { events: "start" },
        { waitFor: { kind: "neigh", type: "new", dst: "192.0.2.12" } },
        { events: "close" },
      ]);
      out.results.forEach(ok);
    }),
});

Deno.test({
  name: "NetlinkEvents calls onOverrun() when the kernel drops notifications",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const batch = Array.from(
        { length: 250 },
        (_, i) => `fdb append 00:00:00:00:00:00 dst 192.0.2.${i + 1} dev vx10010 self permanent`,
      ).join("\n") + "\n";
      const file = await Deno.makeTempFile({ prefix: "evpnt-nl-batch-" });
      try {
        await Deno.writeTextFile(file, batch);
        const out = await ns.probe([
          // A tiny receive buffer, not yet read from: 250 notifications overflow it.
          { events: "open", receiveBufferBytes: 4096 },
          { sh: ["bridge", "-batch", file] },
          { events: "start" },
          { waitFor: { kind: "overrun" } },
          // The loop carries on after an overrun.
          { sh: bridgeFdb("append", "aa:bb:cc:dd:ee:02", "192.0.2.99", "vx10010") },
          { waitFor: { kind: "neigh", mac: "aa:bb:cc:dd:ee:02" } },
          { events: "close" },
        ]);
        out.results.forEach(ok);
      } finally {
        await Deno.remove(file);
      }
    }),
});

Deno.test({
  name: "NetlinkEvents.close() wakes the pending poll at once and lets the process exit",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      const t0 = performance.now();
      const out = await ns.probe([
        { events: "open" },
        { events: "start" },
        { events: "close" },
        { events: "close" },
      ]);
      out.results.forEach(ok);
      const { closedMs } = out.results[2]?.ok as { closedMs: number };
      assert.ok(closedMs < 100, `closed took ${closedMs} ms`);
      // The probe returned from its module with nothing pending: it exited by itself.
      assert.ok(performance.now() - t0 < 20_000);
    }),
});

// ---- unicast entries, neighbours, addresses --------------------------------

Deno.test({
  name:
    "replaceUnicast() writes MAC dst VTEP self extern_learn permanent, moves it in place, and delUnicast() of the old dst leaves the moved entry",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      await ns.fdbAppend("02:aa:00:00:00:09", "192.0.2.19", "vx10010"); // a user's entry
      await ns.fdbAppend("00:00:00:00:00:00", "192.0.2.12", "vx10010");
      const out = await ns.probe([
        { call: "replaceUnicast", args: ["@vx10010", "02:aa:00:00:00:01", "192.0.2.12"] },
        { call: "listUnicast", args: ["@vx10010"] },
        { events: "open" },
        { events: "start" },
        { call: "replaceUnicast", args: ["@vx10010", "02:aa:00:00:00:01", "192.0.2.13"] },
        { waitFor: { kind: "neigh", mac: "02:aa:00:00:00:01", dst: "192.0.2.13" } },
        { call: "listUnicast", args: ["@vx10010"] },
        { call: "delUnicast", args: ["@vx10010", "02:aa:00:00:00:01", "192.0.2.12"] },
        { call: "listUnicast", args: ["@vx10010"] },
        { call: "delUnicast", args: ["@vx10010", "02:aa:00:00:00:01", "192.0.2.13"] },
        { call: "delUnicast", args: ["@vx10010", "02:aa:00:00:00:01", "192.0.2.13"] },
        { call: "replaceUnicast", args: ["@vx10010", "00:00:00:00:00:00", "192.0.2.13"] },
        { events: "close" },
      ]);
      const byMac = (list: unknown) =>
        (list as { mac: string }[]).slice().sort((a, b) => a.mac.localeCompare(b.mac));
      const user = { mac: "02:aa:00:00:00:09", dst: "192.0.2.19", ours: false };
      assert.deepEqual(byMac(ok(out.results[1])), [
        { mac: "02:aa:00:00:00:01", dst: "192.0.2.12", ours: true },
        user,
      ]);
      ok(out.results[4]);
      ok(out.results[5]);
      // Moved in place: one entry, new dst; the flood entry is not listed.
      assert.deepEqual(byMac(ok(out.results[6])), [
        { mac: "02:aa:00:00:00:01", dst: "192.0.2.13", ours: true },
        user,
      ]);
      // The move was one notification for the new dst, no deletion in between.
      const moves = out.collected.filter((e) =>
        e.kind === "neigh" && e.mac === "02:aa:00:00:00:01"
      );
      assert.deepEqual(moves.map((e) => [e.type, e.dst, e.ours]), [["new", "192.0.2.13", true]]);
      // Deleting the old (MAC, dst) is a no-op after the move.
      assert.deepEqual(byMac(ok(out.results[8])), byMac(ok(out.results[6])));
      ok(out.results[9]);
      ok(out.results[10]); // already gone: not an error
      assert.equal(out.results[11]?.error?.name, "TypeError");
      const fdb = await ns.fdb("vx10010");
      assert.deepEqual(
        fdb.filter((e) => e.mac !== "00:00:00:00:00:00").map((e) => [e.mac, e.dst, e.flags]),
        [["02:aa:00:00:00:09", "192.0.2.19", ["self"]]],
      );
      assert.deepEqual(await ns.floodDsts("vx10010"), ["192.0.2.12"]);
    }),
});

Deno.test({
  name: "bridge fdb shows the agent's unicast entry as self extern_learn permanent",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      const out = await ns.probe([
        { call: "replaceUnicast", args: ["@vx10010", "02:aa:00:00:00:01", "192.0.2.12"] },
        { call: "replaceUnicast", args: ["@vx10010", "02:aa:00:00:00:02", "192.0.2.12"] },
      ]);
      out.results.forEach(ok);
      const fdb = await ns.fdb("vx10010");
      const mine = fdb.find((e) => e.mac === "02:aa:00:00:00:01");
      assert.deepEqual(mine?.flags?.slice().sort(), ["extern_learn", "self"]);
      assert.equal(mine?.state, "permanent");
      const text = await ns.exec("bridge", "fdb", "show", "dev", "vx10010");
      assert.match(text, /^02:aa:00:00:00:01 dst 192\.0\.2\.12 self extern_learn permanent$/m);
      // A hand replace without the mark takes the entry over: no longer ours.
      await ns.exec(
        "bridge",
        "fdb",
        "replace",
        "02:aa:00:00:00:02",
        "dst",
        "192.0.2.14",
        "dev",
        "vx10010",
        "self",
        "permanent",
      );
      const after = await ns.probe([{ call: "listUnicast", args: ["@vx10010"] }]);
      const list = ok(after.results[0]) as { mac: string; ours: boolean }[];
      assert.equal(list.find((e) => e.mac === "02:aa:00:00:00:02")?.ours, false);
    }),
});

Deno.test({
  name:
    "Neighbours: replace() writes IPv4, IPv6 and link-local entries as extern_learn PERMANENT, changes the MAC in place, delete() removes only its IP",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      await ns.ip("link", "set", "vx10010", "up");
      await ns.exec(
        "ip",
        "neigh",
        "add",
        "198.51.100.9",
        "lladdr",
        "02:aa:00:00:00:09",
        "dev",
        "vx10010",
        "nud",
        "permanent",
      );
      const out = await ns.probe([
        { call: "replace", args: ["@vx10010", "198.51.100.2", "02:aa:00:00:00:01"] },
        { call: "replace", args: ["@vx10010", "2001:db8:100::2", "02:aa:00:00:00:01"] },
        { call: "replace", args: ["@vx10010", "fe80::aa:1", "02:aa:00:00:00:01"] },
        { call: "list", args: ["@vx10010"] },
        { events: "open" },
        { events: "start" },
        { call: "replace", args: ["@vx10010", "198.51.100.2", "02:aa:00:00:00:02"] },
        { waitFor: { kind: "ipNeigh", ip: "198.51.100.2", mac: "02:aa:00:00:00:02" } },
        { call: "delete", args: ["@vx10010", "2001:db8:100::2"] },
        { waitFor: { kind: "ipNeigh", type: "del", ip: "2001:db8:100::2" } },
        { call: "delete", args: ["@vx10010", "2001:db8:100::2"] },
        { call: "list", args: ["@vx10010"] },
        { call: "replace", args: ["@vx10010", "not-an-ip", "02:aa:00:00:00:02"] },
        { events: "close" },
      ]);
      const byIp = (list: unknown) =>
        (list as { ip: string }[]).slice().sort((a, b) => a.ip.localeCompare(b.ip));
      assert.deepEqual(byIp(ok(out.results[3])), [
        { ip: "198.51.100.2", mac: "02:aa:00:00:00:01", ours: true },
        { ip: "198.51.100.9", mac: "02:aa:00:00:00:09", ours: false },
        { ip: "2001:db8:100::2", mac: "02:aa:00:00:00:01", ours: true },
        { ip: "fe80::aa:1", mac: "02:aa:00:00:00:01", ours: true },
      ]);
      for (const i of [6, 7, 8, 9, 10]) ok(out.results[i]);
      assert.deepEqual(byIp(ok(out.results[11])), [
        { ip: "198.51.100.2", mac: "02:aa:00:00:00:02", ours: true },
        { ip: "198.51.100.9", mac: "02:aa:00:00:00:09", ours: false },
        { ip: "fe80::aa:1", mac: "02:aa:00:00:00:01", ours: true },
      ]);
      assert.equal(out.results[12]?.error?.name, "TypeError");
      const changed = out.collected.filter((e) => e.kind === "ipNeigh" && e.ip === "198.51.100.2");
      assert.deepEqual(changed.map((e) => [e.type, e.mac, e.permanent, e.ours]), [
        ["new", "02:aa:00:00:00:02", true, true],
      ]);
      const text = await ns.exec("ip", "neigh", "show", "dev", "vx10010");
      assert.match(text, /^198\.51\.100\.2 lladdr 02:aa:00:00:00:02 extern_learn PERMANENT/m);
      assert.match(text, /^198\.51\.100\.9 lladdr 02:aa:00:00:00:09 PERMANENT/m);
    }),
});

Deno.test({
  name:
    "listAddresses() and address notifications report IPv4, IPv6 and link-local addresses; a MAC change arrives as a link event",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      await ns.ip("addr", "add", "198.51.100.1/24", "dev", "vx10010");
      await ns.ip("link", "set", "vx10010", "address", "02:aa:00:00:00:10");
      await ns.ip("addr", "add", "fe80::aa:10/64", "dev", "vx10010");
      const vx = await ns.ifindex("vx10010");
      const out = await ns.probe([
        { call: "listAddresses" },
        { events: "open" },
        { events: "start" },
        { sh: ["ip", "addr", "add", "2001:db8:100::1/64", "dev", "vx10010", "nodad"] },
        { waitFor: { kind: "addr", type: "new", ip: "2001:db8:100::1" } },
        { sh: ["ip", "addr", "del", "198.51.100.1/24", "dev", "vx10010"] },
        { waitFor: { kind: "addr", type: "del", ip: "198.51.100.1" } },
        { sh: ["ip", "link", "set", "vx10010", "address", "02:aa:00:00:00:11"] },
        { waitFor: { kind: "link", link: { name: "vx10010", mac: "02:aa:00:00:00:11" } } },
        { events: "close" },
      ]);
      out.results.forEach(ok);
      const all = ok(out.results[0]) as Record<string, string[]>;
      assert.deepEqual(all[String(vx)], ["198.51.100.1", "fe80::aa:10"]);
      const addr = out.collected.filter((e) => e.kind === "addr" && e.ifindex === vx);
      assert.deepEqual(addr.map((e) => [e.type, e.ip]), [
        ["new", "2001:db8:100::1"],
        ["del", "198.51.100.1"],
      ]);
    }),
});

Deno.test({
  name: "the kernel flushes a device's permanent neighbours on a MAC change, with notifications",
  ignore,
  fn: () =>
    withNamespace(async (ns) => {
      await ns.vxlan("vx10010", 10010);
      await ns.ip("link", "set", "vx10010", "up");
      const out = await ns.probe([
        { call: "replace", args: ["@vx10010", "198.51.100.2", "02:aa:00:00:00:01"] },
        { call: "replaceUnicast", args: ["@vx10010", "02:aa:00:00:00:01", "192.0.2.12"] },
        { events: "open" },
        { events: "start" },
        { sh: ["ip", "link", "set", "vx10010", "address", "02:aa:00:00:00:11"] },
        { waitFor: { kind: "ipNeigh", type: "del", ip: "198.51.100.2" } },
        { call: "list", args: ["@vx10010"] },
        { call: "listUnicast", args: ["@vx10010"] },
        { events: "close" },
      ]);
      out.results.forEach(ok);
      assert.deepEqual(ok(out.results[6]), []);
      // FDB entries survive it.
      assert.deepEqual(ok(out.results[7]), [
        { mac: "02:aa:00:00:00:01", dst: "192.0.2.12", ours: true },
      ]);
    }),
});

// ---- errors (no namespace needed) ----------------------------------------------

Deno.test("NetlinkError names the action, quotes the value and gives libnl's reason and code", () => {
  const err = new NetlinkError(
    -6,
    'Cannot append FDB entry "00:00:00:00:00:00 dst 192.0.2.12" on "vxlan10010" (ifindex 7)',
    { op: "rtnl_neigh_add" },
  );
  assert.ok(err instanceof Error);
  assert.equal(err.name, "NetlinkError");
  assert.equal(err.code, 6);
  assert.equal(err.errno, "NLE_EXIST");
  assert.equal(err.op, "rtnl_neigh_add");
  assert.equal(
    err.message,
    'Cannot append FDB entry "00:00:00:00:00:00 dst 192.0.2.12" on "vxlan10010" (ifindex 7): ' +
      "Object exists (NLE_EXIST)",
  );
});
