/**
 * `runtime.barrier()`: waits until no task submitted from this head is
 * pending. The task tracker wakes the waiters when its last pending task
 * completes.
 */
import { TimeoutError } from "../../errors.ts";

export class Barrier {
  #waiters: (() => void)[] = [];
  readonly #pending: () => number;

  /** `pending`: how many tasks are pending now. */
  constructor(pending: () => number) {
    this.#pending = pending;
  }

  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  /** Resolves when nothing is pending; with a timeout (ms), rejects with TimeoutError if tasks remain then. */
  wait(timeout?: number): Promise<void> {
    if (this.#pending() === 0) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    let timer: Timer | undefined;
    const wake = () => {
      clearTimeout(timer);
      resolve();
    };
    this.#waiters.push(wake);
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        reject(new TimeoutError(`barrier: ${this.#pending()} tasks still pending after ${timeout} ms`));
      }, timeout);
    }
    return promise;
  }

  /** Nothing is pending any more. */
  wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
