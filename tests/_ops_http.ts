/**
 * HTTP client for tests/ops_test.ts, run inside a lab namespace with
 * `ip netns exec NS deno run -A --cached-only tests/_ops_http.ts MODE ...`
 * (the agent's endpoint listens on the namespace's own loopback). Prints one
 * JSON document on stdout.
 *
 *   get URL                       → {status, contentType, body}
 *   raw HOST:PORT REQUEST_JSON    → {status, body}: REQUEST_JSON is a JSON string
 *                                   sent verbatim, so bodies can ride on a GET
 *   hammer BASE MIN_COUNT STOP_FILE MAX_MS
 *                                 → {total, statuses, startMs, endMs}: GET/POST
 *                                   requests one after the other, at least
 *                                   MIN_COUNT, then on until STOP_FILE exists or
 *                                   MAX_MS passed (at most 50,000); writes
 *                                   STOP_FILE.started after the first one
 *
 * @module
 */

const decoder = new TextDecoder();

async function get(url: string) {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: await response.text(),
  };
}

/** Sends `request` as is; reads until the response is complete or the server closes. */
async function raw(addr: string, request: string) {
  const colon = addr.lastIndexOf(":");
  const conn = await Deno.connect({
    hostname: addr.slice(0, colon),
    port: Number(addr.slice(colon + 1)),
  });
  const timer = setTimeout(() => conn.close(), 5_000);
  let text = "";
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(65_536);
    for (let i = 0; i < 1_000; i++) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
      const head = text.indexOf("\r\n\r\n");
      const length = /^content-length: *(\d+)/im.exec(text)?.[1];
      if (head >= 0 && length !== undefined && text.length - head - 4 >= Number(length)) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0),
    body: text.slice(text.indexOf("\r\n\r\n") + 4),
  };
}

const MIX: { method: "GET" | "POST"; path: string }[] = [
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/status" },
  { method: "GET", path: "/healthz" },
  { method: "GET", path: "/readyz" },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/status" },
  { method: "GET", path: "/no-such-path" },
  { method: "POST", path: "/status" },
];

async function hammer(base: string, minCount: number, stopFile: string, maxMs: number) {
  const statuses: Record<string, number> = {};
  const startMs = Date.now();
  let total = 0;
  const stopped = () => {
    try {
      Deno.statSync(stopFile);
      return true;
    } catch {
      return false;
    }
  };
  while (total < 50_000) {
    if (total >= minCount && (Date.now() - startMs > maxMs || (total % 50 === 0 && stopped()))) {
      break;
    }
    const { method, path } = MIX[total % MIX.length]!;
    let key: string;
    try {
      const response = await fetch(`${base}${path}`, {
        method,
        ...(method === "POST" ? { body: "{}" } : {}),
        signal: AbortSignal.timeout(5_000),
      });
      await response.arrayBuffer();
      key = `${method} ${path} ${response.status}`;
    } catch (error) {
      // Counted, not thrown: the test shows which requests failed and how.
      key = `${method} ${path} ${error instanceof Error ? error.message : error}`;
    }
    statuses[key] = (statuses[key] ?? 0) + 1;
    if (total++ === 0) Deno.writeTextFileSync(`${stopFile}.started`, String(Date.now()));
  }
  return { total, statuses, startMs, endMs: Date.now() };
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  let result: unknown;
  if (mode === "get" && args.length === 1) result = await get(args[0]!);
  else if (mode === "raw" && args.length === 2) {
    result = await raw(args[0]!, JSON.parse(args[1]!) as string);
  } else if (mode === "hammer" && args.length === 4) {
    result = await hammer(args[0]!, Number(args[1]), args[2]!, Number(args[3]));
  } else {
    console.error("usage: _ops_http.ts get URL | raw HOST:PORT JSON | hammer BASE N STOP MAX_MS");
    Deno.exit(2);
  }
  console.log(JSON.stringify(result));
}
