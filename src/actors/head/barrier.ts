/**
 * `runtime.barrier()`: waits until no task submitted from this head is
 * pending, and says which failed since the previous barrier (a program that
 * loses workers carries on and learns what to run again). The task tracker
 * wakes the waiters when its last pending task completes.
 */
import { TimeoutError } from "../../errors.ts";
import type { TaskProxy } from "./task-proxy.ts";

/** What a barrier found. */
export interface BarrierReport {
  /** Tasks that failed since the previous barrier returned (their `error` says why), in the order they failed; at most MAX_FAILED_LISTED. */
  failed: TaskProxy<any>[];
  /** How many failed in all since then (more than `failed.length` past MAX_FAILED_LISTED). */
  failedCount: number;
}

/** Failed tasks a barrier lists at most (a program failing millions of calls must not keep them all). */
export const MAX_FAILED_LISTED = 10_000;

export class Barrier {
  #waiters: ((report: BarrierReport) => void)[] = [];
  readonly #pending: () => number;
  #failed: TaskProxy<any>[] = [];
  #failedCount = 0;

  /** `pending`: how many tasks are pending now. */
  constructor(pending: () => number) {
    this.#pending = pending;
  }

  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  /** A task failed: the next barrier reports it. */
  failed(task: TaskProxy<any>): void {
    this.#failedCount++;
    if (this.#failed.length < MAX_FAILED_LISTED) this.#failed.push(task);
  }

  #report(): BarrierReport {
    const report = { failed: this.#failed, failedCount: this.#failedCount };
    this.#failed = [];
    this.#failedCount = 0;
    return report;
  }

  /** Resolves when nothing is pending; with a timeout (ms), rejects with TimeoutError if tasks remain then. */
  wait(timeout?: number): Promise<BarrierReport> {
    if (this.#pending() === 0) return Promise.resolve(this.#report());
    const { promise, resolve, reject } = Promise.withResolvers<BarrierReport>();
    let timer: Timer | undefined;
    const wake = (report: BarrierReport) => {
      clearTimeout(timer);
      resolve(report);
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

  /** Nothing is pending any more: every waiter gets the same report. */
  wake(): void {
    const waiters = this.#waiters.splice(0);
    if (waiters.length === 0) return;
    const report = this.#report();
    for (const wake of waiters) wake(report);
  }
}
