/**
 * Polling helpers for tests and the lab: wait on observed state, never sleep
 * blindly.
 *
 * @module
 */

/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Delay between two probes, in milliseconds. @default 150 */
  intervalMs?: number;
}

/** Thrown by {@linkcode waitFor} when the condition did not hold in time. */
export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
  /** The last value the probe returned, or the last error it threw. */
  readonly lastObserved: unknown;
  constructor(message: string, lastObserved: unknown, options?: ErrorOptions) {
    super(message, options);
    this.lastObserved = lastObserved;
  }
}

/**
 * Thrown by a probe to end {@linkcode waitFor} at once, for a condition that
 * can no longer come true (say, the process that should produce it exited).
 * `waitFor` rethrows it unchanged.
 */
export class StopWaiting extends Error {
  override name = "StopWaiting";
}

/** A promise that resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Calls `probe` until it succeeds: it succeeds when it returns (or resolves
 * to) anything but `false` without throwing. Returns that value.
 *
 * A probe may throw (for example an `assert.deepEqual` that does not hold
 * yet): on timeout the last error's message, which then carries the actual
 * and expected values, is part of the thrown message, so a failure reads
 * `Timed out after 10000 ms waiting for spoke1 vxlan10010 flood list; last
 * observed: Expected values to be strictly deep-equal: ...`.
 *
 * @param what names the awaited condition in the error message
 * @throws {WaitTimeoutError} when `timeoutMs` passes first
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  options: WaitForOptions = {},
): Promise<Exclude<T, false>> {
  const interval = options.intervalMs ?? 150;
  const start = performance.now();
  let last: unknown = undefined;
  let lastError: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false) return value as Exclude<T, false>;
      last = value;
      lastError = undefined;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
      last = err;
    }
    const elapsed = performance.now() - start;
    if (elapsed >= timeoutMs) {
      throw new WaitTimeoutError(
        `Timed out after ${Math.round(elapsed)} ms waiting for ${what}; last observed: ${
          describe(last)
        }`,
        last,
        lastError === undefined ? undefined : { cause: lastError },
      );
    }
    await delay(Math.min(interval, Math.max(0, timeoutMs - elapsed)));
  }
}
