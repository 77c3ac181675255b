/**
 * The call a tessera thread is running, for `mosaic.signal()`: the
 * AbortSignal that `task.cancel()` aborts. Made only when a method asks for
 * it, so calls that never ask pay two assignments.
 */
import { RuntimeStateError } from "../errors.ts";

let runningTask: number | undefined;
let controller: AbortController | undefined;

/** A call starts (undefined: none runs now). */
export function enterCall(task: number | undefined): void {
  runningTask = task;
  controller = undefined;
}

/** Calls of a concurrent tessera still running after their first await, with the signal they asked for. */
const detached = new Map<number, AbortController | undefined>();

/** The running call awaits while the next starts (a tessera with maxConcurrency > 1): it stays cancellable. */
export function detachCall(): void {
  if (runningTask !== undefined) detached.set(runningTask, controller);
}

/** A detached call ended. */
export function endDetached(task: number): void {
  detached.delete(task);
}

/** Aborts the signal of `task` if it is a call running now (and asked for its signal); returns whether it is running. */
export function abortIfRunning(task: number, reason: Error): boolean {
  if (detached.has(task)) {
    detached.get(task)?.abort(reason);
    return true;
  }
  if (runningTask !== task) return false;
  controller?.abort(reason);
  return true;
}

/**
 * Inside a tessera method: the AbortSignal that `task.cancel()` aborts while
 * this call runs (an async method reads it between its awaits; a synchronous
 * one cannot be interrupted).
 */
export function signal(): AbortSignal {
  if (runningTask === undefined) throw new RuntimeStateError("mosaic.signal() is for tessera methods, while they run");
  return (controller ??= new AbortController()).signal;
}
