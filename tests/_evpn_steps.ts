/**
 * Shared by the EVPN end-to-end tests (`evpn_test.ts`, `evpn_type2_test.ts`):
 * steps that stop the test when an essential one fails, a check that the
 * daemons still run, and FRR's side of the failure logs.
 *
 * @module
 */
import type { FrrNode } from "../scripts/lab/frr.ts";
import { type LabNode, StopWaiting, tail, type Topology } from "../scripts/lab/topology.ts";

/** Runs steps; a failed essential step stops the test. Failed step names go to `failed`. */
export function stepper(t: Deno.TestContext, failed: string[]) {
  return async (name: string, fn: () => Promise<void>, essential = false) => {
    const ok = await t.step(name, fn);
    if (!ok) {
      failed.push(name);
      if (essential) throw new Error(`Essential step failed: ${name}`);
    }
  };
}

/** Stops a `waitFor` at once when `what` has exited on one of `nodes`, with its log's tail. */
export async function alive(
  topo: Topology,
  nodes: readonly LabNode[],
  what: "agent" | "gobgpd",
): Promise<void> {
  for (const node of nodes) {
    if (topo.process(node, what) === undefined) {
      const log = topo.file(`${node.name}-${what}.log`);
      throw new StopWaiting(`${what} on ${node.name} has exited:\n${await tail(log, 20)}`);
    }
  }
}

/** FRR's logs and EVPN table, and the output of `more` vtysh commands, on stderr. */
export async function printFrrLogs(frr: FrrNode, more: readonly string[] = []): Promise<void> {
  for (const name of ["zebra", "bgpd"]) {
    console.error(`--- ${name}.log\n${await tail(`${frr.dir}/${name}.log`, 30)}`);
  }
  console.error(await frr.evpnTable().catch((e) => String(e)));
  for (const command of more) console.error(await frr.vtysh(command).catch((e) => String(e)));
}
