/**
 * Deferred callbacks. A zero delay uses `setImmediate`, which runs right
 * after the I/O callbacks of the current turn (about 10 µs here), where
 * Deno's `setTimeout(fn, 0)` takes about 2 ms: that difference was most of
 * the agent's own route-to-kernel latency. Bursts delivered in one turn
 * still coalesce into one callback.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

/** A timer handle, as returned by `setTimeout`. */
export type TimerId = ReturnType<typeof setTimeout>;

/** Cancels what `later` scheduled; calling it after the callback ran is harmless. */
export type Cancel = () => void;

/** Runs `fn` after `ms` milliseconds, or as soon as this turn's I/O is handled when `ms` is 0. */
export function later(fn: () => void, ms: number): Cancel {
  if (ms <= 0) {
    const id = setImmediate(fn);
    return () => clearImmediate(id);
  }
  const id = setTimeout(fn, ms);
  return () => clearTimeout(id);
}
