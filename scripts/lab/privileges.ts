/**
 * Gate for tests that need root (network namespaces): skipped with a
 * printed reason on a developer machine, a failure in CI (`CI=true`).
 *
 * @module
 */

/** Whether this process runs as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** Whether `CI` is set to "true" (or "1"). */
export function inCi(): boolean {
  const ci = Deno.env.get("CI")?.toLowerCase();
  return ci === "true" || ci === "1";
}

/**
 * Decides how a root-only test runs: returns `ignore: true` (and prints why)
 * when not root outside CI; in CI `ignore` is false and `check()` throws, so
 * the test fails instead of passing silently.
 */
export function rootOnly(
  what: string,
  env: { root?: boolean; ci?: boolean; print?: (line: string) => void } = {},
): { ignore: boolean; check: () => void } {
  const root = env.root ?? isRoot();
  const ci = env.ci ?? inCi();
  if (!root && !ci) {
    (env.print ?? console.log)(`skipping ${what}: needs root for network namespaces`);
  }
  return {
    ignore: !root && !ci,
    check: () => {
      if (!root) {
        throw new Error(`${what} needs root for network namespaces, and CI=true: failing`);
      }
    },
  };
}
