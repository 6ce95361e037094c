/**
 * Renders gobgpd 3.10 TOML configuration for the lab's hub-spoke topology.
 * Pure: options in, TOML text out. The syntax follows GoBGP's own docs
 * (`configuration.md`, `route-reflector.md`, `peer-group.md`,
 * `dynamic-neighbor.md`, shipped in Debian's gobgpd package) and is checked
 * against `gobgpd --dry-run` in `gobgpd_config_test.ts`.
 *
 * @module
 */

/** Address families the lab's sessions may carry (GoBGP's `afi-safi-name`). */
export type AfiSafiName = "ipv4-unicast" | "ipv6-unicast" | "l2vpn-evpn";

interface CommonOptions {
  /** Local (and, since the lab is iBGP, peer) AS number, 1..4294967295. */
  asn: number;
  /** BGP router id: an IPv4 address, by convention the node's underlay address. */
  routerId: string;
  /** @default ["ipv4-unicast"] */
  families?: AfiSafiName[];
  /**
   * BGP graceful restart (RFC 4724) towards the neighbours: peers keep this
   * node's routes as stale for `restartTime` seconds while its gobgpd
   * restarts (start the restarting gobgpd with `-r`), and this node keeps
   * theirs. `notification-enabled` (RFC 8538) is set too: gobgpd sends a
   * Cease NOTIFICATION when it stops, and without it peers treat that as a
   * hard end of the session and withdraw at once. @default off
   */
  gracefulRestart?: { restartTime: number };
}

/** The hub: a route reflector that accepts any peer in `dynamicPrefix`. */
export interface HubOptions extends CommonOptions {
  role: "hub";
  /** Prefix whose peers are accepted as dynamic neighbours, e.g. "192.0.2.0/24" or "2001:db8::/64". */
  dynamicPrefix: string;
  /** Name of the peer-group of route-reflector clients. @default "spokes" */
  peerGroup?: string;
  /** Route-reflector cluster id (IPv4 dotted quad). @default routerId */
  clusterId?: string;
}

/** A spoke: one static iBGP neighbour per hub (redundant route reflectors: several). */
export interface SpokeOptions extends CommonOptions {
  role: "spoke";
  /** The hub's address, or the addresses of several hubs (one `[[neighbors]]` each; IPv4 or IPv6: the session's transport). */
  hub: string | readonly string[];
  /**
   * Seconds between connection attempts after the first one. gobgpd's own
   * default is 120 s, far too slow for a lab whose hub may restart. (It does
   * not shorten gobgpd's initial 5–9 s wait before the first attempt.)
   * @default 5
   */
  connectRetry?: number;
}

export type GobgpdConfigOptions = HubOptions | SpokeOptions;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function checkIpv4(key: string, value: string): string {
  if (!IPV4.test(value)) {
    throw new TypeError(`Cannot render gobgpd config: ${key} "${value}" is not an IPv4 address`);
  }
  return value;
}

/** IPv6 text as GoBGP parses it: hex groups and colons (a loose check; gobgpd checks fully). */
const IPV6 = /^(?=.*:)[0-9a-f:]{2,39}$/i;

function checkIp(key: string, value: string): string {
  if (!IPV4.test(value) && !IPV6.test(value)) {
    throw new TypeError(`Cannot render gobgpd config: ${key} "${value}" is not an IP address`);
  }
  return value;
}

function checkPrefix(key: string, value: string): string {
  const [addr, len, ...rest] = value.split("/");
  const n = Number(len);
  const max = addr !== undefined && IPV6.test(addr) ? 128 : 32;
  if (
    addr === undefined || rest.length > 0 || !(IPV4.test(addr) || IPV6.test(addr)) ||
    len === undefined || !/^\d{1,3}$/.test(len) || n > max
  ) {
    throw new TypeError(`Cannot render gobgpd config: ${key} "${value}" is not an IP prefix`);
  }
  return value;
}

function checkAsn(asn: number): number {
  if (!Number.isInteger(asn) || asn < 1 || asn > 0xffff_ffff) {
    throw new RangeError(`Cannot render gobgpd config: asn ${asn} is outside 1..4294967295`);
  }
  return asn;
}

/** A TOML basic string; inputs are validated to plain ASCII first. */
function str(value: string): string {
  return JSON.stringify(value);
}

