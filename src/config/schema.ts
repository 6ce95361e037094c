/**
 * What users write ({@linkcode UserConfig}, checked by
 * {@linkcode UserConfigSchema}) and how it becomes a
 * {@linkcode ResolvedConfig}: defaults applied once, every rule checked,
 * every issue reported. Pure: the only outside knowledge comes through
 * {@linkcode ConfigEnv}.
 *
 * @module
 */

import { z } from "zod";
import {
  type Community,
  type CommunityFormat,
  formatCommunity,
  parseCommunity,
  vniCommunity,
} from "../net/community.ts";
import { type HostPort, parseHostPort } from "../net/host_port.ts";
import { type IpAddress, ipFamily, parseIp, vtepProblem } from "../net/ip.ts";
import {
  defaultRdNumber,
  formatRouteDistinguisher,
  parseRouteDistinguisher,
  type RouteDistinguisher,
} from "../net/route_distinguisher.ts";
import {
  defaultRouteTarget,
  formatRouteTarget,
  parseRouteTarget,
  type RouteTarget,
  routeTargetKey,
} from "../net/route_target.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { closest } from "./suggest.ts";
import {
  ADDRESS_FAMILIES,
  type AddressFamily,
  type CheckedConfig,
  LOG_FORMATS,
  LOG_LEVEL_CHOICES,
  type LogFormat,
  type LogLevel,
  type Mode,
  type ModeConfig,
  MODES,
  parseLogLevel,
  type ResolvedConfig,
  type TlsConfig,
  type VniConfig,
} from "./types.ts";

/** What the resolver may ask about the machine it runs on. */
export interface ConfigEnv {
  /**
   * The addresses (IPv4 and IPv6, as text) of interface `name`, first one preferred;
   * `undefined` when there is no such interface; `null` when this machine
   * cannot tell because the file is meant for another host (the address is
   * then left to that host: see {@linkcode resolveConfigOffline}).
   */
  interfaceAddresses(name: string): string[] | undefined | null;
  /**
   * Problems with the files of `gobgp.tls` (missing, unreadable, not PEM, a
   * key that is not the certificate's), one issue per key. Absent: the files
   * are not read (a file for another host, unit tests).
   */
  tlsFileIssues?(tls: TlsConfig): ConfigIssue[];
}

/** The environment of a file checked for another host: no interface is known. */
export const OFFLINE_ENV: ConfigEnv = { interfaceAddresses: () => null };

/** The largest VXLAN network identifier (24 bits). */
export const MAX_VNI = 16_777_215;
/** @default "127.0.0.1:50051" */
export const DEFAULT_GOBGP_ADDRESS = "127.0.0.1:50051" as HostPort;
/** @default 5000 (milliseconds, written as "5s") */
export const DEFAULT_GOBGP_TIMEOUT_MS = 5_000;
/** @default 10000 (milliseconds, written as "10s") */
export const DEFAULT_RECONNECT_MAX_MS = 10_000;
/** @default 20000 (milliseconds, written as "20s") */
export const DEFAULT_RESTART_HOLD_MS = 20_000;
/** @default 500 (milliseconds, written as "500ms") */
export const DEFAULT_WITHDRAW_DELAY_MS = 500;
/** @default "127.0.0.1:9469" */
export const DEFAULT_HTTP_LISTEN = "127.0.0.1:9469" as HostPort;
/** @default 300000 (milliseconds, written as "5m") */
export const DEFAULT_RESYNC_INTERVAL_MS = 300_000;
/** @default "eth0" */
export const DEFAULT_LOCAL_INTERFACE = "eth0";
/** @default 4789 (the IANA VXLAN port) */
export const DEFAULT_VXLAN_PORT = 4789;

const _MAX_TIMEOUT_MS = 24 * 3_600_000;

/** "Not set": a key that is absent, or present with no value (`key:` in YAML). */
type Unset = null | undefined;

/** One static VNI, as written under `vnis`. */
export interface UserVniConfig {
  /** VXLAN network identifier, an integer in 1..16777215. Required. */
  id: number;
  /**
   * BGP community: standard `ASN:VALUE` (both parts 0..65535) or large
   * `GLOBAL:LOCAL1:LOCAL2` (RFC 8092, each part 0..4294967295).
   * @default `<communityAsn>:<id>`, or `<communityAsn>:0:<id>` above 65535 or with `communityFormat: large`
   */
  community?: string | Unset;
  /**
   * Kernel device name: 1..15 characters, no "/", ":" or whitespace.
   * @default `vxlan<id>`
   */
  device?: string | Unset;
  /** Underlay device for auto-created links. @default `node.localInterface` */
  underlayInterface?: string | Unset;
  /**
   * EVPN route target(s), `ASN:N` (2- or 4-octet ASN) or `IPv4:N`; a list
   * imports from each and exports all.
   * @default `<communityAsn>:<id>` (FRR's auto-RT under a two-octet AS)
   */
  routeTarget?: string | string[] | Unset;
  /** EVPN route distinguisher `IPv4:N`, `ASN:N`. @default `<localAddress>:<id mod 65536>` */
  rd?: string | Unset;
}

