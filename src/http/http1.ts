/**
 * A small HTTP/1.1 server over `Deno.listen` for short GET/HEAD requests,
 * with the limits `Deno.serve` does not have: a cap on open connections, a
 * deadline for each request header and each response write, and a bound
 * on the header size. Request bodies are never read: a request that
 * announces one is answered, then its connection is closed.
 *
 * Idle connections cannot pile up: one that has not sent a full request
 * header within `headerTimeoutMs` of being accepted (or of its previous
 * response) is closed, and when the cap is reached the connection that has
 * sent nothing for longest (at least `idleEvictAfterMs`) makes room for the
 * next one. With no room and nothing to evict, the accept loop waits;
 * new clients queue in the kernel's listen backlog meanwhile.
 *
 * @module
 */

/** Limits of {@linkcode serveHttp1}. */
export interface Http1Limits {
  /**
   * Connections open at once; at the cap, new ones wait in the listen
   * backlog (or replace an idle one, see `idleEvictAfterMs`).
   * @default {256}
   */
  maxConnections?: number;
  /**
   * Milliseconds a connection has to send a complete request header, from
   * being accepted or from the end of its previous response (so also the
   * keep-alive idle time), and to take each response.
   * @default {5000}
   */
  headerTimeoutMs?: number;
  /**
   * At the cap, a kept-alive connection that has waited this long for its
   * next request without sending a byte is closed to make room for a new
   * one. A connection that has not had a response yet is never evicted (its
   * request may already sit unread in the socket); the header timeout
   * closes it if it stays silent.
   * @default {1000}
   */
  idleEvictAfterMs?: number;
  /**
   * Requests handled and written at once; the others wait, header read,
   * holding nothing but their connection. This bounds the memory that
   * concurrent responses (a large /metrics each) can take.
   * @default {4}
   */
  maxConcurrentRequests?: number;
  /**
   * Largest request header (request line and header fields); a larger one
   * gets 431 and the connection is closed.
   * @default {8192}
   */
  maxHeaderBytes?: number;
}

/** Options of {@linkcode serveHttp1}. */
export interface Http1Options extends Http1Limits {
  hostname: string;
  port: number;
  /** Closes the listener and every connection when aborted. */
  signal?: AbortSignal;
  /** Called when the handler throws; its response is sent instead. */
  onError: (error: unknown) => Response;
}

/** The defaults of {@linkcode Http1Limits}, resolved. */
export const HTTP1_DEFAULTS: Required<Http1Limits> = {
  maxConnections: 256,
  headerTimeoutMs: 5_000,
  idleEvictAfterMs: 1_000,
  maxConcurrentRequests: 4,
  maxHeaderBytes: 8_192,
};

/** A running {@linkcode serveHttp1} server. */
export interface Http1Server extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connections: number;
  /** Settles once the listener and every connection are closed. */
  readonly finished: Promise<void>;
  /** Stops accepting, closes every connection; resolves with `finished`. */
  shutdown(): Promise<void>;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const HEADER_END = new Uint8Array([13, 10, 13, 10]); // \r\n\r\n

function _indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = Math.max(0, from); i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** One parsed request head, or the status to refuse it with. */
type _Head =
  | { request: Request; keepAlive: boolean; hasBody: boolean }
  | { refuse: number };

function _parseHead(text: string, host: string): _Head {
  const [requestLine = "", ...fields] = text.split("\r\n");
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (!match) return { refuse: 400 };
  const [, method = "", target = "", minor] = match;
  const headers = new Headers();
  try {
    for (const field of fields) {
      const colon = field.indexOf(":");
      if (colon <= 0) return { refuse: 400 };
      headers.append(field.slice(0, colon), field.slice(colon + 1).trim());
    }
    const url = target.startsWith("/")
      ? new URL(target, `http://${headers.get("host") || host}`)
      : new URL(target);
    const connection = headers.get("connection")?.toLowerCase() ?? "";
    const keepAlive = minor === "1"
      ? !connection.includes("close")
      : connection.includes("keep-alive");
    const length = headers.get("content-length");
    const hasBody = (length !== null && length !== "0") || headers.has("transfer-encoding");
    return { request: new Request(url, { method, headers }), keepAlive, hasBody };
  } catch {
    return { refuse: 400 }; // a bad header name or value, a bad target, a forbidden method
  }
}

