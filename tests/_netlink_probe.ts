/**
 * Runs steps against `src/netlink` inside the caller's network namespace and
 * prints one JSON line with the results. `tests/netlink_test.ts` starts it
 * with `ip netns exec NS deno run -A tests/_netlink_probe.ts '<steps>'`,
 * because FFI calls act on the calling thread's namespace.
 *
 * Steps (a JSON array):
 * - `{"call": "appendFlood", "args": ["@vx1", "192.0.2.12"]}`: a `Netlink`
 *   method; a string argument `"@NAME"` becomes NAME's ifindex.
 * - `{"sh": ["bridge", "fdb", ...]}`: a command; result `{code, stderr}`.
 * - `{"events": "open", "receiveBufferBytes"?: n}`, `{"events": "start"}`,
 *   `{"events": "close"}`: a `NetlinkEvents`; closing reports how long
 *   `closed` took to settle.
 * - `{"waitFor": {...}, "timeoutMs"?: n}`: waits until a collected event
 *   matches the given partial object (deep), e.g. `{"kind": "link", "type": "del"}`.
 * - `{"events": "collected"}`: the events collected so far.
 *
 * The probe ends by returning from the module, never with `Deno.exit`: if
 * anything it opened kept the event loop alive, the test would time out.
 *
 * @module
 */

import { Netlink, NetlinkError, NetlinkEvents } from "../src/netlink/mod.ts";

type Step =
  | { call: string; args?: unknown[] }
  | { sh: string[] }
  | { events: "open" | "start" | "close" | "collected"; receiveBufferBytes?: number }
  | { waitFor: Record<string, unknown>; timeoutMs?: number };

type Collected = Record<string, unknown>;

const steps = JSON.parse(Deno.args[0] ?? "[]") as Step[];
const results: unknown[] = [];
const collected: Collected[] = [];
let waiter: (() => void) | undefined;
let events: NetlinkEvents | undefined;

function collect(ev: Collected): void {
  collected.push(ev);
  waiter?.();
}

function matches(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== "object") return actual === expected;
  if (actual === null || typeof actual !== "object") return false;
  return Object.entries(expected).every(([k, v]) =>
    matches((actual as Record<string, unknown>)[k], v)
  );
}

function errorJson(err: unknown): Record<string, unknown> {
  if (err instanceof NetlinkError) {
    return { name: err.name, message: err.message, code: err.code, errno: err.errno, op: err.op };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message };
}

function toJson(value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}

using nl = Netlink.open();

/** Calls a method of `nl.links`, `nl.fdb`, `nl.neighbours` or `nl.addresses` by name. */
function call(name: string, args: unknown[]): unknown {
  for (const target of [nl.links, nl.fdb, nl.neighbours, nl.addresses]) {
    // deno-lint-ignore no-explicit-any -- the probe dispatches method names given as data
    const method = (target as any)[name] as (...a: unknown[]) => unknown;
    if (typeof method === "function") return method.apply(target, args);
  }
  throw new Error(`probe: no method ${name}`);
}

for (const step of steps) {
  try {
    if ("call" in step) {
      const args = (step.args ?? []).map((a) => {
        if (typeof a !== "string" || !a.startsWith("@")) return a;
        const link = nl.links.getLink(a.slice(1));
        if (link === undefined) throw new Error(`probe: no link "${a.slice(1)}"`);
        return link.ifindex;
      });
      results.push({ ok: toJson(call(step.call, args)) ?? null });
    } else if ("sh" in step) {
      const [cmd, ...args] = step.sh;
      const out = await new Deno.Command(cmd!, { args, stdout: "null", stderr: "piped" }).output();
      results.push({ ok: { code: out.code, stderr: new TextDecoder().decode(out.stderr) } });
    } else if ("events" in step) {
      if (step.events === "open") {
        events = new NetlinkEvents(
          {
            onLink: (ev) => collect({ kind: "link", ...ev }),
            onNeigh: (ev) => collect({ kind: "neigh", ...ev }),
            onIpNeigh: (ev) => collect({ kind: "ipNeigh", ...ev }),
            onAddr: (ev) => collect({ kind: "addr", ...ev }),
            onOverrun: () => collect({ kind: "overrun" }),
            onError: (err) => collect({ kind: "error", error: errorJson(err) }),
          },
          step.receiveBufferBytes === undefined ? {} : {
            receiveBufferBytes: step.receiveBufferBytes,
          },
        );
        results.push({ ok: null });
      } else if (step.events === "start") {
        events!.start();
        results.push({ ok: null });
      } else if (step.events === "close") {
        const t0 = performance.now();
        events!.close();
        await events!.closed;
        results.push({ ok: { closedMs: performance.now() - t0 } });
      } else {
        results.push({ ok: [...collected] });
      }
    } else {
      const timeoutMs = step.timeoutMs ?? 5000;
      const found = await new Promise<boolean>((resolve) => {
        const check = () => {
          if (collected.some((ev) => matches(ev, step.waitFor))) {
            clearTimeout(timer);
            waiter = undefined;
            resolve(true);
          }
        };
        const timer = setTimeout(() => {
          waiter = undefined;
          resolve(false);
        }, timeoutMs);
        waiter = check;
        check();
      });
      results.push(found ? { ok: true } : { error: { name: "Timeout", message: "no match" } });
    }
  } catch (err) {
    results.push({ error: errorJson(err) });
  }
}

events?.close();
console.log(JSON.stringify({ results, collected }));
