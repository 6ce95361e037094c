/**
 * The fault soak on a real lab: a route-reflector hub and four spokes in
 * network namespaces (scripts/lab/topology.ts), real gobgpd, the real agent
 * (`main.ts`) on every spoke, real vxlan devices. Observers: a continuous
 * ping between spokes 1 and 2 over VNI 10010, `bridge monitor fdb` on every
 * spoke, and the hub's RIB. Each round applies the faults that
 * `soak/plan.ts` draws, waits for the truth and records what it saw.
 *
 * @module
 */
import {
  argv,
  cacheDependencies,
  delay,
  type LabNode,
  REPO_DIR,
  run,
  Topology,
} from "../scripts/lab/topology.ts";
import {
  Background,
  ContinuousPing,
  FdbMonitor,
  gobgpInject,
  rssKiB,
} from "../tests/_resilience_lab.ts";
import {
  after,
  describe,
  drawRound,
  type Fault,
  FOREIGN_FIRST,
  FOREIGN_VALUE,
  Model,
  overlayCidr,
  parseDeviceKey,
  pingCause,
  SHAPE,
  type Shape,
  stableEntries,
  STRAY_FIRST,
} from "./plan.ts";
import { attributeLoss, lostPings, parseFdbEvent, type RoundRecord } from "./report.ts";
import { Rng } from "./rng.ts";

export interface SoakOptions {
  seed: number;
  rounds: number;
  shape?: Shape;
  /** Budget for the truth after a round's faults. @default 90 000 */
  convergeTimeoutMs?: number;
  /** Keep the lab's configs and logs. @default false */
  keepLogs?: boolean;
  /** Checkout whose agent runs (the lab and observers always come from this one). @default this one */
  agentRepo?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface SoakRun {
  rounds: RoundRecord[];
  pingLostOutsideRounds: number;
  workDir: string;
}

const PING_INTERVAL_MS = 50;
/** Quiet time after the truth before a round closes: late writes still count. */
const SETTLE_MS = 300;

/** Runs the soak; the lab is always removed at the end. */
export async function runSoak(options: SoakOptions): Promise<SoakRun> {
  const shape = options.shape ?? SHAPE;
  const log = options.log ?? (() => {});
  const timeoutMs = options.convergeTimeoutMs ?? 90_000;
  await cacheDependencies();
  const repoDir = options.agentRepo ?? REPO_DIR;
  if (repoDir !== REPO_DIR) await cacheDependencies(repoDir);
  const topo = await Topology.create({ spokes: shape.spokes, asn: shape.asn, repoDir, log });
  const bg = new Background(topo);
  const lab = new Lab(topo, bg, shape);
  const rounds: RoundRecord[] = [];
  let ping: ContinuousPing | undefined;
  let pingText = "";
  try {
    let model = new Model(shape);
    await topo.startAllGobgpd();
    for (const key of model.present) await lab.createDevice(key);
    await topo.waitForSessions();
    for (const node of topo.spokes) await lab.startAgent(node);
    const first = await lab.waitForTruth(model, timeoutMs);
    if (first.problem !== undefined) throw new Error(`The lab never converged: ${first.problem}`);
    log(`converged at the start in ${first.ms} ms; ${topo.workDir}`);
    const monitors = new Map<number, FdbMonitor>();
    for (const node of topo.spokes) {
      const dev = [...model.present].map(parseDeviceKey).find((d) => d.spoke === node.index)!;
      monitors.set(node.index, await FdbMonitor.start(bg, topo, node, `vxlan${dev.vni}`));
    }
    const to = overlayCidr(shape.pingTo, shape.pingVni).split("/")[0]!;
    ping = await ContinuousPing.start(bg, topo.spoke(shape.pingFrom), to);
    const rng = new Rng(options.seed);

    for (let round = 1; round <= options.rounds; round++) {
      const faults = drawRound(rng, model);
      const next = after(model, faults);
      const stable = stableEntries(model, faults);
      const marks = new Map<number, number>();
      for (const [i, m] of monitors) marks.set(i, (await m.output()).length);
      const t0 = Date.now();
      await Promise.all(faults.map((f) => lab.apply(f, model)));
      const truth = await lab.waitForTruth(next, timeoutMs);
      await delay(SETTLE_MS);
      const record: RoundRecord = {
        round,
        kinds: faults.map((f) => f.kind),
        faults: faults.map(describe),
        t0,
        t1: Date.now(),
        convergeMs: truth.problem === undefined ? truth.ms : -1,
        flaps: [],
        foreign: [],
        pingCauses: faults.map((f) => pingCause(shape, f)).filter((c) => c !== undefined),
        pingLost: 0,
        rssKiB: {},
        crashes: lab.takeCrashes(),
      };
      if (truth.problem !== undefined) record.problem = truth.problem;
      for (const [i, m] of monitors) {
        const text = (await m.output()).slice(marks.get(i));
        const allowed = new Set(topo.spokes.filter((n) => n.index !== i).map((n) => n.address));
        for (const line of text.split("\n")) {
          const e = parseFdbEvent(line);
          if (e === undefined) continue;
          const key = `spoke${i}/${e.dev}/${e.dst}`;
          if (e.op === "del" && stable.has(key)) record.flaps.push(key);
          if (e.op === "add" && !allowed.has(e.dst) && !isStray(e.dst)) record.foreign.push(key);
        }
      }
      for (const i of shape.longLived) {
        const agent = topo.process(topo.spoke(i), "agent");
        if (agent !== undefined) record.rssKiB[`spoke${i}`] = await rssKiB(agent.pid);
      }
      rounds.push(record);
      log(
        `round ${round}/${options.rounds}: ${record.faults.join(" + ")} → ${
          record.convergeMs >= 0 ? `${record.convergeMs} ms` : `NOT CONVERGED (${record.problem})`
        }${record.flaps.length ? `, FLAPS ${record.flaps.join(" ")}` : ""}${
          record.foreign.length ? `, PROGRAMMED ${record.foreign.join(" ")}` : ""
        }${record.crashes.length ? `, CRASHED ${record.crashes.join(" ")}` : ""}`,
      );
      model = next;
    }
    pingText = await ping.output();
    await ping.stop(Date.now());
    ping = undefined;
  } finally {
    if (ping !== undefined) pingText = await ping.output().catch(() => "");
    await bg.stopAll();
    await topo.destroy({ keepWorkDir: options.keepLogs ?? false });
  }
  const outside = attributeLoss(rounds, lostPings(pingText, PING_INTERVAL_MS));
  return { rounds, pingLostOutsideRounds: outside, workDir: topo.workDir };
}

function isStray(address: string): boolean {
  const last = Number(address.split(".")[3]);
  return address.startsWith("192.0.2.") && last >= STRAY_FIRST && last < STRAY_FIRST + 50;
}

/** The lab's moving parts as the soak drives them. */
class Lab {
  readonly topo: Topology;
  readonly bg: Background;
  readonly shape: Shape;
  #crashes: string[] = [];

