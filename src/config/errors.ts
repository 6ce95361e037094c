/**
 * The one error the config layer throws.
 *
 * @module
 */

/** One reason a configuration was refused. */
export interface ConfigIssue {
  /**
   * Where the problem is: a key path such as `vnis[1].community`, `""` for
   * the whole document, `(file)` ({@linkcode FILE_ISSUE_PATH}) for the
   * file itself (unreadable, not a regular file, too large), or
   * `<file>:<line>:<col>` / `<file>` for problems found before the document
   * could be read as data.
   */
  path: string;
  /** Why it was refused, in words, quoting the offending value. */
  message: string;
  /**
   * Where in the file, as `<file>:<line>:<col>` (of the key, or of the
   * nearest enclosing item when the key is absent); unset when unknown.
   */
  at?: string;
}

/** The path of an issue with the configuration file itself rather than its content. */
export const FILE_ISSUE_PATH = "(file)";

/** How many issues of one kind a {@linkcode ConfigError}'s message lists; the rest are counted. */
export const SHOWN_PER_KIND = 20;

/** Options for {@linkcode ConfigError}. */
export interface ConfigErrorOptions {
  /** The underlying error (an OS error, a YAML error). */
  cause?: unknown;
  /** The configuration file the issues belong to, when there is one. */
  file?: string;
}

/**
 * A configuration was refused. Carries every issue found, not just the
 * first; the message lists them one per line as `<path>: <reason>`, at most
 * {@linkcode SHOWN_PER_KIND} of each kind (see {@linkcode formatIssues}).
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** Every issue found, in document order where possible. */
  readonly issues: ConfigIssue[];
  /** The configuration file, when the configuration came from one. */
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], options: ConfigErrorOptions = {}) {
    super(
      formatIssues(issues),
      "cause" in options ? { cause: options.cause } : undefined,
    );
    this.issues = issues;
    this.file = options.file;
  }
}

function _shownPath(issue: ConfigIssue): string {
  return issue.path === "" ? "(root)" : issue.path;
}

/**
 * Renders one issue as `[<file>:<line>:<col>: ]<path>: <reason>`
 * (`(root): <reason>` for the document itself).
 */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.at === undefined ? "" : `${issue.at}: `}${_shownPath(issue)}: ${issue.message}`;
}

/**
 * What makes issues "of the same kind": the same key and reason once list
 * indices, other numbers and quoted values are set aside, as in
 * `vnis[17].id: VNI 70017 is above 65535` and `vnis[18].id: VNI 70018 ...`.
 */
function _kind(issue: ConfigIssue): string {
  const mask = (text: string) => text.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\d+/g, "#");
  return `${mask(issue.path)}\n${mask(issue.message)}`;
}

/**
 * Renders issues one per line in their order, but only the first
 * `perKind` of each kind; each kind with more ends the text with
 * `... and <N> more of the same kind as <path of the last one shown>`.
 */
export function formatIssues(issues: readonly ConfigIssue[], perKind = SHOWN_PER_KIND): string {
  const kinds = new Map<string, { count: number; lastShown: ConfigIssue }>();
  const lines: string[] = [];
  for (const issue of issues) {
    const key = _kind(issue);
    const kind = kinds.get(key) ?? { count: 0, lastShown: issue };
    kinds.set(key, kind);
    kind.count++;
    if (kind.count > perKind) continue;
    kind.lastShown = issue;
    lines.push(formatIssue(issue));
  }
  for (const { count, lastShown } of kinds.values()) {
    if (count > perKind) {
      lines.push(`... and ${count - perKind} more of the same kind as ${_shownPath(lastShown)}`);
    }
  }
  return lines.join("\n");
}
