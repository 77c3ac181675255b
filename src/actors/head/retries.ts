/**
 * Surviving failures, as Ray (`max_restarts`, `max_task_retries`,
 * `retry_exceptions`) and the original (`max_retries`) do: a tessera whose
 * worker or thread died is made again on a live worker (its constructor runs
 * again with the original arguments) and the calls it had not started run
 * there, in call order; a call that failed runs again while its retries last.
 *
 * Each attempt is a new call with a new wire id (the worker that ran the
 * failed one may still know the old id, as failed or abandoned). A worker
 * whose call waits for a retried task's result fetches it from where the
 * task ran before, fails there, and asks the head where it went (`locate`):
 * dependents wait for the retry instead of failing.
 */
import { Recent } from "../../_util/recent.ts";
import { ConnectionClosedError, type ErrorDescription, InvalidArgumentError, localError, RemoteError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import type { ActorClient } from "./actor-client.ts";
import { nextWireId } from "./ids.ts";
import { FIRST_ID, PLACEMENT, REKEY, type TaskProxy } from "./task-proxy.ts";
import type { QueuedCall, TesseraHandle } from "./tessera-handle.ts";

/** When a call runs again (per call, or as a tessera's default for its calls). */
export interface RetryOptions {
  /**
   * How many more times a call may run after a failure that is retried: the
   * death of its worker or thread while it was running (the tessera must
   * restart, see `maxRestarts`), and exceptions as `retryExceptions` says.
   * Default 0. -1: no limit.
   */
  maxRetries?: number;
  /**
   * Which exceptions thrown by the method are retried (within `maxRetries`):
   * true (all), or the names of the error classes (`error.name`). Default
   * false: an exception fails the task at once. Failures of the runtime
   * (a dependency that failed, an unknown method, a stopped runtime) never are.
   */
  retryExceptions?: boolean | readonly string[];
}

/** A call's retries: its options resolved, and how many it used. */
export interface CallRetry {
  readonly maxRetries: number;
  readonly retryExceptions: boolean | readonly string[];
  attempts: number;
}

/** Errors of the runtime, not of the method: retrying the call could not help. */
const NOT_RETRIED = new Set(["DEPENDENCY_FAILED", "UNKNOWN_TESSERA_METHOD", "UNKNOWN_METHOD", "RUNTIME_STATE", "CANCELLED"]);

/** Checks retry options (`what` names where they were given). */
export function checkRetryOptions(options: RetryOptions & { maxRestarts?: number }, what: string): void {
  for (const key of ["maxRetries", "maxRestarts"] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= -1)) {
      throw new InvalidArgumentError(`${what}: ${key} must be an integer >= -1 (-1: no limit), got ${String(value)}`);
    }
  }
  const retry = options.retryExceptions;
  if (retry !== undefined && typeof retry !== "boolean" && !(Array.isArray(retry) && retry.every((name) => typeof name === "string"))) {
    throw new InvalidArgumentError(`${what}: retryExceptions must be true, false or a list of error class names, got ${String(retry)}`);
  }
}

/**
 * The retries of a call, from its own options and its tessera's defaults
 * (undefined: none). Calls without options of their own share their
 * tessera's: the first retry of one gives it a count of its own (ownRetry).
 */
export function callRetry(defaults: RetryOptions | undefined, options: RetryOptions | undefined): CallRetry | undefined {
  const maxRetries = options?.maxRetries ?? defaults?.maxRetries ?? 0;
  if (maxRetries === 0) return undefined;
  return { maxRetries, retryExceptions: options?.retryExceptions ?? defaults?.retryExceptions ?? false, attempts: 0 };
}

/** The call's retries, counted for it alone from now on (a copy of shared ones, the first time). */
function ownRetry(queued: QueuedCall): CallRetry | undefined {
  const retry = queued.retry;
  if (!retry || retry.attempts !== 0) return retry;
  return (queued.retry = { ...retry });
}

function retriesLeft(retry: CallRetry | undefined): retry is CallRetry {
  return retry !== undefined && (retry.maxRetries < 0 || retry.attempts < retry.maxRetries);
}

/** A failure that says the worker or thread holding a tessera is gone (not that its method failed). */
export function isSystemFailure(error: Error): boolean {
  return error instanceof WorkerDiedError || error instanceof ConnectionClosedError || (error instanceof RemoteError && error.remoteCode === "WORKER_DIED");
}

/** Whether the tessera is made again when its worker or thread dies. */
export function restartable(handle: TesseraHandle): boolean {
  return handle.maxRestarts < 0 || handle.restarts < handle.maxRestarts;
}

export class Recovery {
  readonly #client: ActorClient;
  /** Wire ids of earlier attempts of tasks still pending → the task. */
  readonly #renamed = new Map<number, TaskProxy<any>>();
  /** Wire ids of earlier attempts of tasks that settled → where the result is ([worker, id]), or why it failed. */
  readonly #settled = new Recent<number, [string, number] | Error>(4096);

  constructor(client: ActorClient) {
    this.#client = client;
  }

  /** Some pending task runs under another id than before (settling one then needs `settled`). */
  get renaming(): boolean {
    return this.#renamed.size > 0;
  }