/** The `gobgp` section. */
export interface UserGobgpConfig {
  /** `host:port` of gobgpd's gRPC API; IPv6 hosts in brackets. @default "127.0.0.1:50051" */
  address?: string | Unset;
  /** Per-call deadline as a Go duration ("5s", "500ms", "1m30s"); above 0, at most 24h. @default "5s" */
  timeout?: string | Unset;
  /** Cap of the reconnect backoff after gobgpd is lost (a Go duration). @default "10s" */
  reconnectMaxDelay?: string | Unset;
  /** TLS to gobgpd's API (gobgpd `--tls`); absent = plaintext. */
  tls?: UserTlsConfig | Unset;
  /**
   * When gobgpd's first table was taken before all its BGP sessions were up
   * (gobgpd restarted), flood entries missing from it are kept until the
   * sessions are up and updates settle, but at most this long; "0" removes
   * them at once.
   * @default "20s"
   */
  restartHoldTime?: string | Unset;
  /**
   * How long a withdrawn route's flood entry stays before it is removed
   * (community mode): a gobgpd that is stopped withdraws everything just
   * before its sessions and API close, and this turns that into a hold. "0"
   * removes at once; at most 10s.
   * @default "500ms"
   */
  withdrawDelay?: string | Unset;
}

/** The `gobgp.tls` section: files are PEM, read at start, on SIGHUP and on reconnect. */
export interface UserTlsConfig {
  /** CA certificate(s) that gobgpd's certificate must chain to. Required. */
  caFile: string;
  /** Client certificate, with `keyFile` (gobgpd 3.10 does not ask for one). @default none */
  certFile?: string | Unset;
  /** The client certificate's private key, with `certFile`. @default none */
  keyFile?: string | Unset;
  /** Name gobgpd's certificate must carry. @default the host of `gobgp.address` */
  serverName?: string | Unset;
}

/** The `http` section. */
export interface UserHttpConfig {
  /**
   * `host:port` for /metrics, /healthz, /readyz and /status; "" disables the
   * endpoint. Anything but loopback must be chosen explicitly.
   * @default "127.0.0.1:9469"
   */
  listen?: string | Unset;
}

/** The `node` section. */
export interface UserNodeConfig {
  /**
   * Interface whose first address of `addressFamily` (IPv6: the first
   * usable global one) is the VTEP address when `localAddress` is empty.
   * @default "eth0"
   */
  localInterface?: string | Unset;
  /** The VTEP address (IPv4 or IPv6); "" = take it from `localInterface`. @default "" */
  localAddress?: string | Unset;
  /**
   * The underlay's address family, `ipv4` or `ipv6`: the VTEP address, the
   * membership route (IPv4 /32 or IPv6 /128) and every flood entry's `dst`
   * are of this family.
   * @default the family of `localAddress` when set, else "ipv4"
   */
  addressFamily?: string | Unset;
  /**
   * An IPv4 address that names this node in EVPN route distinguishers
   * (type 1, `<routerId>:<n>`, as FRR uses its router id); "" = the VTEP
   * address. Required in EVPN mode with an IPv6 VTEP.
   * @default ""
   */
  routerId?: string | Unset;
  /** VXLAN UDP port, 1..65535. @default 4789 */
  vxlanPort?: number | Unset;
  /** Keep the VXLAN links the agent created when it exits. @default false */
  skipLinkCleanup?: boolean | Unset;
  /** Re-create a managed VXLAN link when someone deletes it. @default false */
  autoRecreateVxlan?: boolean | Unset;
}

/**
 * The configuration file as users write it: every key optional (but at least
 * one of `vnis` and `communityAsn` is needed), unknown keys refused.
 */
export interface UserConfig {
  /** `community`, `evpn`, or both as a list (a migration). @default "community" */
  mode?: string | string[] | Unset;
  /** One of debug, info, warning (alias: warn), error. @default "info" */
  logLevel?: string | Unset;
  /** `text` (one readable line per event) or `json` (JSON Lines). @default "text" */
  logFormat?: string | Unset;
  /** Full resync of kernel state as a safety net (a Go duration); "0" = off. @default "5m" */
  resyncInterval?: string | Unset;
  http?: UserHttpConfig | Unset;
  /** Announce this node's VTEP /32 with each VNI's community. @default true */
  advertiseSelf?: boolean | Unset;
  /**
   * ASN for communities derived as `ASN:VNI` (or `ASN:0:VNI`, see
   * `communityFormat`): for static VNIs without a community, and for VNIs
   * discovered from the kernel. 0..65535; up to 4294967295 with
   * `communityFormat: large`.
   */
  communityAsn?: number | Unset;
  /**
   * How communities are derived from `communityAsn`: `auto` = standard
   * `ASN:VNI` up to VNI 65535, large `ASN:0:VNI` above; `large` = `ASN:0:VNI`
   * for every VNI. @default "auto"
   */
  communityFormat?: string | Unset;
  gobgp?: UserGobgpConfig | Unset;
  node?: UserNodeConfig | Unset;
  /** Static VNIs; absent or empty = discover VNIs from the kernel (needs `communityAsn`). */
  vnis?: UserVniConfig[] | Unset;
}

// ---------------------------------------------------------------------------
// Value parsers (pure, exported for reuse and tests)

const _UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3, // U+00B5 micro sign
  "μs": 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go `time.ParseDuration` string ("300ms", "1.5h", "1m30s", "-2s",
 * "0") into milliseconds. Returns `undefined` when `text` is not one.
 */
export function parseDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest.startsWith("-")) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  while (part.lastIndex < rest.length) {
    const match = part.exec(rest);
    if (match === null) return undefined;
    total += Number(match[1]) * (_UNIT_MS[match[2] ?? ""] ?? NaN);
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/** Why `name` is not a valid Linux interface name, or `undefined` when it is. */
export function ifNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > 15) return `is ${bytes} bytes long (at most 15)`;
  if (name === "." || name === "..") return `"." and ".." are reserved`;
  if (name.includes("/")) return `contains "/"`;
  if (name.includes(":")) return `contains ":"`;
  if (/\s/.test(name)) return "contains whitespace";
  return undefined;
}