function afiSafis(table: string, families: AfiSafiName[], gr: boolean): string[] {
  if (families.length === 0) {
    throw new RangeError("Cannot render gobgpd config: families must not be empty");
  }
  return families.flatMap((f) => [
    `  [[${table}.afi-safis]]`,
    `    [${table}.afi-safis.config]`,
    `      afi-safi-name = ${str(f)}`,
    ...(gr ? [`    [${table}.afi-safis.mp-graceful-restart.config]`, `      enabled = true`] : []),
  ]);
}

/** `[<table>.graceful-restart.config]`, or nothing when off. */
function gracefulRestart(table: string, gr: CommonOptions["gracefulRestart"]): string[] {
  if (gr === undefined) return [];
  const time = gr.restartTime;
  // The capability carries the restart time in 12 bits.
  if (!Number.isInteger(time) || time < 1 || time > 4095) {
    throw new RangeError(
      `Cannot render gobgpd config: gracefulRestart.restartTime ${time} is outside 1..4095`,
    );
  }
  return [
    `  [${table}.graceful-restart.config]`,
    "    enabled = true",
    `    restart-time = ${time}`,
    "    notification-enabled = true",
  ];
}

/**
 * Renders a gobgpd TOML config.
 *
 * Hub: `[global.config]`, one `[[peer-groups]]` (same AS, route-reflector
 * clients with a cluster id) and one `[[dynamic-neighbors]]` bound to it, so
 * spokes need no per-spoke line on the hub (gobgpd is passive towards them).
 * Spoke: `[global.config]` and one `[[neighbors]]` entry for the hub.
 *
 * @throws {TypeError} an address or name is malformed
 * @throws {RangeError} the AS number or a timer is out of range
 */
export function renderGobgpdConfig(options: GobgpdConfigOptions): string {
  const asn = checkAsn(options.asn);
  const routerId = checkIpv4("routerId", options.routerId);
  const families = options.families ?? ["ipv4-unicast"];
  const gr = options.gracefulRestart;
  const lines = [
    "# Rendered by scripts/lab/gobgpd_config.ts",
    "[global.config]",
    `  as = ${asn}`,
    `  router-id = ${str(routerId)}`,
    "",
  ];
  if (options.role === "hub") {
    const group = options.peerGroup ?? "spokes";
    if (!NAME.test(group)) {
      throw new TypeError(`Cannot render gobgpd config: peerGroup "${group}" is not a plain name`);
    }
    const clusterId = checkIpv4("clusterId", options.clusterId ?? routerId);
    const prefix = checkPrefix("dynamicPrefix", options.dynamicPrefix);
    lines.push(
      "[[peer-groups]]",
      "  [peer-groups.config]",
      `    peer-group-name = ${str(group)}`,
      `    peer-as = ${asn}`,
      "  [peer-groups.route-reflector.config]",
      "    route-reflector-client = true",
      `    route-reflector-cluster-id = ${str(clusterId)}`,
      ...gracefulRestart("peer-groups", gr),
      ...afiSafis("peer-groups", families, gr !== undefined),
      "",
      "[[dynamic-neighbors]]",
      "  [dynamic-neighbors.config]",
      `    prefix = ${str(prefix)}`,
      `    peer-group = ${str(group)}`,
    );
  } else {
    const hubs = typeof options.hub === "string" ? [options.hub] : options.hub;
    if (hubs.length === 0) {
      throw new RangeError("Cannot render gobgpd config: hub must not be empty");
    }
    const retry = options.connectRetry ?? 5;
    if (!Number.isInteger(retry) || retry < 1 || retry > 65535) {
      throw new RangeError(
        `Cannot render gobgpd config: connectRetry ${retry} is outside 1..65535`,
      );
    }
    hubs.forEach((address, i) => {
      if (i > 0) lines.push("");
      lines.push(
        "[[neighbors]]",
        "  [neighbors.config]",
        `    neighbor-address = ${str(checkIp("hub", address))}`,
        `    peer-as = ${asn}`,
        "  [neighbors.timers.config]",
        `    connect-retry = ${retry}`,
        ...gracefulRestart("neighbors", gr),
        ...afiSafis("neighbors", families, gr !== undefined),
      );
    });
  }
  return lines.join("\n") + "\n";
}
