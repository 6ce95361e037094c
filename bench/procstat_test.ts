import assert from "node:assert/strict";
import {
  parseSchedstatNs,
  parseStatCpuTicks,
  parseStatus,
  procDelta,
  type ProcSample,
} from "./procstat.ts";

Deno.test("parseStatus() reads numeric fields and their units' numbers", () => {
  const fields = parseStatus(
    "Name:\tdeno\nVmHWM:\t  101234 kB\nVmRSS:\t   99000 kB\nvoluntary_ctxt_switches:\t42\n",
  );
  assert.equal(fields.get("VmHWM"), 101234);
  assert.equal(fields.get("VmRSS"), 99000);
  assert.equal(fields.get("voluntary_ctxt_switches"), 42);
  assert.equal(fields.has("Name"), false);
});

Deno.test("parseStatCpuTicks() adds utime and stime after a comm with spaces and parentheses", () => {
  const stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 8 0 " +
    "5000 1000000 2000 18446744073709551615";
  assert.equal(parseStatCpuTicks(stat), 281);
});

Deno.test("parseSchedstatNs() takes the run time", () => {
  assert.equal(parseSchedstatNs("123456789 2345 67\n"), 123456789);
  assert.throws(() => parseSchedstatNs("x"), SyntaxError);
});

function sample(at: number, ticks: number, threads: [string, number, number][]): ProcSample {
  const perThread = new Map(
    threads.map(([tid, cpuNs, voluntary]) => [tid, { cpuNs, voluntary, nonvoluntary: 1 }]),
  );
  return {
    at,
    rssKiB: 1,
    hwmKiB: 1,
    cpuTicks: ticks,
    cpuNs: 0,
    voluntary: 0,
    nonvoluntary: 0,
    mainVoluntary: threads[0]?.[2] ?? 0,
    threads: threads.length,
    perThread,
  };
}

Deno.test("procDelta() counts threads that exited or started within the window correctly", () => {
  const a = sample(0, 100, [["1", 5e6, 10], ["2", 900e6, 50]]);
  const b = sample(60_000, 103, [["1", 7e6, 14], ["3", 1e6, 2]]);
  const d = procDelta(a, b);
  assert.equal(d.cpuMsTicks, 30);
  assert.equal(d.cpuMs, 3); // 2 ms on thread 1 + 1 ms on new thread 3; thread 2 gone
  assert.equal(d.wakeups, 4 + 3);
  assert.equal(d.mainThreadWakeups, 4);
  assert.equal(d.startedThreads, 1);
  assert.equal(d.exitedThreads, 1);
});