// ---------------------------------------------------------------------------
// The schema

function _quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

function _describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return `string ${_quote(value)}`;
    case "number":
    case "bigint":
      return `number ${value}`;
    case "boolean":
      return `boolean ${value}`;
  }
  if (Array.isArray(value)) return "a list";
  if (value instanceof Uint8Array) return "binary data";
  if (value instanceof Set) return "a set";
  if (value instanceof Date) return "a timestamp";
  if (typeof value === "object") return "a mapping";
  return typeof value;
}

/** The error for a value of the wrong type; other issues keep their own message. */
function _expect(what: string) {
  return (issue: { code?: string; input?: unknown }): string | undefined => {
    if (issue.code !== "invalid_type") return undefined;
    return issue.input === undefined
      ? `required: expected ${what}`
      : `expected ${what}, got ${_describe(issue.input)}`;
  };
}

function _intIn(low: number, high: number, noun = "") {
  return z.int({ error: _expect("an integer") }).refine((n) => n >= low && n <= high, {
    error: (issue) => `${noun}${String(issue.input)} is outside ${low}..${high}`,
  });
}

type _Parsed<T> = { value: T } | { problem: string };

/** A string checked and converted by `parse`, whose `problem` becomes the issue. */
function _stringParsed<T>(what: string, parse: (text: string) => _Parsed<T>) {
  return z.string({ error: _expect(what) }).transform((text, ctx) => {
    const result = parse(text);
    if ("problem" in result) {
      ctx.issues.push({ code: "custom", message: result.problem, input: text });
      return z.NEVER;
    }
    return result.value;
  });
}

const _LogLevel = _stringParsed<LogLevel>("a log level string", (text) => {
  const level = parseLogLevel(text);
  return level !== undefined
    ? { value: level }
    : { problem: `${_quote(text)} is not one of ${LOG_LEVEL_CHOICES}` };
});

const _Bool = z.boolean({ error: _expect("a boolean (true or false)") });

const _Asn = _intIn(0, 0xffff_ffff, "ASN ");

/** @default "auto" */
export const COMMUNITY_FORMATS: readonly CommunityFormat[] = ["auto", "large"];

const _CommunityFormat = _stringParsed<CommunityFormat>(
  "a community format string",
  (text) =>
    (COMMUNITY_FORMATS as readonly string[]).includes(text)
      ? { value: text as CommunityFormat }
      : { problem: `${_quote(text)} is not one of ${COMMUNITY_FORMATS.join(", ")}` },
);

const _Address = _stringParsed<HostPort>(
  'a "host:port" string',
  (text) => parseHostPort(text, DEFAULT_GOBGP_ADDRESS),
);

const _Timeout = _stringParsed<number>('a duration string such as "5s"', (text) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    return { problem: `${_quote(text)} is not a duration such as "5s", "500ms" or "1m30s"` };
  }
  if (!(ms > 0)) return { problem: `${_quote(text)} must be greater than 0` };
  if (ms > _MAX_TIMEOUT_MS) return { problem: `${_quote(text)} is longer than 24h` };
  return { value: ms };
});

const _IfName = _stringParsed<string>("an interface name string", (text) => {
  const problem = ifNameProblem(text);
  return problem === undefined
    ? { value: text }
    : { problem: `${_quote(text)} is not a valid Linux interface name: ${problem}` };
});

const _LocalAddress = _stringParsed<IpAddress | "">(
  'an IP address string or ""',
  (text) => {
    if (text === "") return { value: "" };
    const address = parseIp(text);
    if (address === undefined) {
      return {
        problem: `${_quote(text)} is not an IPv4 or IPv6 address (like 192.0.2.10 or ` +
          `2001:db8::10); leave it "" to use node.localInterface's`,
      };
    }
    const problem = vtepProblem(address);
    if (problem !== undefined) return { problem: `${_quote(text)} cannot be a VTEP: ${problem}` };
    return { value: address };
  },
);

/** A string that must be one of `choices`. */
function _oneOf<T extends string>(what: string, choices: readonly T[]) {
  return _stringParsed<T>(
    what,
    (text) =>
      (choices as readonly string[]).includes(text)
        ? { value: text as T }
        : { problem: `${_quote(text)} is not one of ${choices.join(", ")}` },
  );
}

const _AddressFamily = _oneOf<AddressFamily>("an address family string", ADDRESS_FAMILIES);

const _RouterId = _stringParsed<IpAddress | "">('an IPv4 address string or ""', (text) => {
  const id = text === "" ? "" : parseIp(text);
  return id !== undefined && ipFamily(id || "0.0.0.0") === 4 ? { value: id } : {
    problem: `${_quote(text)} is not an IPv4 address: a route distinguisher's administrator ` +
      `field (type 1) is 4 bytes, as a BGP router id is`,
  };
});

const _VniId = _intIn(1, MAX_VNI, "VNI ");

const _Community = _stringParsed<Community>('an "ASN:VALUE" or "A:B:C" string', (text) => {
  const community = parseCommunity(text);
  return community === undefined
    ? {
      problem: `${
        _quote(text)
      } is neither ASN:VALUE (both parts 0..65535) nor a large community A:B:C (each part 0..4294967295)`,
    }
    : { value: community };
});

