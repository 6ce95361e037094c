/**
 * Capped exponential backoff with jitter, shared by every retry loop.
 *
 * @module
 */

/**
 * Delay before retry number `failures` (1 = first retry): `min · 2^(failures-1)`,
 * capped at `max`, then scaled by a random factor in [0.5, 1) so that many
 * nodes retrying together spread out.
 */
export function backoffDelay(failures: number, min: number, max: number): number {
  const base = Math.min(max, min * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
  return Math.round(base * (0.5 + Math.random() / 2));
}
