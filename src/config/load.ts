/**
 * Reading the configuration file: file → YAML → {@linkcode resolveConfig}.
 *
 * @module
 */

import YAML, { type Document, LineCounter } from "yaml";
import { ConfigError, type ConfigIssue, FILE_ISSUE_PATH } from "./errors.ts";
import { type ConfigEnv, parsePath, resolveConfig, resolveConfigOffline } from "./schema.ts";
import { readTlsMaterial } from "./tls.ts";
import type { CheckedConfig, ResolvedConfig } from "./types.ts";

/** The largest configuration file read, in bytes (1 MiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The machine's own view: interface addresses from
 * `Deno.networkInterfaces()` (IPv4 and IPv6; needs `--allow-sys`). An
 * interface with no address at all is not listed there, so it is looked
 * up in `/sys/class/net` before being called missing.
 */
export function defaultEnv(): ConfigEnv {
  return {
    tlsFileIssues(tls) {
      const read = readTlsMaterial(tls);
      return "issues" in read ? read.issues : [];
    },
    interfaceAddresses(name: string): string[] | undefined {
      const mine = Deno.networkInterfaces().filter((i) => i.name === name);
      if (mine.length === 0) return _linkExists(name) ? [] : undefined;
      return mine.map((i) => i.address);
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

/**
 * Where the key at `path` is written (a list item: where it starts), or
 * else its nearest enclosing key or item; `undefined` for the document.
 */
function _offsetOf(doc: Document, path: PropertyKey[] | undefined): number | undefined {
  for (let keys = path ?? []; keys.length > 0; keys = keys.slice(0, -1)) {
    const parent = keys.length === 1 ? doc.contents : doc.getIn(keys.slice(0, -1), true);
    const last = keys[keys.length - 1];
    if (YAML.isMap(parent)) {
      const pair = parent.items.find((p) =>
        String(YAML.isScalar(p.key) ? p.key.value : p.key) === String(last)
      );
      const offset = YAML.isNode(pair?.key) ? pair.key.range?.[0] : undefined;
      if (offset !== undefined) return offset;
    } else if (YAML.isSeq(parent) && typeof last === "number") {
      const item = parent.items[last];
      const offset = YAML.isNode(item) ? item.range?.[0] : undefined;
      if (offset !== undefined) return offset;
    }
  }
  return undefined;
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
  return _parseText(text, fileName, (raw) => resolveConfig(raw, env));
}

/** {@linkcode parseConfigText} with `resolve` for the last step. */
function _parseText<T>(text: string, fileName: string, resolve: (raw: unknown) => T): T {
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
    return resolve(raw);
  } catch (error) {
    if (error instanceof ConfigError) {
      const located = error.issues.map((issue) => {
        const offset = _offsetOf(doc, parsePath(issue.path));
        return offset === undefined ? issue : { ...issue, at: at(offset) };
      });
      throw new ConfigError(located, { file: fileName });
    }
    throw error;
  }
}

/** What `info` is, in words, for a file that is not a regular one. */
function _kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** Why `info` cannot be a configuration file, or `undefined` when it can. */
function _fileProblem(info: Deno.FileInfo): string | undefined {
  if (!info.isFile) {
    return `not a regular file but ${_kindOf(info)}; give the path of a YAML file`;
  }
  return info.size > MAX_CONFIG_BYTES ? _tooLarge(info.size) : undefined;
}

/** `size` in bytes when known (files in /proc say 0 and are only found out by reading). */
function _tooLarge(size?: number): string {
  const limit = `the 1 MiB (${MAX_CONFIG_BYTES} bytes) a configuration file may have`;
  return size === undefined ? `more than ${limit}` : `${size} bytes, more than ${limit}`;
}

/**
 * The text of a regular file of at most {@linkcode MAX_CONFIG_BYTES}.
 * The path is checked before it is opened (opening a FIFO waits for a
 * writer), the open file again (the path may have changed in between), and
 * at most one byte more than the limit is read (files in /proc say size 0).
 *
 * @returns the text, or the reason the file is refused.
 */
async function _readSmallFile(path: string): Promise<{ text: string } | { problem: string }> {
  const before = _fileProblem(await Deno.stat(path));
  if (before !== undefined) return { problem: before };
  using file = await Deno.open(path, { read: true });
  const opened = _fileProblem(await file.stat());
  if (opened !== undefined) return { problem: opened };
  const buffer = new Uint8Array(MAX_CONFIG_BYTES + 1);
  let length = 0;
  while (length < buffer.length) {
    const n = await file.read(buffer.subarray(length));
    if (n === null) break;
    length += n;
  }
  if (length > MAX_CONFIG_BYTES) return { problem: _tooLarge() };
  return { text: new TextDecoder().decode(buffer.subarray(0, length)) };
}

/**
 * An OS error's message without the `: stat '<path>'` Deno appends: the
 * error already belongs to that file.
 */
function _withoutPath(message: string, path: string): string {
  const suffix = /: \w+ '([^']*)'$/.exec(message);
  return suffix?.[1] === path ? message.slice(0, suffix.index) : message;
}

/**
 * Reads, parses and resolves the configuration file at `path`.
 *
 * @throws {ConfigError} when the file does not exist (`no such file`, the
 * OS error as `cause`), cannot be read (naming the OS reason),
 * is not a regular file, is larger than {@linkcode MAX_CONFIG_BYTES}, is not
 * valid YAML, or breaks a configuration rule. Problems with the file itself
 * have the key path `(file)`.
 */
export async function loadConfig(
  path: string,
  env: ConfigEnv = defaultEnv(),
): Promise<ResolvedConfig> {
  return _parseText(await _readConfigFile(path), path, (raw) => resolveConfig(raw, env));
}

/**
 * Reads, parses and checks the configuration file at `path` for another
 * host, as {@linkcode resolveConfigOffline} does (`check-config --offline`).
 *
 * @throws {ConfigError} as {@linkcode loadConfig} does.
 */
export async function loadConfigOffline(path: string): Promise<CheckedConfig> {
  return _parseText(await _readConfigFile(path), path, resolveConfigOffline);
}

/** The text of the configuration file at `path`; see {@linkcode loadConfig}. */
async function _readConfigFile(path: string): Promise<string> {
  let read: { text: string } | { problem: string };
  try {
    read = await _readSmallFile(path);
  } catch (error) {
    throw new ConfigError([{
      path: FILE_ISSUE_PATH,
      message: error instanceof Deno.errors.NotFound
        ? "no such file"
        : `cannot read the configuration file: ${_withoutPath(_message(error), path)}`,
    }], { file: path, cause: error });
  }
  if ("problem" in read) {
    throw new ConfigError([{ path: FILE_ISSUE_PATH, message: read.problem }], { file: path });
  }
  return read.text;
}
