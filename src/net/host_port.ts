/**
 * `host:port` endpoints (IPv6 hosts in brackets), checked once into
 * {@linkcode HostPort}: the text as written, known to be valid.
 *
 * @module
 */

declare const _hostPort: unique symbol;

/** A checked `host:port` string; only {@linkcode parseHostPort} hands it out. */
export type HostPort = string & { readonly [_hostPort]: true };

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/**
 * Checks `text` as `host:port` with a port in 1..65535; `example` goes into
 * the messages. Returns the value, or the problem in words.
 */
export function parseHostPort(
  text: string,
  example: string,
): { value: HostPort } | { problem: string } {
  const q = quote(text);
  const colon = text.lastIndexOf(":");
  const refuse = (problem: string) => ({ problem });
  if (colon < 0) return refuse(`${q} is not host:port (e.g. "${example}")`);
  const host = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (host.startsWith("[") !== host.endsWith("]") || host === "[]") {
    return refuse(`${q} is not host:port (e.g. "${example}" or "[::1]:50051")`);
  }
  if (!host.startsWith("[") && host.includes(":")) {
    return refuse(`${q} is not host:port; put an IPv6 host in brackets, e.g. "[::1]:50051"`);
  }
  if (host === "") return refuse(`${q} has no host (e.g. "${example}")`);
  if (/\s/.test(host)) return refuse(`${q} has whitespace in its host`);
  if (!/^\d+$/.test(port)) return refuse(`port ${quote(port)} in ${q} is not a number`);
  const n = Number(port);
  if (n < 1 || n > 65535) return refuse(`port ${n} in ${q} is outside 1..65535`);
  return { value: text as HostPort };
}

/** The host (brackets removed) and port of a checked endpoint. */
export function splitHostPort(endpoint: HostPort | string): { hostname: string; port: number } {
  const colon = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, colon);
  return {
    hostname: host.startsWith("[") ? host.slice(1, -1) : host,
    port: Number(endpoint.slice(colon + 1)),
  };
}