  constructor(topo: Topology, bg: Background, shape: Shape) {
    this.topo = topo;
    this.bg = bg;
    this.shape = shape;
  }

  node(i: number): LabNode {
    return i === 0 ? this.topo.hub : this.topo.spoke(i);
  }

  startAgent(node: LabNode) {
    return this.topo.startAgent(node, { config: { logLevel: "info" } });
  }

  async createDevice(key: `${number}/${number}`): Promise<void> {
    const { spoke, vni } = parseDeviceKey(key);
    await this.topo.addVxlan(this.topo.spoke(spoke), vni, overlayCidr(spoke, vni));
  }

  /** Crashes seen since the last call. */
  takeCrashes(): string[] {
    return this.#crashes.splice(0);
  }

  /** Applies one fault, restarts included; `model` is the state before the round. */
  async apply(f: Fault, model: Model): Promise<void> {
    const topo = this.topo;
    switch (f.kind) {
      case "agent-kill":
      case "agent-term": {
        const node = topo.spoke(f.spoke);
        await topo.process(node, "agent")?.stop(f.kind === "agent-kill" ? "SIGKILL" : "SIGTERM");
        await delay(f.restartAfterMs);
        await this.startAgent(node);
        return;
      }
      case "gobgpd-kill": {
        const node = this.node(f.node);
        await topo.process(node, "gobgpd")?.stop("SIGKILL");
        await delay(f.restartAfterMs);
        await topo.startGobgpd(node);
        return;
      }
      case "device-toggle": {
        const key = `${f.spoke}/${f.vni}` as const;
        if (model.present.has(key)) await topo.delLink(topo.spoke(f.spoke), `vxlan${f.vni}`);
        else await this.createDevice(key);
        return;
      }
      case "flap-storm": {
        const node = topo.spoke(f.spoke);
        const dev = `vxlan${f.vni}`;
        const spec =
          `${dev} type vxlan id ${f.vni} local ${node.address} dev eth0 dstport 4789 nolearning`;
        const lines: string[] = [];
        for (let c = 0; c < f.cycles; c++) {
          if (c % 2 === 0) lines.push(`link del ${dev}`, `link add ${spec}`, `link set ${dev} up`);
          else lines.push(`link set ${dev} down`, `link set ${dev} up`);
        }
        lines.push(`addr replace ${overlayCidr(f.spoke, f.vni)} dev ${dev}`);
        const batch = topo.file(`storm-${node.name}-${dev}.batch`);
        await Deno.writeTextFile(batch, lines.join("\n") + "\n");
        await topo.exec(node, ["ip", "-batch", batch]);
        return;
      }
      case "drift-delete":
      case "drift-stray": {
        const node = topo.spoke(f.spoke);
        const verb = f.kind === "drift-delete" ? "del" : "append";
        const extra = f.kind === "drift-stray" ? ["permanent"] : [];
        // The entry may already be gone (a concurrent fault): the truth decides.
        await run(node.ns, [
          ...argv`bridge fdb ${verb} 00:00:00:00:00:00 dst ${f.dst} dev vxlan${f.vni} self`,
          ...extra,
        ]);
        return;
      }
      case "routes-foreign": {
        const hub = topo.hub;
        const asn = String(this.shape.asn);
        await gobgpInject(this.bg, hub, [
          "bulk-add",
          String(f.count),
          FOREIGN_FIRST,
          asn,
          String(FOREIGN_VALUE),
        ]);
        await delay(f.holdMs);
        await gobgpInject(this.bg, hub, ["bulk-del", String(f.count), FOREIGN_FIRST]);
        return;
      }
      case "routes-hostile": {
        const communities = this.shape.vnis.map((v) => `${this.shape.asn}:${v}`).join(",");
        const rib = (verb: string, prefix: string) =>
          topo.exec(
            topo.hub,
            verb === "add"
              ? argv`gobgp global rib add -a ipv4 ${prefix} community ${communities} origin igp`
              : argv`gobgp global rib del -a ipv4 ${prefix}`,
          );
        for (const p of f.prefixes) await rib("add", p);
        await delay(f.holdMs);
        for (const p of f.prefixes) await rib("del", p);
        return;
      }
    }
  }

