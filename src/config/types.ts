/**
 * The resolved configuration: every field set, defaults applied once.
 * What users write is described by the schema in `schema.ts`. Values are
 * parsed once, into the leaf types of `net/`: nothing downstream parses a
 * configuration string again.
 *
 * @module
 */
import type { Community, CommunityFormat } from "../net/community.ts";
import type { HostPort } from "../net/host_port.ts";
import type { IpAddress } from "../net/ip.ts";
import type { RouteDistinguisher } from "../net/route_distinguisher.ts";
import type { RouteTarget } from "../net/route_target.ts";
import type { ConfigIssue } from "./errors.ts";

/** Log levels accepted in `logLevel` and `--log-level`. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** The accepted log levels in words, alias included, for messages. */
export const LOG_LEVEL_CHOICES = "debug, info, warning (or warn), error";

/** `text` as a log level (`warn` is `warning`), or `undefined` when it is none. */
export function parseLogLevel(text: string): LogLevel | undefined {
  const level = text === "warn" ? "warning" : text;
  return (LOG_LEVELS as readonly string[]).includes(level) ? level as LogLevel : undefined;
}

/** One statically configured VNI. */
export interface VniConfig {
  /** VXLAN network identifier, 1..16777215. */
  id: number;
  /** The BGP community (`ASN:VALUE` or large `A:B:C` in the file). */
  community: Community;
  /** Kernel device name. @default `vxlan<id>` */
  device: string;
  /** Underlay device for auto-created links; undefined = `node.localInterface`. */
  underlayInterface: string | undefined;
  /**
   * EVPN route targets: exported on our routes, imported from any of them.
   * @default `[<communityAsn>:<id>]`; empty only in community-only mode
   * without `communityAsn`
   */
  routeTargets: RouteTarget[];
  /** EVPN route distinguisher; undefined = type 1 `<localAddress>:<id mod 65536>`. */
  rd: RouteDistinguisher | undefined;
}

/** `gobgp.tls`: PEM file paths, and the name gobgpd's certificate must carry. */
export interface TlsConfig {
  caFile: string;
  /** With `keyFile`: a client certificate. */
  certFile: string | undefined;
  keyFile: string | undefined;
  /** undefined = the host of `gobgp.address`. */
  serverName: string | undefined;
}

/** Underlay address families accepted in `node.addressFamily`. */
export const ADDRESS_FAMILIES = ["ipv4", "ipv6"] as const;
export type AddressFamily = typeof ADDRESS_FAMILIES[number];
/** Which routes the agent advertises and reads (`mode` in the file). */
export interface ModeConfig {
  /** IPv4 /32 membership routes tagged with the VNI's community (the seed's convention). */
  community: boolean;
  /** Standard EVPN (RFC 7432 / 8365): Type 3 (and Type 2) routes with route targets. */
  evpn: boolean;
}

/** The values of `mode`. */
export const MODES = ["community", "evpn"] as const;
export type Mode = typeof MODES[number];

/** Log line formats accepted in `logFormat`. */
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = typeof LOG_FORMATS[number];

export interface ResolvedConfig {
  /** @default community only */
  mode: ModeConfig;
  logLevel: LogLevel;
  /** @default "text" */
  logFormat: LogFormat;
  advertiseSelf: boolean;
  /** ASN for derived communities (`ASN:VNI`, `ASN:0:VNI`); undefined when not set. */
  communityAsn: number | undefined;
  /** How communities are derived from `communityAsn`. @default "auto" */
  communityFormat: CommunityFormat;
  gobgp: {
    /** `host:port` of gobgpd's gRPC API. @default "127.0.0.1:50051" */
    address: HostPort;
    /** Per-call deadline in milliseconds. @default 5000 */
    timeoutMs: number;
    /** Cap of the reconnect backoff, in milliseconds. @default 10000 */
    reconnectMaxMs: number;
    /**
     * Longest time flood entries missing from a restarted gobgpd's first table
     * are kept while its sessions come back, in ms. @default 20000
     */
    restartHoldMs: number;
    /** Community mode: a withdrawn route's flood entry is removed this much later, in ms. @default 500 */
    withdrawDelayMs: number;
    /** TLS to gobgpd's API; undefined = plaintext. */
    tls: TlsConfig | undefined;
  };
  http: {
    /** `host:port` of the metrics/health/status endpoint; "" disables it. @default "127.0.0.1:9469" */
    listen: HostPort | "";
  };
  /** Safety-net full resync of kernel state, in milliseconds; 0 = off. @default 300000 */
  resyncIntervalMs: number;
  node: {
    /** @default "eth0" */
    localInterface: string;
    /**
     * The node's VTEP address: `localAddress` if set, else the first address
     * of `addressFamily` on `localInterface` (IPv6: the first global one).
     */
    localAddress: IpAddress;
    /** The family of `localAddress`. @default "ipv4" */
    addressFamily: AddressFamily;
    /** IPv4 administrator of default EVPN RDs; "" = `localAddress`. @default "" */
    routerId: IpAddress | "";
    /** @default 4789 */
    vxlanPort: number;
    /** @default false */
    skipLinkCleanup: boolean;
    /** @default false */
    autoRecreateVxlan: boolean;
  };
  /** Static VNIs; empty means "discover from the kernel with `communityAsn`". */
  vnis: VniConfig[];
  /** What was accepted but deserves a word (logged at start, printed by check-config). */
  warnings: ConfigIssue[];
}

/**
 * A configuration checked for another host (`check-config --offline`):
 * like {@linkcode ResolvedConfig}, but `node.localAddress` is `""` when the
 * file leaves it to `node.localInterface` on the host that runs it.
 */
export type CheckedConfig = Omit<ResolvedConfig, "node"> & {
  node: Omit<ResolvedConfig["node"], "localAddress"> & { localAddress: IpAddress | "" };
};
