/**
 * Tasks submitted from this head until they complete: completions as
 * workers and tessera threads report them (with small results inline),
 * failures named after their task, results fetched from workers, and the
 * task events (submitted/done/failed) while someone listens.
 */
import { WithPayloads } from "../../comms/connection.ts";
import { IdTable } from "../../_util/id-table.ts";
import { CancelledError, ConnectionClosedError, describeError, type ErrorDescription, localError, RemoteError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import type { EventStream } from "../../observe/events.ts";
import { NOT_PLAIN_VALUE } from "../wire/argument-bytes.ts";
import { decodeValue } from "../wire/value-codec.ts";
import type { ActorClient } from "./actor-client.ts";
import { Barrier } from "./barrier.ts";
import { ARRIVED, DIRECT, GENERATION, inlineResultOf, MARK_STARTED, PLACEMENT, plainInlineResultOf, RESULT_ASKED, RESULT_COMES, RESULT_FETCHED, RESULT_STAYS, resultOf, type ResultRoute, SENT_TO, settleTask, type TaskOwner, type TaskProxy, WANTS_RESULT } from "./task-proxy.ts";
import type { TesseraHandle } from "./tessera-handle.ts";
import { uidSuffix } from "./ids.ts";

/**
 * What a tessera's method's results were like (TesseraHandle.resultSizes),
 * which decides how `result()` gets the next (see TaskTracker.resultRoute):
 * SIZE_SMALL, they came with their completions; SIZE_ASKED, none came yet and
 * one `result()` asked its thread; SIZE_LARGE, the last stayed on the worker;
 * SIZE_HUGE, its thread said one asked for was too large to come that way:
 * fetched at once until one comes with its completion.
 */
export type ResultSize = typeof SIZE_SMALL | typeof SIZE_ASKED | typeof SIZE_LARGE | typeof SIZE_HUGE;
const SIZE_SMALL = 0;
const SIZE_ASKED = 1;
const SIZE_LARGE = 2;
const SIZE_HUGE = 3;

function noteSmall(handle: TesseraHandle, method: string): void {
  (handle.resultSizes ??= new Map()).set(method, SIZE_SMALL);
  handle.lastSmall = method;
}

/** `task`'s result stayed on its worker (`huge`: its thread said it was too large to come when asked). */
function noteLarge(handle: TesseraHandle, method: string, huge = false): void {
  const sizes = (handle.resultSizes ??= new Map());
  if (handle.lastSmall === method) handle.lastSmall = undefined;
  sizes.set(method, huge || sizes.get(method) === SIZE_HUGE ? SIZE_HUGE : SIZE_LARGE);
}

export class TaskTracker implements TaskOwner {
  readonly #client: ActorClient;
  readonly #events: EventStream;
  /** Tasks submitted and not completed, by id (ids are given in submission order). */
  readonly #pending = new IdTable<TaskProxy<any>>();
  readonly barrier = new Barrier(() => this.#pending.size);

  constructor(client: ActorClient, events: EventStream) {
    this.#client = client;
    this.#events = events;
  }

  get stoppedReason(): string | undefined {
    return this.#client.stoppedReason;
  }

  uidSuffix(id: number): string {
    return uidSuffix(id);
  }

  /** Pending tasks, in submission order. */
  values(): IterableIterator<TaskProxy<any>> {
    return this.#pending.values();
  }

  /** The pending task sent as `id` now. */
  pending(id: number): TaskProxy<any> | undefined {
    return this.#pending.get(id);
  }

  /** A retried task runs under a new wire id (see Recovery). */
  rekey(previous: number, task: TaskProxy<any>): void {
    if (!this.#pending.delete(previous)) return;
    this.#pending.set(task.id, task);
  }

  /** What settling a task ends besides: its arguments kept for a retry, the earlier ids it ran under. */
  #settled(task: TaskProxy<any>, handle: TesseraHandle): void {
    if (handle.inFlight?.delete(task.id) && handle.inFlight.size === 0) handle.onCallEnded();
    if (this.#client.recovery.renaming) this.#client.recovery.settled(task);
  }

  track(task: TaskProxy<any>, tessera: TesseraHandle): void {
    this.#pending.set(task.id, task);
    this.#client.releases.watchTask(task, tessera);
  }

  /** A worker says the task sent as `id` started on its thread at `time` (its task.started event, or a resource sample). */
  onStarted(id: number, time: number): void {
    this.#pending.get(id)?.[MARK_STARTED](time);
  }

  /** Tasks submitted and not ended: pending (not started, or not known to have started) and running. */
  counts(): { pending: number; running: number } {
    let running = 0;
    for (const task of this.#pending.values()) if (task.state === "running") running++;
    return { pending: this.#pending.size - running, running };
  }

  /** Pending tasks of one tessera, in call order (a scan: only for failures). */
  on(handle: TesseraHandle): TaskProxy<any>[] {
    return [...this.#pending.values()].filter((task) => task[PLACEMENT] === handle);
  }

  /** Settles a task (error: failed) and lets it go from the pending set. */
  complete(task: TaskProxy<any>, error?: ErrorDescription | Error): void {
    const pending = this.#pending.delete(task.id);
    settleTask(task, error);
    if (pending) this.#settled(task, task[PLACEMENT] as TesseraHandle);
    if (error && pending) {
      // Kept for the next barrier: it must not keep its generation's results on the workers (it has none itself).
      task[GENERATION] = undefined;
      this.barrier.failed(task);
    }
    if (pending && this.#events.wants(error ? "task.failed" : "task.done")) this.#ended(task, undefined);
    if (this.#pending.size === 0 && this.barrier.waiting) this.barrier.wake();
  }

  /** The done or failed event, when wanted (`resultBytes`: the inline result's size). */
  #ended(task: TaskProxy<any>, resultBytes: number | undefined): void {
    const failed = task.state === "failed";
    if (!this.#events.wants(failed ? "task.failed" : "task.done")) return;
    const { submitted, started, ended } = task.times;
    const fields = { task: task.uid, id: task.id, tessera: task.tessera, method: task.method, worker: task.runtime, submitted, started, ended: ended ?? Date.now() };
    this.#events.emit(failed ? { type: "task.failed", ...fields, error: task.error! } : { type: "task.done", ...fields, resultBytes });
  }

  /**
   * Tessera threads report completions with their small results: task ids,
   * each one's result size (-1: too large, left on the worker), and the
   * results end to end.
   */
  onDone([tasks, sizes, results]: [number[], number[], Uint8Array]): void {
    const observed = this.#events.wants("task.done");
    // They came in one message: one reading of the clock for all (a reading per task was ~5% of a pipelined call).
    const ended = Date.now();
    let at = 0;
    for (let i = 0; i < tasks.length; i++) {
      const size = sizes[i]!;
      // Its bytes of `results` (memory of its own, decoded from the message, small, shared by the batch's tasks).
      const from = at;
      if (size > 0) at += size;
      const task = this.#pending.get(tasks[i]!);
      if (!task) continue;
      const handle = task[PLACEMENT] as TesseraHandle;
      if (size >= 0) {
        if (handle.lastSmall !== task.method) noteSmall(handle, task.method);
      } else noteLarge(handle, task.method);
      this.#pending.delete(task.id);
      if (size >= 0) settleTask(task, undefined, results, from, from + size, ended);
      else settleTask(task, undefined, undefined, 0, 0, ended);
      if (handle.inFlight) this.#settled(task, handle);
      if (observed) this.#ended(task, size >= 0 ? size : undefined);
    }
    if (this.#pending.size === 0 && this.barrier.waiting) this.barrier.wake();
  }

  /**
   * How `result()` gets a result (see TaskOwner.resultRoute and ResultSize):
   * the thread is asked for it (wantResult) when its method's last result
   * stayed on the worker (fetched at once if one asked for stayed there too),
   * or when none came yet and no `result()` of that method's calls asked yet
   * (one ask, not one per task of a loop that awaits them all: the others wait
   * for their completions, and fetch theirs then if they are large).
   */
  resultRoute(task: TaskProxy<any>): ResultRoute {
    const handle = task[PLACEMENT] as TesseraHandle;
    if (handle.lastSmall === task.method) return RESULT_COMES;
    const size = handle.resultSizes?.get(task.method);
    return size === undefined ? RESULT_ASKED : size === SIZE_LARGE ? RESULT_STAYS : size === SIZE_HUGE ? RESULT_FETCHED : RESULT_COMES;
  }

  asked(task: TaskProxy<any>): void {
    const handle = task[PLACEMENT] as TesseraHandle;
    if (!handle.resultSizes?.has(task.method)) (handle.resultSizes ??= new Map()).set(task.method, SIZE_ASKED);
  }

  /**
   * Asks the thread a call went straight to for its result with the
   * completion: a `want` on the thread's link, after the call (see
   * thread/outbox.ts). False where the call went through its worker's main
   * thread (or the link is gone): the worker is asked instead.
   */
  wantResult(task: TaskProxy<any>): boolean {
    const link = (task[PLACEMENT] as TesseraHandle).direct;
    if (!task[DIRECT] || !link?.isOpen) return false;
    link.command("want", task.id);
    task[WANTS_RESULT] = true; // and again for a retry
    return true;
  }

  /**
   * A result its thread sent ahead of the completion, as asked (wantResult):
   * decoded now (it came in memory of its own) and kept on the task for
   * fetchResult, which the completion that follows calls.
   */
  onResult(id: number, bytes: Uint8Array, payloads: Uint8Array[]): void {
    const task = this.#pending.get(id);
    if (!task) return;
    try {
      task[ARRIVED] = { value: this.#decodeResult(task, bytes, payloads) };
    } catch (error) {
      task[ARRIVED] = { error: error as Error };
    }
  }

  /** Its thread was asked for `id`'s result, too large to come with the completion: that method's next ones are fetched at once. */
  onTooLarge(id: number): void {
    const task = this.#pending.get(id);
    if (task) noteLarge(task[PLACEMENT] as TesseraHandle, task.method, true);
  }

  /** Workers report completed tasks in batches. */
  onCompleted(ids: number[]): void {
    for (const id of ids) {
      const task = this.#pending.get(id);
      if (!task) continue;
      // No result with it (the thread could not reach the head directly): `result()` asks at once next time.
      noteLarge(task[PLACEMENT] as TesseraHandle, task.method);
      this.complete(task);
    }
  }

  /** Workers know tasks by number: name the task, tessera and method here. */
  onFailed(failures: [number, ErrorDescription][]): void {
    for (const [id, error] of failures) {
      const task = this.#pending.get(id);
      if (!task) continue;
      // Run again (a retry, or its tessera's restart): not settled.
      if ((task[PLACEMENT] as TesseraHandle).inFlight && this.#client.recovery.retryFailed(task, error)) continue;
      this.complete(task, localError({ ...error, task: task.uid, tessera: task.tessera, method: task.method }));
    }
  }

  /** The runtime stops: nothing pending will complete any more. */
  shutdown(reason: string): void {
    for (const task of [...this.#pending.values()]) this.complete(task, new RuntimeStateError(`${task.uid} did not complete: ${reason}`));
  }

  isSent(task: TaskProxy<any>): boolean {
    if (!this.#pending.has(task.id)) return false;
    return task[SENT_TO] !== undefined;
  }

  /** A task's encoded result as `result()` gives it (the tesserae it names become proxies this program holds). */
  #decodeResult(task: TaskProxy<any>, bytes: Uint8Array, payloads: Uint8Array[] = []): unknown {
    return resultOf(task, decodeValue(bytes, payloads, this.#client.nested.resultReference));
  }

  fetchResult(task: TaskProxy<any>): Promise<unknown> {
    if (task.released) return Promise.reject(new RuntimeStateError(`task ${task.uid} was released: its result is gone`));
    const arrived = task[ARRIVED];
    if (arrived) {
      task[ARRIVED] = undefined; // result() keeps what it resolved with
      return "error" in arrived ? Promise.reject(arrived.error) : Promise.resolve(arrived.value);
    }
    const plain = plainInlineResultOf(task);
    if (plain !== NOT_PLAIN_VALUE) return Promise.resolve(plain);
    const inline = inlineResultOf(task);
    if (inline) {
      try {
        return Promise.resolve(this.#decodeResult(task, inline));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const stopped = this.#client.stoppedReason;
    if (stopped) return Promise.reject(new RuntimeStateError(`the result of ${task.uid} is gone: its runtime stopped (${stopped})`));
    const worker = task.runtime;
    if (!worker) return Promise.reject(new RuntimeStateError(`task ${task.uid} was never placed`));
    if (this.#client.failures.isLost(worker)) return Promise.reject(new WorkerDiedError(worker, `the result of ${task.uid} was on ${worker}, which died`));
    const id = task.id;
    return this.#client
      .link(worker)
      .request<Uint8Array | WithPayloads<Uint8Array>>("result", [id, true])
      .then(
        (reply) => (reply instanceof WithPayloads ? this.#decodeResult(task, reply.value, reply.payloads) : this.#decodeResult(task, reply)),
        (error: Error) => {
          // An attempt that failed, of a task that may run again: its result comes from the attempt that ends it.
          const retried = (task[PLACEMENT] as TesseraHandle).inFlight !== undefined && (task.id !== id || task.state === "pending" || task.state === "running");
          if (retried && !this.#client.stopping) return task.then(() => this.fetchResult(task));
          if (error instanceof RemoteError) throw new RemoteError({ ...describeError(error), task: task.uid, tessera: task.tessera, method: task.method });
          if (!(error instanceof ConnectionClosedError) || this.#client.stopping) throw error;
          // The link closed under the request: the worker is gone (its death, or the lost link, fails what it held
          // soon). The task's own failure says why; a result it had is gone with the worker.
          return task.then(() => {
            const kept = inlineResultOf(task);
            if (kept) return this.#decodeResult(task, kept);
            throw new WorkerDiedError(worker, `the result of ${task.uid} was on ${worker}, whose link closed: ${error.message}`, { cause: error });
          });
        },
      );
  }

  cancelTask(task: TaskProxy<any>): void {
    const handle = task[PLACEMENT] as TesseraHandle;
    const at = handle.outbox.findIndex((queued) => queued.task === task);
    if (at >= 0) {
      // Not sent: it never will be (no place in its tessera's order is taken). Its worker is told, in case
      // dependents already wait there for its result; a release that waited for it can go.
      handle.outbox.splice(at, 1);
      const error = new CancelledError(`${task.uid} was cancelled before it was sent`);
      if (handle.worker) this.#client.failures.abandon(handle.worker, [task.id], error);
      this.complete(task, error);
      // The calls behind it may have waited for it only (for its dependency): they go now.
      if (at === 0) handle.flush();
      handle.onCallEnded();
      return;
    }
    // On its worker: dropped there if it has not started, its signal aborted if it runs; its report settles it.
    if (handle.worker && !this.#client.failures.isLost(handle.worker)) this.#client.link(handle.worker).command("cancel", [handle.id, task.id]);
  }

  releaseTask(task: TaskProxy<any>): void {
    const worker = task.runtime;
    if (worker) this.#client.releases.releaseTask(worker, task.id);
  }
}
