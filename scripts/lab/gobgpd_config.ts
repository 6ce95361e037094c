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
}

/** The hub: a route reflector that accepts any peer in `dynamicPrefix`. */
export interface HubOptions extends CommonOptions {
  role: "hub";
  /** IPv4 prefix whose peers are accepted as dynamic neighbours, e.g. "192.0.2.0/24". */
  dynamicPrefix: string;
  /** Name of the peer-group of route-reflector clients. @default "spokes" */
  peerGroup?: string;
  /** Route-reflector cluster id (IPv4 dotted quad). @default routerId */
  clusterId?: string;
}

/** A spoke: one static iBGP neighbour per hub (redundant route reflectors: several). */
export interface SpokeOptions extends CommonOptions {
  role: "spoke";
  /** The hub's address, or the addresses of several hubs (one `[[neighbors]]` each). */
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

function checkPrefix(key: string, value: string): string {
  const [addr, len, ...rest] = value.split("/");
  const n = Number(len);
  if (
    addr === undefined || rest.length > 0 || !IPV4.test(addr) || len === undefined ||
    !/^\d{1,2}$/.test(len) || n > 32
  ) {
    throw new TypeError(`Cannot render gobgpd config: ${key} "${value}" is not an IPv4 prefix`);
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

function afiSafis(table: string, families: AfiSafiName[]): string[] {
  if (families.length === 0) {
    throw new RangeError("Cannot render gobgpd config: families must not be empty");
  }
  return families.flatMap((f) => [
    `  [[${table}.afi-safis]]`,
    `    [${table}.afi-safis.config]`,
    `      afi-safi-name = ${str(f)}`,
  ]);
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
      ...afiSafis("peer-groups", families),
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
        `    neighbor-address = ${str(checkIpv4("hub", address))}`,
        `    peer-as = ${asn}`,
        "  [neighbors.timers.config]",
        `    connect-retry = ${retry}`,
        ...afiSafis("neighbors", families),
      );
    });
  }
  return lines.join("\n") + "\n";
}