  /**
   * The worker or thread holding the tessera died (`error`). While its
   * restarts last, it is placed again and its calls that were sent and not
   * reported done are sent again after its creation, in order, except the
   * first of them: it may have been running, and runs again only within its
   * retries (at most once otherwise). Returns false when it is not restarted.
   */
  restart(handle: TesseraHandle, error: Error): boolean {
    const client = this.#client;
    if (handle.state === "released" || handle.state === "failed" || client.stopping || !restartable(handle)) return false;
    handle.restarts++;
    const died = handle.worker ?? handle.assigned;
    const replay: QueuedCall[] = [];
    // The calls that may have been running: the first, or the first maxConcurrency of a concurrent tessera.
    let running = handle.maxConcurrency;
    // In the order they were sent (their ids are in the order they were made; a retry goes ahead of calls made before it).
    const inFlight = [...(handle.inFlight?.values() ?? [])].sort((a, b) => a.sendOrder - b.sendOrder);
    for (const queued of inFlight) {
      if (queued.task.state === "done" || queued.task.state === "failed") continue;
      if (running > 0) {
        running--;
        const retry = ownRetry(queued);
        if (!retriesLeft(retry)) {
          const notRerun = new WorkerDiedError(
            died ?? "worker",
            `${queued.task.uid} (${handle.className}.${queued.task.method}) may have been running when ${error.message}; its tessera was restarted, the call was not run again (set maxRetries to run it again)`,
            { cause: error },
          );
          client.tasks.complete(queued.task, notRerun);
          continue;
        }
        retry.attempts++;
      }
      replay.push(queued);
    }
    handle.inFlight?.clear();
    for (const queued of replay) {
      queued.outOfOrder = false; // the new thread runs them all in this order
      this.#rekey(queued.task);
    }
    handle.outbox.unshift(...replay);
    handle.worker = handle.assigned = handle.direct = handle.resultSizes = handle.lastSmall = undefined;
    handle.creating = false;
    handle.sent = 0;
    handle.id = nextWireId(); // a worker that saw it before (its thread died) may still hold the old one
    handle.state = "restarting";
    const before = handle.readiness;
    handle.readiness = Promise.withResolvers();
    handle.readiness.promise.catch(() => {});
    // Whoever awaits the proxy already (its first creation had not finished) waits for this one.
    before.resolve(handle.readiness.promise);
    client.placement.forget(handle);
    const events = client.events;
    if (events.wants("tessera.restarting")) {
      events.emit({ type: "tessera.restarting", tessera: handle.uid, className: handle.className, worker: died, restarts: handle.restarts, replayed: replay.length, error, time: Date.now() });
    }
    client.placement.place(handle);
    return true;
  }

  /**
   * A call's failure was reported. Returns true when it runs again (the task
   * stays pending) or was settled here: an exception its retries allow runs
   * as a new call at the end of its tessera's order; the loss of its thread
   * (reported by its worker) fails the tessera, which restarts it (the
   * thread's own link may never have been up, so its closing is not awaited).
   */
  retryFailed(task: TaskProxy<any>, error: ErrorDescription): boolean {
    const handle = task[PLACEMENT] as TesseraHandle;
    const queued = handle.inFlight?.get(task.id);
    if (!queued) return false;
    if (error.code === "WORKER_DIED") {
      if (!restartable(handle) || handle.state === "released") return false;
      this.#client.failures.fail(handle, localError(error));
      return true;
    }
    const retry = ownRetry(queued);
    if (!retriesLeft(retry) || retry.retryExceptions === false || NOT_RETRIED.has(error.code)) return false;
    if (retry.retryExceptions !== true && !retry.retryExceptions.includes(error.name)) return false;
    retry.attempts++;
    handle.inFlight!.delete(task.id);
    this.#rekey(task);
    const events = this.#client.events;
    if (events.wants("task.retried")) {
      events.emit({ type: "task.retried", task: task.uid, tessera: handle.uid, method: task.method, attempt: retry.attempts, error: new RemoteError(error), time: Date.now() });
    }
    // Ahead of everything: calls made after it (on this tessera or others) may wait for its result.
    queued.outOfOrder = true;
    handle.outbox.unshift(queued);
    handle.flush();
    return true;
  }

  /** A task that ran under other ids settled: where its result is (or why it failed) is kept for late `locate`s. */
  settled(task: TaskProxy<any>): void {
    for (const [id, renamed] of this.#renamed) {
      if (renamed !== task) continue;
      this.#renamed.delete(id);
      this.#settled.set(id, task.state === "done" ? [task.runtime!, task.id] : task.error!);
    }
  }

  /**
   * Where the result of the task once sent as `id` is: [worker, id] once it is
   * done (after a retry, a new place), or its error. Waits while it is pending.
   */
  locate(id: number): Promise<[string, number]> {
    const known = this.#settled.get(id);
    if (known) return known instanceof Error ? Promise.reject(known) : Promise.resolve(known);
    const task = this.#renamed.get(id) ?? this.#client.tasks.pending(id);
    if (!task) return Promise.reject(new RuntimeStateError(`task #${id} is neither pending nor retried on this head`));
    return task.then(() => [task.runtime!, task.id]);
  }

  #rekey(task: TaskProxy<any>): void {
    const previous = task.id;
    task[REKEY](nextWireId());
    this.#renamed.set(previous, task);
    this.#client.tasks.rekey(previous, task);
    this.#client.releases.renamed(task[FIRST_ID], task.id);
  }
}