const _RouteTarget = _stringParsed<RouteTarget>('an "ASN:N" or "IPv4:N" string', (text) => {
  const rt = parseRouteTarget(text.trim());
  return rt === undefined
    ? {
      problem: `${_quote(text)} is not a route target: ASN:N with a 2-octet ASN and N in ` +
        `0..4294967295, a 4-octet ASN and N in 0..65535, or IPv4:N with N in 0..65535`,
    }
    : { value: rt };
});

/**
 * One `item` or a non-empty list of them, as strings in the file; each
 * element is checked by `item` and its issues keep their list index.
 */
function _oneOrList<T>(what: string, item: z.ZodType<T, string>) {
  return z.union([z.string(), z.array(z.string())], {
    error: (issue) =>
      issue.code === "invalid_union"
        ? `expected ${what} or a list of them, got ${
          Array.isArray(issue.input) ? "a list with a non-string in it" : _describe(issue.input)
        }`
        : undefined,
  }).transform((input, ctx): T[] => {
    const list = Array.isArray(input) ? input : [input];
    if (list.length === 0) {
      ctx.issues.push({ code: "custom", message: `an empty list: give at least one`, input });
      return z.NEVER;
    }
    const out: T[] = [];
    list.forEach((element, i) => {
      const result = item.safeParse(element);
      if (result.success) out.push(result.data);
      else {
        for (const issue of result.error.issues) {
          ctx.issues.push({
            code: "custom",
            message: issue.message,
            input: element,
            path: Array.isArray(input) ? [i, ...issue.path] : issue.path,
          });
        }
      }
    });
    return out;
  });
}

const _RouteTargets = _oneOrList("a route target string", _RouteTarget);

const _Rd = _stringParsed<RouteDistinguisher>('an "IPv4:N" or "ASN:N" string', (text) => {
  const rd = parseRouteDistinguisher(text.trim());
  return rd === undefined
    ? {
      problem: `${_quote(text)} is not a route distinguisher: IPv4:N with N in 0..65535, ` +
        `ASN:N with a 2-octet ASN and N in 0..4294967295, or a 4-octet ASN and N in 0..65535`,
    }
    : { value: rd };
});

const _Vni = z.strictObject({
  id: _VniId,
  community: _Community.nullish(),
  device: _IfName.nullish(),
  underlayInterface: _IfName.nullish(),
  routeTarget: _RouteTargets.nullish(),
  rd: _Rd.nullish(),
}, { error: _expect("a mapping with at least an id") });

const _ModeName = _stringParsed<Mode>(
  "a mode string",
  (text) =>
    (MODES as readonly string[]).includes(text)
      ? { value: text as Mode }
      : { problem: `${_quote(text)} is not one of ${MODES.join(", ")}` },
);

const _Mode = _oneOrList('"community", "evpn"', _ModeName).transform((
  list,
): ModeConfig => ({ community: list.includes("community"), evpn: list.includes("evpn") }));

const _Interval = _stringParsed<number>('a duration string such as "5m", or "0"', (text) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    return { problem: `${_quote(text)} is not a duration such as "5m", "30s" or "0"` };
  }
  if (ms < 0) return { problem: `${_quote(text)} is negative` };
  if (ms > 0 && ms < 1_000) {
    return { problem: `${_quote(text)} is shorter than 1s (use "0" for off)` };
  }
  if (ms > _MAX_TIMEOUT_MS) return { problem: `${_quote(text)} is longer than 24h` };
  return { value: ms };
});

const _Path = _stringParsed<string>(
  "a file path string",
  (text) =>
    text === ""
      ? { problem: "is empty" }
      : text.includes("\0")
      ? { problem: "contains a NUL character" }
      : { value: text },
);

const _Tls = z.strictObject({
  caFile: _Path,
  certFile: _Path.nullish(),
  keyFile: _Path.nullish(),
  serverName: _stringParsed<string>(
    "a host name string",
    (text) =>
      /^[A-Za-z0-9.:_-]{1,253}$/.test(text)
        ? { value: text }
        : { problem: `${_quote(text)} is not a host name or address` },
  ).nullish(),
}, { error: _expect("a mapping with at least caFile") });

const _Gobgp = z.strictObject({
  address: _Address.nullish(),
  timeout: _Timeout.nullish(),
  reconnectMaxDelay: _Timeout.nullish(),
  restartHoldTime: _Interval.nullish(),
  withdrawDelay: _stringParsed<number>('a duration string such as "500ms", or "0"', (text) => {
    const ms = parseDuration(text);
    if (ms === undefined) return { problem: `${_quote(text)} is not a duration such as "500ms"` };
    if (ms < 0) return { problem: `${_quote(text)} is negative` };
    if (ms > 10_000) return { problem: `${_quote(text)} is longer than 10s` };
    return { value: ms };
  }).nullish(),
  tls: _Tls.nullish(),
}, { error: _expect("a mapping") });

const _Http = z.strictObject({
  listen: _stringParsed<HostPort | "">(
    'a "host:port" string or ""',
    (text) => text === "" ? { value: "" } : parseHostPort(text, DEFAULT_GOBGP_ADDRESS),
  ).nullish(),
}, { error: _expect("a mapping") });

const _LogFormat = _oneOf<LogFormat>("a log format string", LOG_FORMATS);

