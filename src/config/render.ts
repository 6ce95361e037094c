/**
 * The resolved configuration written back in the keys users write, with
 * every default filled in (for `evpn-agent check-config`). Durations become
 * Go duration strings again.
 *
 * @module
 */
import { formatCommunity } from "../net/community.ts";
import { formatRouteDistinguisher } from "../net/route_distinguisher.ts";
import { formatRouteTarget } from "../net/route_target.ts";
import type { CheckedConfig, TlsConfig } from "./types.ts";
import type { UserConfig, UserTlsConfig } from "./schema.ts";

/** Formats milliseconds as a Go duration: 300000 → "5m", 1500 → "1.5s", 0 → "0". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  const units: [string, number][] = [["h", 3_600_000], ["m", 60_000], ["s", 1_000]];
  let rest = ms;
  let out = "";
  for (const [unit, size] of units) {
    if (rest >= size && (unit !== "s" || rest % 1 === 0)) {
      const n = unit === "s" ? rest / size : Math.floor(rest / size);
      out += `${n}${unit}`;
      rest -= unit === "s" ? rest : Math.floor(rest / size) * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}

/**
 * The user-facing form of `config` (what a file with every key set would
 * say); a resolved configuration is a checked one.
 */
export function toUserConfig(config: CheckedConfig): UserConfig {
  const modes = [
    ...(config.mode.community ? ["community"] : []),
    ...(config.mode.evpn ? ["evpn"] : []),
  ];
  return {
    mode: modes.length === 1 ? modes[0] : modes,
    logLevel: config.logLevel,
    logFormat: config.logFormat,
    advertiseSelf: config.advertiseSelf,
    ...(config.communityAsn !== undefined ? { communityAsn: config.communityAsn } : {}),
    communityFormat: config.communityFormat,
    resyncInterval: formatDuration(config.resyncIntervalMs),
    http: { listen: config.http.listen },
    gobgp: {
      address: config.gobgp.address,
      timeout: formatDuration(config.gobgp.timeoutMs),
      reconnectMaxDelay: formatDuration(config.gobgp.reconnectMaxMs),
      restartHoldTime: formatDuration(config.gobgp.restartHoldMs),
      withdrawDelay: formatDuration(config.gobgp.withdrawDelayMs),
      ...(config.gobgp.tls ? { tls: _userTls(config.gobgp.tls) } : {}),
    },
    node: { ...config.node },
    vnis: config.vnis.map((v) => ({
      id: v.id,
      community: formatCommunity(v.community),
      device: v.device,
      ...(v.underlayInterface !== undefined ? { underlayInterface: v.underlayInterface } : {}),
      // Route targets matter in EVPN mode only (elsewhere they are a warning).
      ...(!config.mode.evpn
        ? {}
        : v.routeTargets.length === 1
        ? { routeTarget: formatRouteTarget(v.routeTargets[0]!) }
        : v.routeTargets.length > 1
        ? { routeTarget: v.routeTargets.map(formatRouteTarget) }
        : {}),
      ...(v.rd !== undefined ? { rd: formatRouteDistinguisher(v.rd) } : {}),
    })),
  };
}

function _userTls(tls: TlsConfig): UserTlsConfig {
  return {
    caFile: tls.caFile,
    ...(tls.certFile !== undefined ? { certFile: tls.certFile } : {}),
    ...(tls.keyFile !== undefined ? { keyFile: tls.keyFile } : {}),
    ...(tls.serverName !== undefined ? { serverName: tls.serverName } : {}),
  };
}
