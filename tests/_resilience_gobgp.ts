/**
 * A small gobgpd client for the resilience test (`tests/resilience_test.ts`),
 * run inside a lab namespace with `ip netns exec NS deno run -A --cached-only
 * tests/_resilience_gobgp.ts COMMAND ...`. It speaks to the namespace's own
 * gobgpd through the project's gRPC client (`src/bgp/client.ts`):
 *
 * - `watch`: a `WatchEvent(BEST, init)` observer, standing in for a BGP peer
 *   that must never see a withdraw. Prints one JSON line per table event:
 *   `{"t": <ms since epoch>, "n": <event number, 0 = initial table>,
 *   "paths": [{"prefix", "withdraw", "communities"}]}`.
 * - `add ADDR [ASN:VALUE,...]`: adds `ADDR/32` with those communities.
 * - `del ADDR`: deletes the local path `ADDR/32`.
 * - `bulk-add COUNT FIRST_ADDR ASN FIRST_VALUE`: adds COUNT /32 paths from
 *   FIRST_ADDR upwards, path i with community `ASN:(FIRST_VALUE + i)`.
 * - `bulk-del COUNT FIRST_ADDR`: deletes them again.
 * - `flap ADDR ASN:VALUE TIMES`: adds then deletes `ADDR/32`, TIMES times.
 *
 * Prints `done <command> <calls> <ms>` on success; exits 1 on any failure.
 *
 * @module
 */
import { GobgpClient } from "../src/bgp/client.ts";
import { type Community, formatCommunity, parseCommunity } from "../src/net/community.ts";
import {
  decodePath,
  encodeMembershipKey,
  encodeMembershipPath,
  type PathMessage,
} from "../src/bgp/path_codec.ts";

const API = "127.0.0.1:50051";

function community(text: string): Community {
  const parsed = parseCommunity(text);
  if (parsed === undefined) throw new TypeError(`"${text}" is not ASN:VALUE or A:B:C`);
  return parsed;
}

const format = formatCommunity;

function addressAt(first: string, offset: number): string {
  const value = first.split(".").reduce((acc, part) => acc * 256 + Number(part), 0) + offset;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

function path(address: string, communities: Community[]): PathMessage {
  return encodeMembershipPath({ address, communities });
}

/** Runs `fn` over `items`, at most `width` calls in flight. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function watch(client: GobgpClient): Promise<never> {
  let n = 0;
  const { promise, reject } = Promise.withResolvers<never>();
  client.watchBest({
    onTable(paths) {
      const out = paths.map((p) => {
        const d = decodePath(p);
        return d.ok
          ? {
            prefix: `${d.route.vtep}/32`,
            withdraw: d.route.withdraw,
            communities: d.route.communities.map(format).sort(),
            ...(d.route.stale ? { stale: true } : {}),
          }
          : { skipped: d.reason, detail: d.detail };
      });
      console.log(JSON.stringify({ t: Date.now(), n: n++, paths: out }));
    },
    onEnd(error) {
      reject(error ?? new Error("WatchEvent stream ended"));
    },
  });
  return await promise;
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const client = new GobgpClient({ address: API, timeoutMs: 10_000 });
  const start = performance.now();
  let calls = 0;
  const add = async (address: string, communities: Community[]) => {
    calls++;
    await client.addPath(path(address, communities));
  };
  const del = async (address: string) => {
    calls++;
    await client.deletePath(encodeMembershipKey(address));
  };
  try {
    switch (command) {
      case "watch":
        await watch(client);
        break;
      case "add": {
        const [address, list = ""] = rest;
        await add(address!, list === "" ? [] : list.split(",").map(community));
        break;
      }
      case "del":
        await del(rest[0]!);
        break;
      case "bulk-add": {
        const [count, first, asn, value] = rest.map((x, i) => i === 1 ? x : Number(x));
        const items = Array.from({ length: count as number }, (_, i) => i);
        await pool(items, 64, (i) =>
          add(
            addressAt(first as string, i),
            [((asn as number) * 0x10000 + (value as number) + i) >>> 0],
          ));
        break;
      }
      case "bulk-del": {
        const [count, first] = rest;
        const items = Array.from({ length: Number(count) }, (_, i) => i);
        await pool(items, 64, (i) => del(addressAt(first!, i)));
        break;
      }
      case "flap": {
        const [address, list, times] = rest;
        const communities = list!.split(",").map(community);
        for (let i = 0; i < Number(times); i++) {
          await add(address!, communities);
          await del(address!);
        }
        break;
      }
      default:
        throw new TypeError(`Unknown command "${command}"`);
    }
    console.log(`done ${command} ${calls} ${Math.round(performance.now() - start)}`);
  } finally {
    client.close();
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`_resilience_gobgp: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