const _Node = z.strictObject({
  localInterface: _IfName.nullish(),
  localAddress: _LocalAddress.nullish(),
  addressFamily: _AddressFamily.nullish(),
  routerId: _RouterId.nullish(),
  vxlanPort: _intIn(1, 65535, "port ").nullish(),
  skipLinkCleanup: _Bool.nullish(),
  autoRecreateVxlan: _Bool.nullish(),
}, { error: _expect("a mapping") });

/**
 * The per-key schema of {@linkcode UserConfig}: types, ranges and formats,
 * unknown keys refused. Rules spanning several keys (duplicates, derived
 * communities, the VTEP address) live in {@linkcode resolveConfig}.
 */
export const UserConfigSchema = z.strictObject({
  logLevel: _LogLevel.nullish(),
  logFormat: _LogFormat.nullish(),
  resyncInterval: _Interval.nullish(),
  http: _Http.nullish(),
  advertiseSelf: _Bool.nullish(),
  communityAsn: _Asn.nullish(),
  communityFormat: _CommunityFormat.nullish(),
  gobgp: _Gobgp.nullish(),
  node: _Node.nullish(),
  vnis: z.array(_Vni, { error: _expect("a list of VNIs") }).nullish(),
  mode: _Mode.nullish(),
}, { error: _expect("a mapping of settings") });

// The documented interface and the schema must describe the same input.
type _Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
const _userConfigMatchesSchema: _Same<UserConfig, z.input<typeof UserConfigSchema>> = true;
void _userConfigMatchesSchema;

// ---------------------------------------------------------------------------
// Unknown keys

const _KNOWN_KEYS: Record<string, readonly string[]> = {
  "": Object.keys(UserConfigSchema.shape),
  gobgp: Object.keys(_Gobgp.shape),
  "gobgp.tls": Object.keys(_Tls.shape),
  http: Object.keys(_Http.shape),
  node: Object.keys(_Node.shape),
  vnis: Object.keys(_Vni.shape),
};

function _section(path: readonly PropertyKey[]): string {
  const names = path.filter((key): key is string => typeof key === "string");
  const joined = names.join(".");
  return joined in _KNOWN_KEYS ? joined : names[0] ?? "";
}

function _unknownKeyMessage(parent: readonly PropertyKey[], key: string): string {
  const section = _section(parent);
  const known = _KNOWN_KEYS[section] ?? [];
  const best = closest(key, known);
  if (best !== undefined) return `unknown key; did you mean ${_quote(best)}?`;
  // A known key written at the wrong level, e.g. `vxlanPort` at the top.
  for (const [other, keys] of Object.entries(_KNOWN_KEYS)) {
    const found = keys.find((k) => k.toLowerCase() === key.toLowerCase());
    if (other !== section && found !== undefined) {
      const where = other === ""
        ? found
        : other === "vnis"
        ? `vnis[].${found}`
        : `${other}.${found}`;
      return `unknown key here; did you mean ${_quote(where)}?`;
    }
  }
  return `unknown key; expected one of: ${known.join(", ")}`;
}

/** Renders a key path as `vnis[1].community`; odd keys as `node["a b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$-]*$/.test(key)) {
      out += out === "" ? key : `.${key}`;
    } else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

const _PATH_PART = /\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;

/**
 * Reads a key path written by {@linkcode formatPath} back into its keys;
 * `undefined` for anything else (`(file)`, `agent.yaml:3:1`).
 */
export function parsePath(text: string): PropertyKey[] | undefined {
  const keys: PropertyKey[] = [];
  _PATH_PART.lastIndex = 0;
  while (_PATH_PART.lastIndex < text.length) {
    const start = _PATH_PART.lastIndex;
    const match = _PATH_PART.exec(text);
    if (match === null) return undefined;
    const [whole, name, index, quoted] = match;
    if (name !== undefined) {
      if (whole.startsWith(".") === (start === 0)) return undefined;
      keys.push(name);
    } else if (index !== undefined) keys.push(Number(index));
    else keys.push(JSON.parse(quoted!) as string);
  }
  return keys;
}

function _fromZod(issue: z.core.$ZodIssue): ConfigIssue[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: _unknownKeyMessage(issue.path, key),
    }));
  }
  return [{ path: formatPath(issue.path), message: issue.message }];
}

// ---------------------------------------------------------------------------
// Rules across keys

const _INVALID = Symbol("invalid");