function _plain(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** The bytes of `response` on the wire; HEAD gets the headers of the body it does not get. */
async function _encode(response: Response, head: boolean, keepAlive: boolean): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${REASONS[response.status] ?? "Status"}`];
  for (const [name, value] of response.headers) {
    if (name !== "content-length" && name !== "connection") lines.push(`${name}: ${value}`);
  }
  lines.push(`content-length: ${body.length}`, `date: ${new Date().toUTCString()}`);
  if (!keepAlive) lines.push("connection: close");
  const header = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  if (head) return header;
  const bytes = new Uint8Array(header.length + body.length);
  bytes.set(header);
  bytes.set(body, header.length);
  return bytes;
}

/** One accepted connection and when it started waiting for a request (undefined while busy). */
class _Connection {
  readonly conn: Deno.Conn;
  waitingSince: number | undefined = performance.now();
  /** Bytes read from the client in the current wait for a request. */
  received = 0;
  /** Responses sent on this connection. */
  responses = 0;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Closes the connection unless `fn` settles within `ms`; pending reads and writes then fail. */
  async within<T>(ms: number, fn: () => Promise<T>): Promise<T> {
    this.#timer = setTimeout(() => this.close(), ms);
    try {
      return await fn();
    } finally {
      clearTimeout(this.#timer);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Serves `handler` over HTTP/1.1 on `hostname:port` within the limits of
 * {@linkcode Http1Limits}; resolves once it listens.
 */
export function serveHttp1(
  options: Http1Options,
  handler: (request: Request) => Response | Promise<Response>,
): Http1Server {
  const limits = { ...HTTP1_DEFAULTS, ...options };
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr;
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
  const open = new Set<_Connection>();
  let busy = 0;
  const turns: (() => void)[] = [];
  /** Runs `fn` when fewer than `maxConcurrentRequests` others run. */
  const inTurn = async <T>(fn: () => Promise<T>): Promise<T> => {
    while (busy >= limits.maxConcurrentRequests) {
      await new Promise<void>((resolve) => turns.push(resolve));
    }
    busy++;
    try {
      return await fn();
    } finally {
      busy--;
      turns.shift()?.();
    }
  };
  let stopping = false;
  let roomMade: (() => void) | undefined;

  const release = (connection: _Connection) => {
    connection.close();
    open.delete(connection);
    roomMade?.();
  };

  /** The kept-alive connection that has waited longest without sending a byte, if long enough. */
  const idlest = (): _Connection | undefined => {
    let oldest: _Connection | undefined;
    for (const c of open) {
      if (c.waitingSince === undefined || c.received > 0 || c.responses === 0) continue;
      if (oldest === undefined || c.waitingSince < oldest.waitingSince!) oldest = c;
    }
    const age = oldest === undefined ? 0 : performance.now() - oldest.waitingSince!;
    return age >= limits.idleEvictAfterMs ? oldest : undefined;
  };

  /**
   * Closes the idlest connection; true when one was. The candidate is taken
   * again after one turn of the event loop: when the server is busy, a
   * client's request may be waiting in the socket with its read not yet
   * run, and that client is not idle.
   */
  const evictIdle = async (): Promise<boolean> => {
    if (idlest() === undefined) return false;
    await new Promise((r) => setTimeout(r, 0));
    const victim = idlest();
    if (victim === undefined) return false;
    release(victim);
    return true;
  };

  /** Waits until a connection closes or the idlest one can be evicted. */
  const room = async () => {
    while (open.size >= limits.maxConnections && !stopping) {
      if (await evictIdle()) continue;
      const { promise, resolve } = Promise.withResolvers<void>();
      roomMade = resolve;
      const timer = setTimeout(resolve, Math.max(10, limits.idleEvictAfterMs / 4));
      await promise;
      clearTimeout(timer);
      roomMade = undefined;
    }
  };

  const serveConnection = async (connection: _Connection) => {
    const { conn } = connection;
    let buffer = new Uint8Array(0);
    try {
      for (;;) {
        connection.waitingSince = performance.now();
        connection.received = buffer.length;
        // Read until the end of the header, within the deadline and the size limit.
        const headLength = await connection.within(limits.headerTimeoutMs, async () => {
          const chunk = new Uint8Array(4_096);
          for (let scanned = 0;;) {
            const end = _indexOf(buffer, HEADER_END, scanned - HEADER_END.length + 1);
            if (end >= 0) return end;
            if (buffer.length > limits.maxHeaderBytes) return -1;
            scanned = buffer.length;
            const n = await conn.read(chunk);
            if (n === null) return undefined;
            connection.received += n;
            const grown = new Uint8Array(buffer.length + n);
            grown.set(buffer);
            grown.set(chunk.subarray(0, n), buffer.length);
            buffer = grown;
          }
        });
        if (headLength === undefined) return; // the client closed
        connection.waitingSince = undefined;
        let head: _Head;
        let method = "GET";
        if (headLength < 0 || headLength > limits.maxHeaderBytes) head = { refuse: 431 };
        else {
          head = _parseHead(new TextDecoder().decode(buffer.subarray(0, headLength)), host);
          buffer = buffer.slice(headLength + HEADER_END.length);
        }
        // One turn of the concurrency limit: handler, encoding and write.
        const keepAlive = await inTurn(async () => {
          let response: Response;
          let keep = false;
          if ("refuse" in head) {
            response = _plain(head.refuse, `${REASONS[head.refuse]}\n`.toLowerCase());
          } else {
            method = head.request.method;
            keep = head.keepAlive && !head.hasBody && !stopping; // an unread body ends it
            try {
              response = await handler(head.request);
            } catch (error) {
              response = options.onError(error);
            }
          }
          const bytes = await _encode(response, method === "HEAD", keep);
          await connection.within(limits.headerTimeoutMs, async () => {
            for (let written = 0; written < bytes.length;) {
              written += await conn.write(bytes.subarray(written));
            }
          });
          return keep;
        });
        connection.responses++;
        if (!keepAlive) return;
      }
    } catch {
      // reset by the peer, or closed by a deadline, eviction or shutdown
    } finally {
      release(connection);
    }
  };

  const accepting = (async () => {
    const served = new Set<Promise<void>>();
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) break;
        // EMFILE and the like: back off instead of spinning.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      await room(); // this one waits, unread, until there is room
      const connection = new _Connection(conn);
      if (stopping) {
        connection.close();
        break;
      }
      open.add(connection);
      const done = serveConnection(connection);
      served.add(done);
      done.then(() => served.delete(done));
    }
    await Promise.allSettled([...served]);
  })();

  const shutdown = async () => {
    if (!stopping) {
      stopping = true;
      roomMade?.();
      try {
        listener.close();
      } catch {
        // already closed
      }
      // Busy connections finish their response (each write has its deadline); idle ones close now.
      for (const c of open) if (c.waitingSince !== undefined) release(c);
    }
    await accepting;
  };
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  if (options.signal?.aborted) void shutdown();

  return {
    addr,
    get connections() {
      return open.size;
    },
    finished: accepting,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
