/**
 * Seeded draws for the fault soak, on the benchmark's mulberry32 generator:
 * the same seed draws the same faults, so a failing run can be replayed with
 * `deno task soak --seed N`.
 *
 * @module
 */
import { prng } from "../bench/stats.ts";

/** Deterministic random numbers from a 32-bit seed. */
export class Rng {
  /** A float in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`Seed ${seed} is not an integer in 0..4294967295`);
    }
    this.next = prng(seed);
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`Empty range ${lo}..${hi}`);
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty list");
    return items[this.int(0, items.length - 1)]!;
  }

  /** One key of `weights`, each drawn in proportion to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    if (!(total > 0)) throw new RangeError("Weights must sum to more than 0");
    let x = this.next() * total;
    for (const [key, w] of entries) {
      x -= w;
      if (x < 0) return key;
    }
    return entries.at(-1)![0];
  }
}

/** A fresh random seed, for runs that were not given one. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