/** One key parsed on its own: `undefined` when unset, `_INVALID` when refused. */
function _field<T>(schema: z.ZodType<T>, value: unknown): T | undefined | typeof _INVALID {
  if (value === undefined || value === null) return undefined;
  const result = schema.safeParse(value);
  return result.success ? result.data : _INVALID;
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

interface _Derived {
  vnis: VniConfig[];
  localAddress: IpAddress | "";
  addressFamily: AddressFamily;
  warnings: ConfigIssue[];
}

/**
 * Checks the rules that span keys. Each key is re-parsed on its own, so
 * these rules still run (on the keys that are valid) when others are not.
 */
function _crossCheck(
  doc: Record<string, unknown>,
  env: ConfigEnv,
  issues: ConfigIssue[],
): _Derived {
  const refuse = (path: string, message: string) => issues.push({ path, message });
  const warnings: ConfigIssue[] = [];
  let asn = _field(_Asn, doc["communityAsn"]);
  const format = _field(_CommunityFormat, doc["communityFormat"]) ?? "auto";
  if (typeof asn === "number" && asn > 0xffff && format !== "large") {
    refuse(
      "communityAsn",
      `ASN ${asn} is above 65535, which only fits large communities (ASN:0:VNI): ` +
        `set communityFormat: large, or use a 2-byte ASN`,
    );
    asn = _INVALID;
  }
  const parsedMode = _field(_Mode, doc["mode"]);
  const mode = parsedMode === _INVALID || parsedMode === undefined ? DEFAULT_MODE : parsedMode;
  const { localAddress, addressFamily } = _resolveLocalAddress(doc["node"], env, refuse);
  const node = _isRecord(doc["node"]) ? doc["node"] : {};
  const routerId = _field(_RouterId, node["routerId"]);
  if (mode.evpn && addressFamily === "ipv6" && (routerId === undefined || routerId === "")) {
    refuse(
      "node.routerId",
      `required in mode evpn with an IPv6 VTEP: EVPN route distinguishers are ` +
        `<IPv4 address>:<n> (type 1), and an IPv6 address does not fit; set an IPv4 id ` +
        `unique in the fabric (gobgpd's router id, for one)`,
    );
  }
  const vnis: VniConfig[] = [];
  const rdAdmin = routerId !== undefined && routerId !== _INVALID && routerId !== ""
    ? routerId
    : localAddress;
  const evpn = new _EvpnKeys(mode, rdAdmin, refuse, warnings);

  const rawVnis = doc["vnis"];
  if (Array.isArray(rawVnis)) {
    const seenIds = new Map<number, number>();
    const seenCommunities = new Map<Community, number>();
    const seenDevices = new Map<string, number>();
    rawVnis.forEach((entry: unknown, i) => {
      if (!_isRecord(entry)) return;
      const at = (key: string) => `vnis[${i}].${key}`;
      const id = _field(_VniId, entry["id"]);
      let community = _field(_Community, entry["community"]);
      let device = _field(_IfName, entry["device"]);
      const underlay = _field(_IfName, entry["underlayInterface"]);
      const derivedCommunity = community === undefined;
      const derivedDevice = device === undefined;

      // A repeated id repeats its derived community and device: report the id only.
      let repeatedId = false;
      if (typeof id === "number") {
        const first = seenIds.get(id);
        repeatedId = first !== undefined;
        if (first !== undefined) {
          refuse(at("id"), `VNI ${id} is already configured by vnis[${first}]`);
        } else seenIds.set(id, i);

        if (community === undefined && typeof asn === "number") {
          community = vniCommunity(asn, id, format === _INVALID ? "auto" : format);
        } else if (community === undefined && asn === undefined) {
          refuse(
            at("community"),
            `VNI ${id} has no community and communityAsn is not set; set one of them`,
          );
        }
        if (device === undefined) device = `vxlan${id}`;
      }

      if (community !== undefined && community !== _INVALID) {
        const first = seenCommunities.get(community);
        const how = derivedCommunity ? " (derived from communityAsn)" : "";
        if (first !== undefined && !(repeatedId && derivedCommunity)) {
          refuse(
            at("community"),
            `community "${formatCommunity(community)}"${how} is already used by vnis[${first}]`,
          );
        } else if (first === undefined) seenCommunities.set(community, i);
      }
      if (typeof device === "string") {
        const first = seenDevices.get(device);
        const how = derivedDevice ? " (the default for this id)" : "";
        if (first !== undefined && !(repeatedId && derivedDevice)) {
          refuse(at("device"), `device "${device}"${how} is already used by vnis[${first}]`);
        } else if (first === undefined) seenDevices.set(device, i);
      }
      const ids = typeof id === "number" && !repeatedId ? id : undefined;
      const evpnKeys = evpn.check(i, entry, ids, asn);
      if (
        typeof id === "number" && community !== undefined && community !== _INVALID &&
        typeof device === "string" && underlay !== _INVALID && evpnKeys !== undefined
      ) {
        vnis.push({ id, community, device, underlayInterface: underlay, ...evpnKeys });
      }
    });
  }

  const gobgp = doc["gobgp"];
  const tls = _isRecord(gobgp) ? gobgp["tls"] : undefined;
  if (_isRecord(tls) && (tls["certFile"] == null) !== (tls["keyFile"] == null)) {
    const [set, unset] = tls["certFile"] == null
      ? ["keyFile", "certFile"]
      : ["certFile", "keyFile"];
    refuse(
      `gobgp.tls.${unset}`,
      `gobgp.tls.${set} is set but ${unset} is not: a client certificate needs both`,
    );
  }

  const noVnis = rawVnis === undefined || rawVnis === null ||
    (Array.isArray(rawVnis) && rawVnis.length === 0);
  if (noVnis && asn === undefined) {
    refuse(
      "vnis",
      "no static VNIs and no communityAsn: one of them is needed " +
        "(list vnis, or set communityAsn to discover VNIs from the kernel as ASN:VNI)",
    );
  }

  return { vnis, localAddress, addressFamily, warnings };
}

/** The default `mode`: today's community routes only. */
export const DEFAULT_MODE: ModeConfig = { community: true, evpn: false };

/**
 * The EVPN keys of static VNIs (`routeTarget`, `rd`): defaults, and the
 * rules across VNIs (one route target or RD per VNI on this node).
 */
class _EvpnKeys {
  #rts = new Map<string, number>();
  #rds = new Map<string, number>();
  #mode: ModeConfig;
  #local: IpAddress | "";
  #refuse: (path: string, message: string) => void;
  #warnings: ConfigIssue[];

  constructor(
    mode: ModeConfig,
    local: IpAddress | "",
    refuse: (path: string, message: string) => void,
    warnings: ConfigIssue[],
  ) {
    this.#mode = mode;
    this.#local = local;
    this.#refuse = refuse;
    this.#warnings = warnings;
  }

  /**
   * The route targets and RD of `vnis[i]` (`id` undefined when invalid or
   * repeated: nothing is derived then); undefined when refused.
   */
  check(
    i: number,
    entry: Record<string, unknown>,
    id: number | undefined,
    asn: number | undefined | typeof _INVALID,
  ): Pick<VniConfig, "routeTargets" | "rd"> | undefined {
    const at = (key: string) => `vnis[${i}].${key}`;
    const explicitRts = _field(_RouteTargets, entry["routeTarget"]);
    const explicitRd = _field(_Rd, entry["rd"]);
    if (explicitRts === _INVALID || explicitRd === _INVALID) return undefined;
    if (!this.#mode.evpn) {
      for (const key of ["routeTarget", "rd"] as const) {
        if (entry[key] === undefined || entry[key] === null) continue;
        this.#warnings.push({
          path: at(key),
          message: `ignored: mode is community only (add evpn to mode to advertise it)`,
        });
      }
    }
    let routeTargets: RouteTarget[] = explicitRts ?? [];
    if (explicitRts === undefined && id !== undefined) {
      if (typeof asn === "number") routeTargets = [defaultRouteTarget(asn, id)];
      else if (this.#mode.evpn && asn === undefined) {
        this.#refuse(
          at("routeTarget"),
          `VNI ${id} has no routeTarget and communityAsn is not set, so none can be derived ` +
            `(as <communityAsn>:<VNI>); set one of them`,
        );
        return undefined;
      }
    }
    let ok = true;
    if (this.#mode.evpn && id !== undefined) {
      const how = explicitRts === undefined ? " (derived from communityAsn)" : "";
      const seen = new Set<string>();
      for (const rt of routeTargets) {
        const key = routeTargetKey(rt);
        const first = this.#rts.get(key);
        if (first !== undefined) {
          this.#refuse(
            at("routeTarget"),
            `route target "${formatRouteTarget(rt)}"${how} is already used by vnis[${first}]: ` +
              `a received route's VNI is chosen by its route target`,
          );
          ok = false;
        } else if (!seen.has(key)) {
          seen.add(key);
          this.#rts.set(key, i);
        }
      }
      const rdKey = explicitRd !== undefined
        ? _rdKey(explicitRd, this.#local)
        : `auto:${defaultRdNumber(id)}`;
      const first = this.#rds.get(rdKey);
      if (first !== undefined) {
        const shown = explicitRd !== undefined
          ? `"${formatRouteDistinguisher(explicitRd)}"`
          : `"<localAddress>:${defaultRdNumber(id)}" (the default for this id)`;
        this.#refuse(at("rd"), `route distinguisher ${shown} is already used by vnis[${first}]`);
        ok = false;
      } else this.#rds.set(rdKey, i);
    }
    return ok ? { routeTargets, rd: explicitRd } : undefined;
  }
}

