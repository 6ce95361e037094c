/**
 * SIGHUP: load the configuration file again, plan the reload
 * (`config/reload.ts`), and apply it only when every change can be applied
 * live. A file that is refused, or that changes a restart-only key, changes
 * nothing; each refused key gets its own log line that says a restart is
 * needed. Reloads run one at a time; signals during a reload coalesce into
 * one more.
 *
 * @module
 */
import { planReload } from "../config/reload.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { logger } from "../log.ts";

const log = logger("config");

/** What a reload acts on; `run()` wires the real parts, tests fake them. */
export interface ReloadTargets {
  /** Reads and checks the file; throws (a `ConfigError`) when it is refused. */
  load(): Promise<ResolvedConfig>;
  /** Sets the log level and format. */
  logging(level: ResolvedConfig["logLevel"], format: ResolvedConfig["logFormat"]): void;
  /** Serves the endpoint on `listen` ("" = off): the new listener first, then the old closes; throws when the new one cannot bind (the old stays). */
  listen(listen: ResolvedConfig["http"]["listen"]): Promise<void>;
  /** Restarts the safety-net resync timer (0 = off). */
  resyncEvery(ms: number): void;
  /** Applies the VNIs, membership and values the agent reads later. */
  reconfigure(next: ResolvedConfig): Promise<void>;
  /** Reads the `gobgp.tls` files again (every accepted reload, changed or not). */
  rereadTls?(): void;
}

/** What one reload did. */
export type ReloadResult = "applied" | "unchanged" | "refused";

export class Reloader {
  #config: ResolvedConfig;
  #targets: ReloadTargets;
  #running: Promise<void> | undefined;
  #again = false;
  #last: ReloadResult | undefined;

  constructor(config: ResolvedConfig, targets: ReloadTargets) {
    this.#config = config;
    this.#targets = targets;
  }

  /** The configuration in force. */
  get config(): ResolvedConfig {
    return this.#config;
  }

  /** Starts a reload (a SIGHUP); resolves when it and any it coalesced are done. */
  reload(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        this.#last = await this.#once();
      } while (this.#again);
    })().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** The outcome of the last finished reload, for tests and logs. */
  get last(): ReloadResult | undefined {
    return this.#last;
  }

  async #once(): Promise<ReloadResult> {
    log.info("Reloading the configuration (SIGHUP)");
    let next: ResolvedConfig;
    try {
      next = await this.#targets.load();
    } catch (error) {
      log.error("Reload refused: {error}; the running configuration stays", {
        error: error instanceof Error ? error.message : String(error),
      });
      return "refused";
    }
    const plan = planReload(this.#config, next);
    if (plan.refuse.length > 0) {
      for (const change of plan.refuse) {
        log.error(
          "Reload refused: {key} changed ({from} -> {to}), which needs a restart " +
            "(systemctl restart evpn-agent); the running configuration stays",
          { ...change },
        );
      }
      return "refused";
    }
    this.#targets.rereadTls?.();
    if (plan.apply.length === 0) {
      log.info("Reload: nothing changed");
      return "unchanged";
    }
    const old = this.#config;
    const t = this.#targets;
    if (next.logLevel !== old.logLevel || next.logFormat !== old.logFormat) {
      t.logging(next.logLevel, next.logFormat);
    }
    let applied = next;
    if (next.http.listen !== old.http.listen) {
      try {
        await t.listen(next.http.listen);
      } catch (error) {
        log.error("Reload: cannot serve http.listen {listen}: {error}; still serving {old}", {
          listen: next.http.listen === "" ? '""' : next.http.listen,
          error: error instanceof Error ? error.message : String(error),
          old: old.http.listen === "" ? "nothing" : old.http.listen,
        });
        applied = { ...next, http: old.http };
      }
    }
    if (next.resyncIntervalMs !== old.resyncIntervalMs) t.resyncEvery(next.resyncIntervalMs);
    await t.reconfigure(applied);
    this.#config = applied;
    for (const change of plan.apply) {
      if (change.key === "http.listen" && applied.http !== next.http) continue;
      log.info("Reload applied {key}: {from} -> {to}", { ...change });
    }
    return "applied";
  }
}
