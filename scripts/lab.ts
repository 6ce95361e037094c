/**
 * The hub-spoke lab: gobgpd + evpn-agent on a hub and three spokes in
 * network namespaces, with the seed README's multi-VNI validation.
 *
 *     deno run -A scripts/lab.ts [up|verify|down|run] [--spokes N]
 *     deno run -A scripts/lab.ts evpn [up|run]
 *
 * - `up`      builds the lab, starts gobgpd and an agent on every node,
 *             creates the scenario's VXLAN devices, writes `.lab/state.json`
 * - `verify`  prints neighbours, hub RIB, flood lists and pings, then PASS
 *             or FAIL (exit code 0 or 1)
 * - `down`    stops every lab process by PID and removes the namespaces
 * - `run`     up, verify, down; exits with verify's code
 * - no command: up, then verify (the lab stays up)
 * - `evpn`    the EVPN variant (scripts/lab/evpn_lab.ts): our agents in
 *             `mode: evpn` on spokes 1-2, FRR 8.4 with a bridge and a host
 *             behind it on spoke 3; `evpn` = up + verify, `evpn run` also
 *             down; `verify` and `down` work on whichever lab is up
 *
 * Needs root. See scripts/lab.sh for the wrapper that installs what is missing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  cacheDependencies,
  delay,
  randomPrefix,
  REPO_DIR,
  type Rib,
  run,
  tail,
  Topology,
  type TopologyState,
  waitFor,
} from "./lab/topology.ts";
import { createDevices, DEVICES, EXPECTED_FLOOD, EXPECTED_RIB, PINGS } from "./lab/scenario.ts";
import { downEvpn, EVPN_FAMILIES, type EvpnLabInfo, upEvpn, verifyEvpn } from "./lab/evpn_lab.ts";

const LAB_DIR = `${REPO_DIR}/.lab`;
const STATE_FILE = `${LAB_DIR}/state.json`;
const CONVERGE_MS = 20_000;

const USAGE = "usage: deno run -A scripts/lab.ts [up|verify|down|run] [--spokes N] | evpn [up|run]";

/** The state file: the topology, and for the EVPN variant what FRR needs. */
type LabState = TopologyState & { evpn?: EvpnLabInfo };

function say(message: string): void {
  console.log(message);
}