/** Explicit RDs of type 1 on this node's own address meet the defaults (`auto:<n>`). */
function _rdKey(rd: RouteDistinguisher, local: IpAddress | ""): string {
  if (rd.kind === "ipv4" && local !== "" && rd.admin === local) return `auto:${rd.assigned}`;
  return `${rd.kind}:${formatRouteDistinguisher(rd)}`;
}

const _FAMILY_NAME = { ipv4: "IPv4", ipv6: "IPv6" } as const;

/**
 * The address family (`node.addressFamily`, else that of a set
 * `node.localAddress`, else IPv4), and `node.localAddress` or else the
 * first usable address of that family on `node.localInterface`.
 */
function _resolveLocalAddress(
  rawNode: unknown,
  env: ConfigEnv,
  refuse: (path: string, message: string) => void,
): { localAddress: IpAddress | ""; addressFamily: AddressFamily } {
  const node = rawNode === undefined || rawNode === null ? {} : rawNode;
  const none = { localAddress: "" as const, addressFamily: "ipv4" as const };
  if (!_isRecord(node)) return none;
  const address = _field(_LocalAddress, node["localAddress"]);
  const given = _field(_AddressFamily, node["addressFamily"]);
  if (given === _INVALID) return none;
  const own = typeof address === "string" && address !== ""
    ? (ipFamily(address) === 6 ? "ipv6" : "ipv4")
    : undefined;
  const addressFamily = given ?? own ?? "ipv4";
  if (own !== undefined) {
    if (own !== addressFamily) {
      refuse(
        "node.localAddress",
        `${_quote(address as string)} is an ${_FAMILY_NAME[own]} address, but ` +
          `node.addressFamily is ${addressFamily}: set an ${_FAMILY_NAME[addressFamily]} ` +
          `address, or node.addressFamily: ${own}`,
      );
      return none;
    }
    return { localAddress: address as IpAddress, addressFamily };
  }
  const name = _field(_IfName, node["localInterface"]) ?? DEFAULT_LOCAL_INTERFACE;
  if (address === _INVALID || name === _INVALID) return none;
  const localAddress = _interfaceAddress(name, node, addressFamily, env, refuse);
  return { localAddress, addressFamily };
}

