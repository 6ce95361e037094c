/**
 * `evpn-agent status`: fetches `/status` from a running agent and prints it
 * as tables, in the spirit of `gobgp neighbor` and `bridge fdb show`.
 *
 * @module
 */
import type { AgentStatus, EntriesStatus, MacIpStatus } from "../status/types.ts";
import { FLOOD_MAC } from "../net/mac.ts";
import { ipv4Value } from "../net/ip.ts";
import type { HostPort } from "../net/host_port.ts";

/** Numeric address order, as `bridge fdb show` readers expect (.9 before .12). */
function byAddress(a: string, b: string): number {
  return (ipv4Value(a) ?? 0) - (ipv4Value(b) ?? 0) || a.localeCompare(b);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** Renders a status document as text. Pure. */
export function renderStatus(status: AgentStatus): string {
  const out: string[] = [];
  const membership = status.bgp.membership;
  out.push(
    `evpn-agent ${status.version}: ${status.ready ? "ready" : "NOT READY"}` +
      `${status.dryRun ? " (dry run)" : ""}, VTEP ${status.node.localAddress}` +
      (status.node.addressFamily === "ipv6" ? " (IPv6 underlay)" : "") +
      ` (${status.node.mode === "static" ? "static VNIs" : "discovered VNIs"}` +
      `${
        status.node.routes && status.node.routes.join() !== "community"
          ? `, ${status.node.routes.join(" + ")} routes`
          : ""
      })` +
      `, last sync ${status.lastSync ?? "never"}`,
  );
  out.push(
    `BGP ${status.bgp.address}: stream ${status.bgp.stream}, ` +
      `${status.bgp.reconnects} reconnects, ${status.bgp.remoteVteps} remote VTEPs`,
  );
  if (status.node.routes?.includes("community") ?? true) {
    out.push(
      `Membership ${membership.prefix}: ` +
        (!membership.enabled
          ? "not advertised (advertiseSelf: false)"
          : membership.communities === null
          ? "unknown (not yet confirmed by gobgpd)"
          : status.dryRun
          // The dry-run client only logged its AddPath/DeletePath: gobgpd holds nothing.
          ? membership.communities.length === 0
            ? "would withdraw (no VNI online; dry run)"
            : `would advertise ${membership.communities.join(" ")} (dry run)`
          : membership.communities.length === 0
          ? "withdrawn (no VNI online)"
          : membership.communities.join(" ")),
    );
  }
  out.push("");
  const rows = [[
    "VNI",
    "Community",
    "Device",
    "Ifindex",
    "State",
    "Local",
    "Desired",
    "Programmed",
    "Diff",
  ]];
  for (const v of status.vnis) {
    const diff = !v.online
      ? "-"
      : v.missing.length + v.extra.length === 0
      ? "in sync"
      : `+${v.missing.length} -${v.extra.length}`;
    rows.push([
      String(v.vni),
      v.community,
      v.device,
      v.ifindex === null ? "-" : String(v.ifindex),
      v.online ? "online" : "offline",
      v.localAddress ?? "-",
      String(v.desired.length),
      v.online ? String(v.programmed.length) : "-",
      diff,
    ]);
  }
  out.push(
    status.vnis.length ? table(rows) : "No VNIs (no vxlan device found and none configured).",
  );
  for (const v of status.vnis) {
    if (v.evpn) {
      const t3 = v.evpn.type3;
      out.push(
        "",
        `VNI ${v.vni} EVPN: RD ${v.evpn.rd ?? "-"}, RT ${v.evpn.routeTargets.join(" ") || "-"}, ` +
          `our Type 3 ${t3 ? `${t3.route} ${t3.state}` : "none (offline)"}`,
      );
    }
    if (!v.online) continue;
    // Where each VTEP comes from matters once there are two kinds (EVPN mode).
    const kinds = status.node.routes?.includes("evpn") ? v.remoteVteps ?? [] : [];
    const via = new Map(kinds.map((r) => [r.vtep, r.via.join("+")]));
    out.push("", `${v.device} flood entries (bridge fdb show dev ${v.device}):`);
    const missing = new Set(v.missing);
    const extra = new Set(v.extra);
    const all = [...new Set([...v.programmed, ...v.missing])].sort(byAddress);
    if (all.length === 0) out.push("  (none)");
    for (const dst of all) {
      const mark = missing.has(dst)
        ? status.dryRun ? "would add" : "missing, pending"
        : extra.has(dst)
        ? status.dryRun ? "would remove" : "stale, pending removal"
        : "ok";
      const from = via.get(dst);
      out.push(`  ${FLOOD_MAC} dst ${dst.padEnd(15)}  ${mark}${from ? `  (${from})` : ""}`);
    }
    if (v.lastError) out.push(`  last error ${v.lastError.at}: ${v.lastError.message}`);
    if (v.macIp) out.push(...macIpLines(v.device, v.macIp, status.dryRun));
  }
  for (const v of status.vnis) {
    if ((v.familyMismatch ?? []).length === 0) continue;
    const other = status.node.addressFamily === "ipv6" ? "IPv4" : "IPv6";
    out.push(
      "",
      `VNI ${v.vni}: members not reachable from this VTEP (${other}, family_mismatch; ` +
        `a vxlan device has one address family):`,
      ...v.familyMismatch.map((vtep) => `  ${vtep}`),
    );
  }
  return out.join("\n") + "\n";
}

/** A VNI's Type 2 side: our routes, then remote MACs and neighbours with their state. */
function macIpLines(device: string, m: MacIpStatus, dryRun: boolean): string[] {
  const out = ["", `${device} our Type 2 routes: ${m.ownRoutes.join(", ") || "none"}`];
  const section = (title: string, e: EntriesStatus, line: (key: string) => string) => {
    out.push(`${device} ${title}${e.userHeld ? ` (${e.userHeld} held by user entries)` : ""}:`);
    const missing = new Set(e.missing);
    const extra = new Set(e.extra);
    const all = [...new Set([...e.programmed, ...e.missing])].sort();
    if (all.length === 0) out.push("  (none)");
    for (const key of all) {
      const mark = missing.has(key)
        ? dryRun ? "would add" : "missing, pending"
        : extra.has(key)
        ? dryRun ? "would remove" : "stale, pending removal"
        : "ok";
      out.push(`  ${line(key)}  ${mark}`);
    }
  };
  section("remote MACs (bridge fdb)", m.remoteMacs, (key) => {
    const [mac, vtep] = key.split(" ");
    return `${mac} dst ${vtep}`;
  });
  section("remote neighbours (ip neigh)", m.neighbours, (key) => {
    const [ip, mac] = key.split(" ");
    return `${ip} lladdr ${mac}`;
  });
  return out;
}

/**
 * Where `status` asks an agent that listens on `listen` (its `http.listen`):
 * there, or on loopback when it listens on every address (`0.0.0.0`, `[::]`).
 */
export function listenToStatusAddr(listen: HostPort): HostPort {
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon);
  const loopback = host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host;
  return `${loopback}${listen.slice(colon)}` as HostPort;
}

/** The innermost reason in `error`'s cause chain, in words. */
function _reason(error: unknown, timeoutMs: number): string {
  const messages: string[] = [];
  for (let e: unknown = error; e !== undefined && e !== null; e = (e as Error).cause) {
    if (e instanceof DOMException && e.name === "TimeoutError") {
      return `no answer within ${timeoutMs / 1000} s`;
    }
    messages.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  // Deno's fetch says only "fetch failed"; the OS reason is in the cause's text.
  if (messages.some((m) => /connection refused/i.test(m))) return "connection refused";
  return messages.at(-1) ?? "unknown error";
}

/**
 * Fetches `/status` from `addr` (`host:port`).
 *
 * @throws {Error} `GET http://<addr>/status: <reason>` when the agent cannot
 * be reached ("connection refused", "no answer within 5 s", or the OS
 * reason), or `... answered <code>` for a status other than 2xx.
 */
export async function fetchStatus(addr: string, timeoutMs = 5_000): Promise<AgentStatus> {
  const url = `http://${addr}/status`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new Error(`GET ${url}: ${_reason(error, timeoutMs)}`, { cause: error });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url} answered ${response.status}`);
  }
  return await response.json() as AgentStatus;
}
