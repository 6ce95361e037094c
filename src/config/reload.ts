/**
 * What a reload (SIGHUP) may change while the agent runs. {@linkcode planReload}
 * compares the running and the newly loaded configuration key by key, in
 * the keys users write, and sorts every difference into `apply` (live) or
 * `refuse` (needs a restart). Pure: applying the plan is the caller's job.
 *
 * @module
 */
import { toUserConfig } from "./render.ts";
import type { ResolvedConfig } from "./types.ts";

/** Whether a key can change on reload (`live`) or only with a restart. */
export type ReloadMode = "live" | "restart";

/**
 * Every configuration key and how a change of it is taken on reload
 * (`vnis` covers `vnis[].id`, `community`, `device`, `underlayInterface`,
 * `routeTarget`, `rd` while the VNIs stay static; switching between static VNIs and discovery
 * needs a restart). The README's table lists the same.
 */
export const RELOAD_KEYS: Readonly<Record<string, ReloadMode>> = {
  mode: "restart",
  logLevel: "live",
  logFormat: "live",
  resyncInterval: "live",
  "http.listen": "live",
  advertiseSelf: "live",
  /** Live with static VNIs (it only fills in their communities); restart in discovery mode. */
  communityAsn: "live",
  /** As communityAsn. */
  communityFormat: "live",
  "gobgp.address": "restart",
  "gobgp.timeout": "restart",
  "gobgp.reconnectMaxDelay": "restart",
  "gobgp.restartHoldTime": "restart",
  "gobgp.withdrawDelay": "restart",
  /** The files themselves are read again on every reload and reconnect. */
  "gobgp.tls.caFile": "restart",
  "gobgp.tls.certFile": "restart",
  "gobgp.tls.keyFile": "restart",
  "gobgp.tls.serverName": "restart",
  "node.localInterface": "restart",
  "node.localAddress": "restart",
  "node.addressFamily": "restart",
  "node.routerId": "restart",
  "node.vxlanPort": "restart",
  "node.skipLinkCleanup": "live",
  "node.autoRecreateVxlan": "restart",
  vnis: "live",
};

/** One key whose value differs, in the file's words. */
export interface KeyChange {
  /** `logLevel`, `gobgp.address`, `vnis[10010]`, `vnis[10010].community`, ... */
  key: string;
  from: string;
  to: string;
}

export interface ReloadPlan {
  /** Changes that can be applied while running. */
  apply: KeyChange[];
  /** Changes that need a restart; when any is present, nothing is applied. */
  refuse: KeyChange[];
}

const NONE = "(none)";

/** Sorts the differences between `old` and `next` into live and restart-only changes. */
export function planReload(old: ResolvedConfig, next: ResolvedConfig): ReloadPlan {
  const plan: ReloadPlan = { apply: [], refuse: [] };
  const a = toUserConfig(old);
  const b = toUserConfig(next);
  const scalars: [string, unknown, unknown][] = [
    ["mode", String(a.mode), String(b.mode)],
    ["logLevel", a.logLevel, b.logLevel],
    ["logFormat", a.logFormat, b.logFormat],
    ["resyncInterval", a.resyncInterval, b.resyncInterval],
    ["http.listen", a.http?.listen, b.http?.listen],
    ["advertiseSelf", a.advertiseSelf, b.advertiseSelf],
    ["communityAsn", a.communityAsn, b.communityAsn],
    ["communityFormat", a.communityFormat, b.communityFormat],
    ["gobgp.address", a.gobgp?.address, b.gobgp?.address],
    ["gobgp.timeout", a.gobgp?.timeout, b.gobgp?.timeout],
    ["gobgp.reconnectMaxDelay", a.gobgp?.reconnectMaxDelay, b.gobgp?.reconnectMaxDelay],
    ["gobgp.restartHoldTime", a.gobgp?.restartHoldTime, b.gobgp?.restartHoldTime],
    ["gobgp.withdrawDelay", a.gobgp?.withdrawDelay, b.gobgp?.withdrawDelay],
    ["gobgp.tls.caFile", a.gobgp?.tls?.caFile, b.gobgp?.tls?.caFile],
    ["gobgp.tls.certFile", a.gobgp?.tls?.certFile, b.gobgp?.tls?.certFile],
    ["gobgp.tls.keyFile", a.gobgp?.tls?.keyFile, b.gobgp?.tls?.keyFile],
    ["gobgp.tls.serverName", a.gobgp?.tls?.serverName, b.gobgp?.tls?.serverName],
    ["node.localInterface", a.node?.localInterface, b.node?.localInterface],
    ["node.localAddress", a.node?.localAddress, b.node?.localAddress],
    ["node.addressFamily", a.node?.addressFamily, b.node?.addressFamily],
    ["node.routerId", a.node?.routerId, b.node?.routerId],
    ["node.vxlanPort", a.node?.vxlanPort, b.node?.vxlanPort],
    ["node.skipLinkCleanup", a.node?.skipLinkCleanup, b.node?.skipLinkCleanup],
    ["node.autoRecreateVxlan", a.node?.autoRecreateVxlan, b.node?.autoRecreateVxlan],
  ];
  const discovery = old.vnis.length === 0 || next.vnis.length === 0;
  for (const [key, from, to] of scalars) {
    if (from === to) continue;
    const change = { key, from: show(from), to: show(to) };
    const derives = key === "communityAsn" || key === "communityFormat";
    const live = RELOAD_KEYS[key] === "live" && !(derives && discovery);
    (live ? plan.apply : plan.refuse).push(change);
  }
  if ((old.vnis.length === 0) !== (next.vnis.length === 0)) {
    plan.refuse.push({
      key: "vnis",
      from: old.vnis.length === 0 ? "discovery" : `${old.vnis.length} static VNIs`,
      to: next.vnis.length === 0 ? "discovery" : `${next.vnis.length} static VNIs`,
    });
    return plan;
  }
  plan.apply.push(...vniChanges(a.vnis ?? [], b.vnis ?? []));
  return plan;
}

type UserVni = NonNullable<ReturnType<typeof toUserConfig>["vnis"]>[number];

function vniChanges(old: readonly UserVni[], next: readonly UserVni[]): KeyChange[] {
  const before = new Map(old.map((v) => [v.id, v]));
  const after = new Map(next.map((v) => [v.id, v]));
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort((x, y) => x - y);
  const changes: KeyChange[] = [];
  for (const id of ids) {
    const from = before.get(id);
    const to = after.get(id);
    if (!from || !to) {
      changes.push({ key: `vnis[${id}]`, from: describe(from), to: describe(to) });
      continue;
    }
    for (
      const field of ["community", "device", "underlayInterface", "routeTarget", "rd"] as const
    ) {
      if (String(from[field]) === String(to[field])) continue;
      changes.push({ key: `vnis[${id}].${field}`, from: show(from[field]), to: show(to[field]) });
    }
  }
  return changes;
}

function describe(vni: UserVni | undefined): string {
  return vni ? `${vni.device} ${vni.community}` : NONE;
}

function show(value: unknown): string {
  if (value === undefined) return NONE;
  if (value === "") return '""';
  return String(value);
}
