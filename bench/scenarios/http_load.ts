/**
 * Scenario 6, the endpoint under load (issue 14): `idle` connections that
 * never send a request, then `scrapes` concurrent `GET /metrics`, on the
 * agent's own loopback endpoint. The agent's RSS before (the baseline, idle),
 * at its peak and after a quiet spell; whether it kept answering; whether
 * it closed the idle connections itself (its header timeout).
 *
 * The check fails the run only when the endpoint stopped answering or the
 * memory grew without bound (a generous multiple of the baseline), never on
 * a timing.
 *
 * @module
 */
import { delay } from "../../scripts/lab/wait.ts";
import { round } from "../stats.ts";
import type { SteadyContext } from "./cold_start.ts";

/** Where the bench agent serves (the default `http.listen`, in the hub's namespace). */
export const ENDPOINT = { hostname: "127.0.0.1", port: 9469 };

/** Peak RSS above this multiple of the idle baseline counts as unbounded. */
export const RSS_PEAK_BOUND = 3;

export interface HttpLoadPlan {
  idle: number;
  scrapes: number;
  /** Quiet time after the load before the "after" sample, s. */
  afterSeconds: number;
}

export interface HttpLoadResult extends HttpLoadPlan {
  rssKiBBefore: number;
  /** Highest RSS sampled (every 20 ms) from the first idle connection to the end. */
  rssKiBPeak: number;
  rssKiBAfter: number;
  /** Scrapes answered 200 with a complete body; other statuses or cut short; no connection. */
  scrapesOk: number;
  scrapesOther: number;
  scrapesFailed: number;
  /** Wall time of the concurrent scrapes, ms. */
  scrapeMs: number;
  /** Idle connections the agent had closed by the end of the quiet spell. */
  idleClosedByAgent: number;
  /** `GET /healthz` after the load: its status, or the error. */
  probe: string;
  /** Why the check failed; empty when it passed. */
  failures: string[];
}

const encoder = new TextEncoder();

/** One request on a fresh connection; resolves with the status and the body length. */
async function request(path: string, timeoutMs: number): Promise<{ status: number; body: number }> {
  const conn = await Deno.connect(ENDPOINT);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(
      encoder.encode(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`),
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65_536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const bytes = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    chunks.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
    const text = new TextDecoder().decode(bytes);
    const head = text.indexOf("\r\n\r\n");
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1] ?? NaN);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    const body = head < 0 ? 0 : new TextEncoder().encode(text.slice(head + 4)).length;
    return { status: body === length ? status : 0, body };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** True when the peer has closed `conn` (a read ends at once), false while it stays open. */
async function closedByPeer(conn: Deno.Conn): Promise<boolean> {
  const timer = delay(50).then(() => false);
  const read = conn.read(new Uint8Array(1)).then((n) => n === null, () => true);
  return await Promise.race([read, timer]);
}

/** Pure: what fails the check. */
export function httpLoadFailures(
  r: Pick<HttpLoadResult, "rssKiBBefore" | "rssKiBPeak" | "scrapesOk" | "probe">,
): string[] {
  const failures: string[] = [];
  if (r.scrapesOk === 0) failures.push("no scrape was answered");
  if (r.probe !== "200") failures.push(`GET /healthz after the load: ${r.probe}`);
  if (r.rssKiBPeak > RSS_PEAK_BOUND * r.rssKiBBefore) {
    failures.push(
      `peak RSS ${round(r.rssKiBPeak / 1024, 1)} MiB is over ${RSS_PEAK_BOUND}× the ` +
        `${round(r.rssKiBBefore / 1024, 1)} MiB before the load`,
    );
  }
  return failures;
}

export async function httpLoad(
  ctx: SteadyContext,
  plan: HttpLoadPlan,
): Promise<HttpLoadResult | undefined> {
  const { agent, lab } = ctx;
  lab.log(
    `http: ${plan.idle} idle connections, ${plan.scrapes} concurrent /metrics scrapes, ` +
      `${plan.afterSeconds} s after`,
  );
  const rss = () => agent.sample()?.rssKiB;
  const before = rss();
  if (before === undefined) return undefined;
  let peak = before;
  const sampler = setInterval(() => peak = Math.max(peak, rss() ?? 0), 20);
  const idle: Deno.Conn[] = [];
  try {
    for (let i = 0; i < plan.idle; i++) idle.push(await Deno.connect(ENDPOINT));
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from(
        { length: plan.scrapes },
        () => request("/metrics", 30_000).catch(() => ({ status: -1, body: 0 })),
      ),
    );
    const scrapeMs = round(performance.now() - t0, 1);
    const probe = await request("/healthz", 10_000).then(
      (a) => String(a.status),
      (e) => (e instanceof Error ? e.message : String(e)),
    );
    await delay(plan.afterSeconds * 1000);
    const after = rss() ?? 0;
    const closed = await Promise.all(idle.map(closedByPeer));
    const result: HttpLoadResult = {
      ...plan,
      rssKiBBefore: before,
      rssKiBPeak: peak,
      rssKiBAfter: after,
      scrapesOk: answers.filter((a) => a.status === 200).length,
      scrapesOther: answers.filter((a) => a.status >= 0 && a.status !== 200).length,
      scrapesFailed: answers.filter((a) => a.status < 0).length,
      scrapeMs,
      idleClosedByAgent: closed.filter(Boolean).length,
      probe,
      failures: [],
    };
    result.failures = httpLoadFailures(result);
    return result;
  } finally {
    clearInterval(sampler);
    for (const conn of idle) {
      try {
        conn.close();
      } catch {
        // closed by the agent
      }
    }
  }
}
