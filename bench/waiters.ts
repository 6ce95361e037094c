/**
 * Promises that resolve with the time of the event that made a condition
 * true: the benchmark's way to wait on observed state with a timestamp.
 *
 * @module
 */

interface Waiter {
  test: () => boolean;
  resolve: (at: number | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Waiters {
  #waiters = new Set<Waiter>();

  /**
   * Resolves with the time passed to the {@linkcode check} that found
   * `test()` true (now, if it already holds), or `undefined` after
   * `timeoutMs`. `test` runs on every check: keep it cheap.
   */
  until(test: () => boolean, timeoutMs: number): Promise<number | undefined> {
    if (test()) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        test,
        resolve,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve(undefined);
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Re-tests every waiter after a change observed at `at`. */
  check(at: number): void {
    for (const waiter of this.#waiters) {
      if (!waiter.test()) continue;
      this.#waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(at);
    }
  }

  /** Resolves every pending waiter with `undefined`. */
  close(): void {
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    this.#waiters.clear();
  }
}