/** The first address of `family` on interface `name` that can be a VTEP. */
function _interfaceAddress(
  name: string,
  node: Record<string, unknown>,
  family: AddressFamily,
  env: ConfigEnv,
  refuse: (path: string, message: string) => void,
): IpAddress | "" {
  const fam = _FAMILY_NAME[family];

  const which = node["localInterface"] == null ? ` (the default)` : "";
  let addresses: string[] | undefined | null;
  try {
    addresses = env.interfaceAddresses(name);
  } catch (error) {
    refuse(
      "node.localInterface",
      `cannot look up interface "${name}": ${error instanceof Error ? error.message : error}; ` +
        `set node.localAddress`,
    );
    return "";
  }
  if (addresses === null) return ""; // another host's interface: not checked here
  if (addresses === undefined) {
    refuse(
      "node.localInterface",
      `interface "${name}"${which} does not exist, so it has no ${fam} address for the VTEP; ` +
        `set node.localAddress or another node.localInterface`,
    );
    return "";
  }
  // IPv6: link-local, deprecated site-local and the like never qualify
  // (vtepProblem); the first global address does.
  const first = addresses.map((a) => parseIp(a.split("%")[0]!)).find((a) =>
    a !== undefined && (ipFamily(a) === 6) === (family === "ipv6") && vtepProblem(a) === undefined
  );
  if (first === undefined) {
    const what = family === "ipv6" ? "global IPv6" : "IPv4";
    refuse(
      "node.localInterface",
      `interface "${name}"${which} has no ${what} address for the VTEP; set node.localAddress`,
    );
    return "";
  }
  return first;
}

/** `gobgp.tls` with its unset keys as `undefined`. */
function _resolveTls(tls: z.output<typeof _Tls> | Unset): TlsConfig | undefined {
  if (!tls) return undefined;
  return {
    caFile: tls.caFile,
    certFile: tls.certFile ?? undefined,
    keyFile: tls.keyFile ?? undefined,
    serverName: tls.serverName ?? undefined,
  };
}

// ---------------------------------------------------------------------------
// Resolve

/**
 * Checks a parsed configuration document (the result of reading YAML or
 * JSON) and applies the defaults, once.
 *
 * `null`/`undefined` (an empty document) is read as `{}` and refused,
 * since one of `vnis` and `communityAsn` is needed.
 *
 * @throws {ConfigError} listing every issue found, each with its key path.
 */
export function resolveConfig(raw: unknown, env: ConfigEnv): ResolvedConfig {
  const config = _resolve(raw, env);
  const tls = config.gobgp.tls;
  const tlsIssues = tls && env.tlsFileIssues ? env.tlsFileIssues(tls) : [];
  if (tlsIssues.length > 0) throw new ConfigError(tlsIssues);
  const { localAddress } = config.node;
  if (localAddress === "") {
    // Only an env that answers null leaves it empty without an issue.
    throw new ConfigError([{
      path: "node.localInterface",
      message: `interface "${config.node.localInterface}" cannot be looked up on this host; ` +
        `set node.localAddress`,
    }]);
  }
  return { ...config, node: { ...config.node, localAddress } };
}

/**
 * Like {@linkcode resolveConfig}, for a file meant for another host
 * (`check-config --offline`): every rule is checked except those that read
 * this host's interfaces, and a VTEP address to be taken from
 * `node.localInterface` stays `""`.
 *
 * @throws {ConfigError} listing every issue found, each with its key path.
 */
export function resolveConfigOffline(raw: unknown): CheckedConfig {
  return _resolve(raw, OFFLINE_ENV);
}

function _resolve(raw: unknown, env: ConfigEnv): CheckedConfig {
  const input = raw ?? {};
  const parsed = UserConfigSchema.safeParse(input);
  const issues = parsed.success ? [] : parsed.error.issues.flatMap(_fromZod);
  const derived = _isRecord(input) ? _crossCheck(input, env, issues) : undefined;
  // An empty localAddress without an issue: the env could not tell (offline).
  if (!parsed.success || !derived || issues.length > 0) {
    throw new ConfigError(issues);
  }
  const config = parsed.data;
  return {
    mode: config.mode ?? DEFAULT_MODE,
    logLevel: config.logLevel ?? "info",
    logFormat: config.logFormat ?? "text",
    advertiseSelf: config.advertiseSelf ?? true,
    communityAsn: config.communityAsn ?? undefined,
    communityFormat: config.communityFormat ?? "auto",
    gobgp: {
      address: config.gobgp?.address ?? DEFAULT_GOBGP_ADDRESS,
      timeoutMs: config.gobgp?.timeout ?? DEFAULT_GOBGP_TIMEOUT_MS,
      reconnectMaxMs: config.gobgp?.reconnectMaxDelay ?? DEFAULT_RECONNECT_MAX_MS,
      restartHoldMs: config.gobgp?.restartHoldTime ?? DEFAULT_RESTART_HOLD_MS,
      withdrawDelayMs: config.gobgp?.withdrawDelay ?? DEFAULT_WITHDRAW_DELAY_MS,
      tls: _resolveTls(config.gobgp?.tls),
    },
    http: { listen: config.http?.listen ?? DEFAULT_HTTP_LISTEN },
    resyncIntervalMs: config.resyncInterval ?? DEFAULT_RESYNC_INTERVAL_MS,
    node: {
      localInterface: config.node?.localInterface ?? DEFAULT_LOCAL_INTERFACE,
      localAddress: derived.localAddress,
      addressFamily: derived.addressFamily,
      routerId: config.node?.routerId ?? "",
      vxlanPort: config.node?.vxlanPort ?? DEFAULT_VXLAN_PORT,
      skipLinkCleanup: config.node?.skipLinkCleanup ?? false,
      autoRecreateVxlan: config.node?.autoRecreateVxlan ?? false,
    },
    vnis: derived.vnis,
    warnings: derived.warnings,
  };
}