  /** Restarts whatever died without being told to, and notes it. */
  async #revive(): Promise<void> {
    for (const node of this.topo.nodes) {
      if (this.topo.process(node, "gobgpd") === undefined) {
        this.#crashes.push(`gobgpd on ${node.name}`);
        await this.topo.startGobgpd(node);
      }
      if (node.role === "spoke" && this.topo.process(node, "agent") === undefined) {
        this.#crashes.push(`agent on ${node.name}`);
        await this.startAgent(node);
      }
    }
  }

  /** What differs from the truth of `model` now, or undefined when nothing does. */
  async mismatch(model: Model): Promise<string | undefined> {
    const topo = this.topo;
    const problems: string[] = [];
    for (const key of model.allDevices()) {
      const { spoke, vni } = parseDeviceKey(key);
      if (!model.present.has(key)) continue;
      const want = model.flood(spoke, vni);
      const got = await topo.floodList(topo.spoke(spoke), `vxlan${vni}`).catch((e) => [
        `(${(e as Error).message.split("\n")[0]})`,
      ]);
      if (got.join() !== want.join()) {
        problems.push(`spoke${spoke}/vxlan${vni} floods to [${got}], want [${want}]`);
      }
    }
    // The fabric is whole again: a fault's restart is not carried into the next round.
    const up = new Set(
      (await topo.neighbors(topo.hub).catch(() => [])).filter((n) => n.state === "ESTABLISHED")
        .map((n) => n.address),
    );
    const down = topo.spokes.filter((n) => !up.has(n.address)).map((n) => n.name);
    if (down.length) problems.push(`no session between the hub and ${down.join(", ")}`);
    const out = await run(topo.hub.ns, ["gobgp", "-j", "global", "rib", "-a", "ipv4"]);
    if (!out.success) return [...problems, "the hub's RIB cannot be read"].join("; ");
    const table = (JSON.parse(out.stdout) ?? {}) as Record<
      string,
      { attrs?: { type: number; communities?: number[] }[] }[]
    >;
    const want = model.rib();
    for (const prefix of new Set([...Object.keys(want), ...Object.keys(table)])) {
      const paths = table[prefix] ?? [];
      const communities = paths.map((p) =>
        (p.attrs?.find((a) => a.type === 8)?.communities ?? [])
          .map((c) => `${c >>> 16}:${c & 0xffff}`).sort().join(",")
      );
      const w = want[prefix]?.join(",");
      if (w === undefined) {
        problems.push(`hub holds ${prefix} (${paths.length} path(s)), want none`);
      } else if (paths.length !== 1 || communities[0] !== w) {
        problems.push(`hub holds ${prefix} as [${communities.join(" | ")}], want one path [${w}]`);
      }
    }
    return problems.length ? problems.join("; ") : undefined;
  }

  /** Polls {@linkcode mismatch} until it is empty or `timeoutMs` passed. */
  async waitForTruth(model: Model, timeoutMs: number): Promise<{ ms: number; problem?: string }> {
    const start = performance.now();
    let problem: string | undefined = "not checked";
    while (performance.now() - start < timeoutMs) {
      await this.#revive();
      problem = await this.mismatch(model);
      if (problem === undefined) return { ms: Math.round(performance.now() - start) };
      await delay(50);
    }
    return { ms: Math.round(performance.now() - start), problem };
  }
}
