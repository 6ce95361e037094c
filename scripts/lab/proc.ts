/**
 * Running commands inside network namespaces: one-shot commands
 * ({@linkcode exec}) and long-lived daemons whose output goes to a log file
 * ({@linkcode spawnLogged}). Daemons are identified by PID plus the kernel's
 * start time of that PID, so a handle rebuilt from a state file by another
 * process never signals a recycled PID.
 *
 * @module
 */

import { delay } from "./wait.ts";

const decoder = new TextDecoder();

/**
 * Tagged template that builds an argv: the literal text is split on
 * whitespace, an interpolated value is never split (it joins the adjacent
 * literal text, as in a shell word), so
 * ``argv`ip link add vxlan${vni} type vxlan id ${vni}` `` needs no quoting.
 */
export function argv(strings: TemplateStringsArray, ...values: unknown[]): string[] {
  const out: string[] = [];
  let word: string | undefined;
  const flush = () => {
    if (word !== undefined) out.push(word);
    word = undefined;
  };
  strings.forEach((part, i) => {
    for (const piece of part.split(/(\s+)/)) {
      if (piece === "") continue;
      if (/^\s+$/.test(piece)) flush();
      else word = (word ?? "") + piece;
    }
    if (i < values.length) word = (word ?? "") + String(values[i]);
  });
  flush();
  return out;
}

/** `null` runs in the caller's own network namespace. */
export type Netns = string | null;

function wrap(ns: Netns, cmd: readonly string[]): [string, string[]] {
  if (cmd.length === 0) throw new TypeError("Cannot run an empty command");
  if (ns === null) return [cmd[0]!, cmd.slice(1)];
  return ["ip", ["netns", "exec", ns, ...cmd]];
}

