/**
 * The calls a tessera thread is running, for `mosaic.signal()`: the
 * AbortSignal that `task.cancel()` aborts. Async methods of several tesserae
 * (or of one with maxConcurrency) interleave on a thread, so an async call
 * carries its task id in an AsyncLocalStorage context across its awaits; a
 * synchronous one is simply the call running now. Controllers are made only
 * when a method asks for its signal, or when a running call is cancelled.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import { RuntimeStateError } from "../errors.ts";

/**
 * Made with the first call that runs in a context: node:async_hooks costs a
 * new thread ~0.6 ms to load, and the head and a worker's main thread, which
 * import this module too, never run a method.
 */
let context: AsyncLocalStorage<number> | undefined;

function callContext(): AsyncLocalStorage<number> {
  return (context ??= new (require("node:async_hooks") as typeof import("node:async_hooks")).AsyncLocalStorage<number>());
}
/** The synchronous call running now (or the start of an async one, up to its first await). */
let current: number | undefined;
/** The tessera (wire id) of the synchronous call running now. */
let currentTessera = 0;
/** Async calls started and not ended, with their tessera's wire id. */
const awaiting = new Map<number, number>();
const controllers = new Map<number, AbortController>();

const AsyncFunction = (async () => {}).constructor;

/**
 * Methods seen to return a plain value: they run without a context (one costs
 * ~30-50 ns a call). Any other method runs in one: an async method, or one that
 * returns a promise without being async, whose continuations (a `.then` made
 * while it ran) must still name its task and tessera (a call on its own
 * tessera from there is a deadlock the head must see).
 */
const plainMethods = new WeakSet<Function>();

function isThenable(value: unknown): boolean {
  return value !== null && typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Runs `method` on `self` with `args` in a context that names its task across
 * awaits, unless it is known to return plain values (then without a closure).
 */
export function runCall(task: number, method: Function, self: unknown, args: unknown[], tessera = 0): unknown {
  current = task;
  currentTessera = tessera;
  try {
    if (plainMethods.has(method)) {
      const result = method.apply(self, args);
      // Plain before, a promise now: its later calls run in a context (this one's continuations go unnamed).
      if (isThenable(result)) plainMethods.delete(method);
      return result;
    }
    awaiting.set(task, tessera);
    const result = callContext().run(task, () => method.apply(self, args));
    if (!(method instanceof AsyncFunction) && !isThenable(result)) plainMethods.add(method);
    return result;
  } finally {
    current = undefined;
    currentTessera = 0;
  }
}

/** The wire id of the tessera whose method runs now (0: none), for nested calls (a call on itself would wait for itself). */
export function callingTessera(): number {
  const task = context?.getStore();
  return task !== undefined ? (awaiting.get(task) ?? 0) : current !== undefined ? currentTessera : 0;
}

/** A constructor running here now (see runConstructor). */
let constructing = false;

/** Runs a tessera's constructor: inCall() holds while it runs. */
export function runConstructor<T>(construct: () => T): T {
  constructing = true;
  try {
    return construct();
  } finally {
    constructing = false;
  }
}

/** Whether a tessera method, constructor or remote function runs here now (its own code, or an async call's continuation). */
export function inCall(): boolean {
  return current !== undefined || constructing || context?.getStore() !== undefined;
}

/** A call ended: its controller, if any, goes. */
export function endCall(task: number): void {
  awaiting.delete(task);
  if (controllers.size > 0) controllers.delete(task);
}

/** Aborts the signal of `task` if it is running (one that asks for its signal later gets it aborted); returns whether it runs. */
export function abortIfRunning(task: number, reason: Error): boolean {
  if (current !== task && !awaiting.has(task)) return false;
  let controller = controllers.get(task);
  if (!controller) controllers.set(task, (controller = new AbortController()));
  controller.abort(reason);
  return true;
}

/**
 * Inside a tessera method: the AbortSignal that `task.cancel()` aborts while
 * this call runs (an async method reads it between its awaits; a synchronous
 * one cannot be interrupted).
 */
export function signal(): AbortSignal {
  const task = context?.getStore() ?? current;
  if (task === undefined) throw new RuntimeStateError("mosaic.signal() is for tessera methods, while they run");
  let controller = controllers.get(task);
  if (!controller) controllers.set(task, (controller = new AbortController()));
  return controller.signal;
}
