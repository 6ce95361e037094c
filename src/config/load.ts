/**
 * Reading the configuration file: file → YAML → {@linkcode resolveConfig}.
 *
 * @module
 */

import YAML, { LineCounter } from "yaml";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { type ConfigEnv, resolveConfig } from "./schema.ts";
import type { ResolvedConfig } from "./types.ts";

/**
 * The machine's own view: interface addresses from
 * `Deno.networkInterfaces()` (IPv4 only; needs `--allow-sys`). An
 * interface with no address at all is not listed there, so it is looked
 * up in `/sys/class/net` before being called missing.
 */
export function defaultEnv(): ConfigEnv {
  return {
    interfaceAddresses(name: string): string[] | undefined {
      const mine = Deno.networkInterfaces().filter((i) => i.name === name);
      if (mine.length === 0) return _linkExists(name) ? [] : undefined;
      return mine.filter((i) => i.family === "IPv4").map((i) => i.address);
    },
  };
}

function _linkExists(name: string): boolean {
  if (name.includes("/") || name === "." || name === "..") return false;
  try {
    Deno.statSync(`/sys/class/net/${name}`);
    return true;
  } catch {
    return false;
  }
}

/** The key written at `offset`, quoted, for duplicate-key errors (which point at its start). */
function _keyAt(text: string, offset: number): string {
  const key = /^("[^"\n]*"|'[^'\n]*'|[^:,{}\n]*)/.exec(text.slice(offset))?.[1] ?? "";
  return /^["']/.test(key) ? key : JSON.stringify(key.trim());
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Parses configuration text as YAML (duplicate keys refused) and resolves
 * it. `fileName` only labels the issues.
 *
 * @throws {ConfigError} for YAML errors (as `<file>:<line>:<col>: <reason>`)
 * and for every configuration issue (as `<key.path>: <reason>`).
 */
export function parseConfigText(
  text: string,
  fileName: string,
  env: ConfigEnv = defaultEnv(),
): ResolvedConfig {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    logLevel: "error", // report errors in doc.errors, print nothing
  });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${fileName}:${line}:${col}`;
  };

  const issues: ConfigIssue[] = [];
  for (const error of [...doc.errors, ...doc.warnings]) {
    const [start] = error.pos;
    const reason = error.code === "DUPLICATE_KEY"
      ? `duplicate key ${_keyAt(text, start)} (keys must be unique)`
      : error.message;
    issues.push({ path: at(start), message: reason });
  }
  YAML.visit(doc, {
    Alias(_key, alias) {
      if (alias.resolve(doc) === undefined) {
        issues.push({
          path: at(alias.range?.[0] ?? 0),
          message: `alias "*${alias.source}" has no anchor "&${alias.source}" before it`,
        });
      }
    },
  });
  if (issues.length > 0) throw new ConfigError(issues, { file: fileName });

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError([{ path: fileName, message: _message(error) }], {
      file: fileName,
      cause: error,
    });
  }
  try {
    return resolveConfig(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ConfigError(error.issues, { file: fileName });
    }
    throw error;
  }
}

/**
 * Reads, parses and resolves the configuration file at `path`.
 *
 * @throws {ConfigError} when the file cannot be read (naming the file and
 * the OS reason), is not valid YAML, or breaks a configuration rule.
 */
export async function loadConfig(
  path: string,
  env: ConfigEnv = defaultEnv(),
): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError([{
      path,
      message: `cannot read the configuration file: ${_message(error)}`,
    }], { file: path, cause: error });
  }
  return parseConfigText(text, path, env);
}
