/**
 * Logging: LogTape, one category per component (`bgp`, `fdb`, `link`,
 * `membership`, `config`, `agent`), written synchronously to stderr so that
 * nothing is lost when the process exits.
 *
 * @module
 */
import {
  configureSync,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";
import type { LogFormat, LogLevel } from "./config/types.ts";

export type Component =
  | "agent"
  | "bgp"
  | "fdb"
  | "link"
  | "membership"
  | "evpn"
  | "config"
  | "http";

const ROOT = "evpn-agent";
const encoder = new TextEncoder();

/** The logger of one component. */
export function logger(component: Component): Logger {
  return getLogger([ROOT, component]);
}

/**
 * Configures (or reconfigures) logging at `level`. `text`: one line per
 * event, `<time> [LVL] <component>: <message>`. `json`: JSON Lines with the
 * fields `@timestamp`, `level`, `message`, `logger` (the component) and
 * `properties` (the structured fields, stable names).
 */
export function setupLogging(level: LogLevel, format: LogFormat = "text"): void {
  const formatter = format === "json"
    ? getJsonLinesFormatter({ categorySeparator: "." })
    : getTextFormatter({
      timestamp: "rfc3339",
      value: "bare",
      category: (category) => category.slice(1).join("."),
    });
  configureSync({
    reset: true,
    sinks: {
      stderr(record: LogRecord) {
        try {
          const line = format === "json"
            ? formatter({
              ...record,
              category: record.category.slice(1),
              message: [plainMessage(record.message)],
            })
            : formatter(record);
          Deno.stderr.writeSync(encoder.encode(line));
        } catch {
          // stderr closed: nothing sensible left to do with a log line
        }
      },
    },
    loggers: [
      { category: [ROOT], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** The message with its values in place, strings unquoted (the values stay in `properties`). */
function plainMessage(parts: readonly unknown[]): string {
  return parts.map((part, i) =>
    i % 2 === 0 || typeof part === "string" ? String(part) : JSON.stringify(part) ?? String(part)
  ).join("");
}

/** Flushes and detaches the sinks. */
export function shutdownLogging(): void {
  resetSync();
}
