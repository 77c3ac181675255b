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

/** Aborts the signal of `task` if it is the call running now (and asked for its signal); returns whether it is running. */
export function abortIfRunning(task: number, reason: Error): boolean {
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