async function readState(): Promise<LabState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(STATE_FILE)) as LabState;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read lab state "${STATE_FILE}": ${(err as Error).message}`, {
      cause: err,
    });
  }
}

async function namespaceExists(ns: string): Promise<boolean> {
  return (await run(null, ["ip", "netns", "list"])).stdout.split("\n")
    .some((line) => line.split(" ")[0] === ns);
}

async function up(spokes: number, evpn = false): Promise<void> {
  const old = await readState();
  if (old !== undefined) {
    if (await namespaceExists(old.switchNs)) {
      throw new Error(`A lab is already up (${old.prefix}*); run "scripts/lab.sh down" first`);
    }
    say(`removing stale state of lab ${old.prefix}* (its namespaces are gone)`);
    await Topology.attach(old).destroy();
    if (old.evpn) await downEvpn(old.evpn);
    await Deno.remove(STATE_FILE);
  }
  if (spokes < 3) throw new RangeError(`The scenario needs at least 3 spokes, got ${spokes}`);
  say("caching dependencies (deno install)");
  await cacheDependencies(REPO_DIR);
  await Deno.mkdir(LAB_DIR, { recursive: true });
  const prefix = randomPrefix();
  const topo = await Topology.create({
    spokes,
    prefix,
    workDir: `${LAB_DIR}/${prefix.slice(0, -1)}`,
    detached: true,
    log: say,
    ...(evpn ? { families: [...EVPN_FAMILIES] } : {}),
  });
  try {
    if (evpn) {
      const info = await upEvpn(topo, say);
      await delay(1000);
      const state: LabState = { ...topo.disown(), evpn: info };
      await Deno.writeTextFile(STATE_FILE, JSON.stringify(state, null, 2) + "\n");
      say(`EVPN lab ${prefix}* is up; state in ${STATE_FILE}, logs in ${topo.workDir}`);
      return;
    }
    await topo.startAllGobgpd();
    await topo.waitForSessions(40_000);
    say("starting an agent on every node");
    for (const node of topo.nodes) await topo.startAgent(node);
    say("creating the scenario's VXLAN devices");
    await createDevices(topo);
    await delay(1000);
    for (const p of topo.processes.filter((p) => !p.running())) {
      say(`warning: ${p.name} has exited; the end of ${p.log}:\n${await tail(p.log, 10)}`);
    }
    await Deno.writeTextFile(STATE_FILE, JSON.stringify(topo.disown(), null, 2) + "\n");
  } catch (err) {
    say(`lab up failed; logs were in ${topo.workDir}:`);
    for (const p of topo.processes) say(`--- ${p.name} (${p.log})\n${await tail(p.log, 15)}`);
    await topo.destroy({ keepWorkDir: true });
    throw err;
  }
  say(`lab ${prefix}* is up; state in ${STATE_FILE}, logs in ${topo.workDir}`);
  for (const node of topo.nodes) {
    say(`  ${node.name.padEnd(7)} ${node.ns.padEnd(12)} ${node.address}`);
  }
  say(`  shell into a node: ip netns exec ${topo.spoke(1).ns} bash`);
}

async function attachOrFail(): Promise<[Topology, LabState]> {
  const state = await readState();
  if (state === undefined) throw new Error(`No lab is up (no ${STATE_FILE}); run "up" first`);
  return [Topology.attach(state), state];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function verify(): Promise<boolean> {
  const [topo, state] = await attachOrFail();
  const failures: string[] = [];
  let checks = 0;
  const check = (ok: boolean, label: string) => {
    checks++;
    if (!ok) failures.push(label);
    return ok ? "ok" : "FAIL";
  };

  say("== Processes");
  for (const p of topo.processes) {
    const alive = p.running();
    const status = check(alive, `${p.name} running`);
    say(
      `  ${p.name.padEnd(16)} pid ${String(p.pid).padEnd(8)} ${
        alive ? "running" : "exited "
      } ${status}`,
    );
  }

  if (state.evpn) {
    await verifyEvpn(topo, state.evpn, say, check);
    return report(topo, failures, checks);
  }

  say("\n== BGP neighbours on the hub (gobgp neighbor)");
  try {
    await topo.waitForSessions(15_000);
    check(true, "sessions");
  } catch (err) {
    check(false, `BGP sessions: ${(err as Error).message}`);
  }
  say((await run(topo.hub.ns, ["gobgp", "neighbor"])).stdout.trimEnd());

  // Converge first (the lab may just have come up), then report what is there.
  const observe = async () => {
    const rib: Rib = await topo.rib(topo.hub).catch(() => ({}));
    const flood: Record<string, string[]> = {};
    for (const key of Object.keys(EXPECTED_FLOOD)) {
      const [name, dev] = key.split("/") as [string, string];
      const node = topo.nodes.find((n) => n.name === name)!;
      flood[key] = await topo.floodList(node, dev).catch((e) => [`error: ${e.message}`]);
    }
    return { rib, flood };
  };
  let seen = await observe();
  await waitFor(
    async () => {
      seen = await observe();
      return same(seen.rib, EXPECTED_RIB) && same(seen.flood, EXPECTED_FLOOD);
    },
    CONVERGE_MS,
    "convergence",
  ).catch(() => {});

  say("\n== Hub RIB, ipv4 (gobgp global rib -a ipv4)");
  say((await run(topo.hub.ns, ["gobgp", "global", "rib", "-a", "ipv4"])).stdout.trimEnd());
  const prefixes = new Set([...Object.keys(EXPECTED_RIB), ...Object.keys(seen.rib)]);
  for (const prefix of [...prefixes].sort()) {
    const got = seen.rib[prefix];
    const want = EXPECTED_RIB[prefix];
    const status = check(same(got, want), `hub RIB ${prefix}`);
    say(
      `  ${prefix.padEnd(16)} ${(got ?? ["(absent)"]).join(" ").padEnd(26)} ${status}${
        status === "ok" ? "" : ` (expected ${want?.join(" ") ?? "absent"})`
      }`,
    );
  }

  say("\n== Flood FDB (00:00:00:00:00:00) per VXLAN device");
  for (const [key, want] of Object.entries(EXPECTED_FLOOD)) {
    const got = seen.flood[key] ?? [];
    const status = check(same(got, want), `flood list ${key}`);
    say(
      `  ${key.padEnd(18)} ${(got.length ? got.join(" ") : "(empty)").padEnd(26)} ${status}${
        status === "ok" ? "" : ` (expected ${want.join(" ")})`
      }`,
    );
  }
  for (const plan of DEVICES) {
    const node = topo.spoke(plan.spoke);
    const out = await run(node.ns, ["bridge", "fdb", "show", "dev", `vxlan${plan.vni}`]);
    say(`  -- ${node.name}: bridge fdb show dev vxlan${plan.vni}`);
    const lines = out.stdout.trimEnd() === "" ? ["(no entries)"] : out.stdout.trimEnd().split("\n");
    for (const line of lines) say(`     ${line}`);
  }

  say("\n== Data plane (ping)");
  for (const p of PINGS) {
    const node = topo.spoke(p.from);
    const dev = await topo.routeDevice(node, p.to);
    const ok = dev === p.via && await topo.ping(node, p.to, { count: 2, deadline: 3 }) === p.expect;
    const got = dev !== p.via
      ? `route via ${dev ?? "none"}, expected ${p.via}`
      : `${p.expect ? "reachable" : "unreachable"}`;
    const status = check(ok, `ping ${node.name} → ${p.to}`);
    say(
      `  ${node.name} → ${p.to.padEnd(13)} via ${p.via}  ${
        (p.expect ? "expect reply" : "expect none").padEnd(12)
      }  ${status === "ok" ? got : "FAIL"}  (${p.why})`,
    );
  }

  return report(topo, failures, checks);
}

function report(topo: Topology, failures: string[], checks: number): boolean {
  say("");
  if (failures.length === 0) {
    say(`PASS: ${checks} checks`);
    return true;
  }
  say(`FAIL: ${failures.length} of ${checks} checks failed:`);
  for (const f of failures) say(`  - ${f}`);
  say(`logs: ${topo.workDir}`);
  return false;
}

async function down(): Promise<void> {
  const state = await readState();
  if (state === undefined) {
    say("no lab is up (no state file); nothing to do");
    return;
  }
  const topo = Topology.attach(state, say);
  say(`stopping ${topo.processes.length} processes and removing namespaces ${topo.prefix}*`);
  await topo.destroy();
  if (state.evpn) await downEvpn(state.evpn);
  await Deno.remove(STATE_FILE);
  say("lab is down");
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { spokes: { type: "string", default: "3" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    say(USAGE);
    return 0;
  }
  if (Deno.uid() !== 0) {
    console.error("lab: needs root (network namespaces)");
    return 1;
  }
  const spokes = Number(values.spokes);
  const command = positionals[0] ?? "default";
  switch (command) {
    case "up":
      await up(spokes);
      return 0;
    case "verify":
      return await verify() ? 0 : 1;
    case "down":
      await down();
      return 0;
    case "run": {
      await up(spokes);
      let ok = false;
      try {
        ok = await verify();
      } finally {
        await down();
      }
      return ok ? 0 : 1;
    }
    case "default":
      await up(spokes);
      return await verify() ? 0 : 1;
    case "evpn": {
      const sub = positionals[1] ?? "default";
      if (!["up", "run", "default"].includes(sub)) {
        console.error(`lab: unknown command "evpn ${sub}"\n${USAGE}`);
        return 2;
      }
      await up(3, true);
      if (sub === "up") return 0;
      let ok = false;
      try {
        ok = await verify();
      } finally {
        if (sub === "run") await down();
      }
      return ok ? 0 : 1;
    }
    default:
      console.error(`lab: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`lab: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
