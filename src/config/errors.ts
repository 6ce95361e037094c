/**
 * The one error the config layer throws.
 *
 * @module
 */

/** One reason a configuration was refused. */
export interface ConfigIssue {
  /**
   * Where the problem is: a key path such as `vnis[1].community`, `""` for
   * the whole document, or `<file>:<line>:<col>` / `<file>` for problems
   * found before the document could be read as data.
   */
  path: string;
  /** Why it was refused, in words, quoting the offending value. */
  message: string;
}

/** Options for {@linkcode ConfigError}. */
export interface ConfigErrorOptions {
  /** The underlying error (an OS error, a YAML error). */
  cause?: unknown;
  /** The configuration file the issues belong to, when there is one. */
  file?: string;
}

/**
 * A configuration was refused. Carries every issue found, not just the
 * first; the message lists them one per line as `<path>: <reason>`.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** Every issue found, in document order where possible. */
  readonly issues: ConfigIssue[];
  /** The configuration file, when the configuration came from one. */
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], options: ConfigErrorOptions = {}) {
    super(
      issues.map(formatIssue).join("\n"),
      "cause" in options ? { cause: options.cause } : undefined,
    );
    this.issues = issues;
    this.file = options.file;
  }
}

/** Renders one issue as `<path>: <reason>` (`(root): <reason>` for the document itself). */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path === "" ? "(root)" : issue.path}: ${issue.message}`;
}