/** The result of {@linkcode run}. */
export interface RunResult {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` in namespace `ns` and returns its exit code and output, never throwing on failure. */
export async function run(ns: Netns, cmd: readonly string[]): Promise<RunResult> {
  const [bin, args] = wrap(ns, cmd);
  const out = await new Deno.Command(bin, { args, stdin: "null" }).output();
  return {
    success: out.success,
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/**
 * Runs `cmd` in namespace `ns` and returns its stdout.
 *
 * @throws {Error} naming the namespace, command, exit code and stderr when it fails
 */
export async function exec(ns: Netns, cmd: readonly string[]): Promise<string> {
  const r = await run(ns, cmd);
  if (!r.success) {
    const where = ns === null ? "" : ` in netns "${ns}"`;
    throw new Error(
      `Command "${cmd.join(" ")}"${where} failed with exit code ${r.code}: ${
        (r.stderr || r.stdout).trim()
      }`,
    );
  }
  return r.stdout;
}

/** Synchronous {@linkcode run}, for `unload` handlers; never throws. */
export function runSync(ns: Netns, cmd: readonly string[]): boolean {
  try {
    const [bin, args] = wrap(ns, cmd);
    return new Deno.Command(bin, { args, stdin: "null", stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * The kernel's start time (clock ticks since boot) of `pid`, or `undefined`
 * when no such live process exists (zombies count as gone).
 */
export function procStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

/** How a process ended, as seen by {@linkcode ProcessHandle.stop}. */
export interface StopResult {
  /** Exit code; `null` if killed by a signal or unknown (not our child). */
  code: number | null;
  /** The terminating signal, if known. */
  signal: Deno.Signal | null;
  /** Milliseconds from sending the signal to the observed exit. */
  elapsedMs: number;
  /** True when the process outlived the timeout and was sent SIGKILL. */
  killed: boolean;
}

/** Serialisable identity of a daemon, for state files. */
export interface ProcessRecord {
  /** Label such as "spoke1/agent". */
  name: string;
  pid: number;
  /** `/proc/<pid>/stat` start time, guards against PID reuse. */
  startTime: string;
  /** File that receives the process' stdout and stderr. */
  log: string;
}

/** A long-lived process started by {@linkcode spawnLogged} or re-attached by PID. */
export class ProcessHandle {
  readonly name: string;
  readonly pid: number;
  readonly startTime: string;
  readonly log: string;
  #child: Deno.ChildProcess | undefined;
  #status: Deno.CommandStatus | undefined;

  constructor(record: ProcessRecord, child?: Deno.ChildProcess) {
    this.name = record.name;
    this.pid = record.pid;
    this.startTime = record.startTime;
    this.log = record.log;
    this.#child = child;
    child?.status.then((s) => this.#status = s);
  }

  /** Rebuilds a handle from a record (another process started it). */
  static attach(record: ProcessRecord): ProcessHandle {
    return new ProcessHandle(record);
  }

  /** The serialisable identity of this process. */
  toRecord(): ProcessRecord {
    return { name: this.name, pid: this.pid, startTime: this.startTime, log: this.log };
  }

  /** Whether this very process (same PID and start time) is still alive. */
  running(): boolean {
    if (this.#status !== undefined) return false;
    return procStartTime(this.pid) === this.startTime;
  }

  /** The exit status, once known (our own children only). */
  get status(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  /** Resolves when the process has exited; our own children resolve with their status. */
  async exited(): Promise<Deno.CommandStatus | undefined> {
    if (this.#child !== undefined) return await this.#child.status;
    while (this.running()) await delay(50);
    return undefined;
  }

  /** Lets the current process exit while this child keeps running. */
  unref(): void {
    this.#child?.unref();
  }

  /** Sends `signal` if this very process is still alive; returns whether it was sent. */
  kill(signal: Deno.Signal = "SIGTERM"): boolean {
    if (!this.running()) return false;
    try {
      Deno.kill(this.pid, signal);
      return true;
    } catch {
      return false; // exited in between
    }
  }

  /**
   * Sends `signal`, waits up to `timeoutMs` for the exit, then sends SIGKILL
   * and waits again. Safe to call when the process is already gone.
   */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 5000): Promise<StopResult> {
    const start = performance.now();
    this.kill(signal);
    let killed = false;
    let status = await this.#waitExit(timeoutMs);
    if (status === "timeout") {
      killed = this.kill("SIGKILL");
      status = await this.#waitExit(5000);
      if (status === "timeout") {
        throw new Error(`Process "${this.name}" (pid ${this.pid}) survived SIGKILL`);
      }
    }
    return {
      code: status?.signal ? null : status?.code ?? null,
      signal: status?.signal ?? null,
      elapsedMs: Math.round(performance.now() - start),
      killed,
    };
  }

  async #waitExit(timeoutMs: number): Promise<Deno.CommandStatus | undefined | "timeout"> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      return await Promise.race([this.exited(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Options for {@linkcode spawnLogged}. */
export interface SpawnOptions {
  /** Label for messages and state files, e.g. "hub/gobgpd". */
  name: string;
  /** Network namespace to run in; `null` = the caller's. */
  ns: Netns;
  /** Command and arguments. */
  cmd: readonly string[];
  /** File that receives stdout and stderr (appended). */
  log: string;
  /** Working directory. @default the caller's */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * Start the process in its own session, so it survives the caller and
   * does not receive the terminal's Ctrl-C. @default false
   */
  detached?: boolean;
}

/**
 * Starts a daemon with stdout and stderr appended to a log file. The PID of
 * the returned handle is the daemon's own: `sh` redirects and `exec`s
 * `ip netns exec`, which `exec`s the command, so no wrapper process remains
 * (and errors of `ip` itself also land in the log).
 */
export async function spawnLogged(options: SpawnOptions): Promise<ProcessHandle> {
  const { ns, cmd } = options;
  if (cmd.length === 0) throw new TypeError(`Cannot start "${options.name}": empty command`);
  const inner = ns === null ? [...cmd] : ["ip", "netns", "exec", ns, ...cmd];
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec >>"$0" 2>&1; exec "$@"', options.log, ...inner],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: options.detached ?? false,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  }).spawn();
  const startTime = procStartTime(child.pid);
  if (startTime === undefined) {
    const status = await child.status;
    throw new Error(
      `Process "${options.name}" exited at once with code ${status.code}; see ${options.log}`,
    );
  }
  return new ProcessHandle(
    { name: options.name, pid: child.pid, startTime, log: options.log },
    child,
  );
}
