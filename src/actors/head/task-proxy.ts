/**
 * The head's handle on a task: a method call submitted to the worker that
 * holds its tessera. Awaiting it waits for completion only; the result stays
 * on the worker until `result()` fetches it.
 */
import type { InlineValue } from "../wire/call-message.ts";
import { stampNow } from "../../_util/stamps.ts";
import { DependencyError, InvalidArgumentError, RemoteError, type ErrorDescription } from "../../errors.ts";
import { type ObjectRef, RUNTIME_STOPPED } from "./object-ref.ts";

export { RUNTIME_STOPPED };
import { registerReferenceClass, type ReferenceLike, type TaskReference } from "../wire/value-codec.ts";
import { handleClasses } from "../wire/value-scan.ts";
import { decodePlainValue, NOT_PLAIN_VALUE } from "../wire/argument-bytes.ts";

/**
 * pending: submitted, waiting for a dependency or its turn in its tessera's
 * order; running: started on its thread (learnt while someone listens for
 * task.started, else from the workers' resource samples, see
 * `monitorInterval`: a call shorter than that may go from pending to done);
 * done; failed.
 */
export type TaskState = "pending" | "running" | "done" | "failed";

/** When a task was submitted, started and ended (ms since the epoch, as `Date.now()`); undefined: not yet, or not learnt. */
export interface TaskTimes {
  submitted: number;
  /** Known once the head learns it ran (see TaskState). */
  started: number | undefined;
  ended: number | undefined;
}

export const RESULT_COMES = 0;
export const RESULT_ASKED = 1;
export const RESULT_STAYS = 2;
export const RESULT_FETCHED = 3;
export type ResultRoute = typeof RESULT_COMES | typeof RESULT_ASKED | typeof RESULT_STAYS | typeof RESULT_FETCHED;

/** Internal: the head learnt that the task started on its thread at `time`. */
export const MARK_STARTED = Symbol("mosaic.task.started");

/** What a TaskProxy needs from the layer that submits it. */
export interface TaskOwner {
  /** Why the runtime that made the task stopped (undefined while it runs). */
  readonly stoppedReason: string | undefined;
  fetchResult(task: TaskProxy<any>): Promise<unknown>;
  /** Whether the call has been written to its worker (so a result request may follow it). */
  isSent(task: TaskProxy<any>): boolean;
  releaseTask(task: TaskProxy<any>): void;
  cancelTask(task: TaskProxy<any>): void;
  /**
   * How `result()` of a task not ended gets the result: RESULT_COMES (its
   * method's results come with completions: wait), RESULT_ASKED (their size
   * is not known yet: ask the thread, else wait), RESULT_STAYS (they stay on
   * the worker: ask the thread, else fetch at once) or RESULT_FETCHED (they
   * stay on the worker, too large to come even when asked: fetch at once).
   */
  resultRoute(task: TaskProxy<any>): ResultRoute;
  /** A `result()` of a method whose results' size is not known asked its thread: the others wait for their completions. */
  asked(task: TaskProxy<any>): void;
  /** Asks the thread the call went to for its result with its completion (see WANTS_RESULT); false if it cannot be asked. */
  wantResult(task: TaskProxy<any>): boolean;
  /** What follows `task-<class>-<method>-` in the uid of the task submitted as wire id `id`. */
  uidSuffix(id: number): string;
}

/** Stands for element `index` of a task's array result (or field `index` of an object result) when passed as an argument. */
export class TaskOutput<T = unknown> implements ReferenceLike {
  /** Phantom member: makes TaskOutput<string> unassignable where TaskOutput<number> is wanted. */
  declare readonly __mosaicValue?: T;
  constructor(readonly task: TaskProxy<any>, readonly index: number | string) {}
  toReference(unplaced = false): TaskReference {
    return { ...this.task.toReference(unplaced), index: this.index };
  }
  referenceById(): TaskReference {
    return { id: this.task.id, task: "", worker: "", index: this.index };
  }
  toString(): string {
    return `<TaskOutput ${this.index} of ${this.task.uid}>`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** `task.outputs.done`: a pure ordering dependency, not passed to the method. */
export class DoneMarker implements ReferenceLike {
  /** Phantom member so that a DoneMarker is not assignable to ordinary parameter types. */
  declare readonly __mosaicDone: true;
  constructor(readonly task: TaskProxy<any>) {}
  toReference(unplaced = false): TaskReference {
    return { ...this.task.toReference(unplaced), index: "done" };
  }
  referenceById(): TaskReference {
    return { id: this.task.id, task: "", worker: "", index: "done" };
  }
  toString(): string {
    return `<DoneMarker of ${this.task.uid}>`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** `task.outputs`: `.done`, and `[i]` for element i of an array result. */
type TupleOutputs<T extends readonly unknown[]> = { readonly [K in keyof T as K extends `${number}` ? K : never]: TaskOutput<T[K]> };
/** Element type of an array result (unknown otherwise). */
export type ElementOf<T> = T extends readonly (infer E)[] ? E : unknown;

/** `outputs.key` of an object result (as the original's `task.outputs[key]`); a key named "done" is `outputs.done`. */
type FieldOutputs<T> = { readonly [K in Exclude<keyof T, "done" | symbol | number>]-?: TaskOutput<T[K]> };

export type TaskOutputs<T> = { readonly done: DoneMarker } & (T extends readonly unknown[]
  ? number extends T["length"]
    ? { readonly [index: number]: TaskOutput<T[number]> }
    : TupleOutputs<T>
  : T extends object
    ? FieldOutputs<T>
    : { readonly [index: number]: TaskOutput<unknown> });

const TASK_ID = Symbol("mosaic.task");
const INLINE_RESULT = Symbol("mosaic.inline-result");
const INLINE_VALUE = Symbol("mosaic.inline-value");
const PLAIN_RESULT = Symbol("mosaic.plain-result");
/** Internal members, symbol-keyed so that users see none of them (and none clashes with a name of theirs). */
export const GENERATION = Symbol("mosaic.task.generation");
export const DIRECT = Symbol("mosaic.task.direct");
export const DEPENDENCIES = Symbol("mosaic.task.dependencies");
export const PLACEMENT = Symbol("mosaic.task.placement");
/** Internal: what waits for the task to settle (tesserae whose calls wait at the head for its result, see inline-dependencies.ts). */
export const WAITING = Symbol("mosaic.task.waiting");

/** Something that goes on once a task it waits for has settled (a tessera handle: it sends the calls it held). */
export interface SettleWaiter {
  flush(): unknown;
}

/** What a task knows of the tessera it runs on. */
export interface TaskPlacement {
  readonly worker: string | undefined;
  readonly className: string;
}

/** `task-<class>-<method>-` of the last class and method named (a class lowercased per uid was a string each). */
let lastClass = "";
let lastMethod = "";
let lastPrefix = "task--";

function taskUidPrefix(className: string, method: string): string {
  if (className !== lastClass || method !== lastMethod) {
    lastClass = className;
    lastMethod = method;
    lastPrefix = `task-${className.toLowerCase()}-${method}-`;
  }
  return lastPrefix;
}

/** Internal: gives a task the wire id of its next attempt (a retry runs as a new call). */
export const REKEY = Symbol("mosaic.task.rekey");
export const FIRST_ID = Symbol("mosaic.task.first-id");
/** Internal: the worker its current attempt was sent to (where its result is), set by the sender. */
export const SENT_TO = Symbol("mosaic.task.sent-to");
/**
 * Internal: its thread is asked for the result with the completion (a `want`
 * after the call on the thread's link): `result()` asked for it, of a method
 * whose results stay on the worker or may. Set before the call is sent, the
 * sender asks after sending it (and after sending a retry).
 */
export const WANTS_RESULT = Symbol("mosaic.task.wants-result");
/** Internal: the result its thread sent with the completion because it was asked (decoded, or why it could not be). */
export const ARRIVED = Symbol("mosaic.task.arrived");

/**
 * What few tasks need (an awaited one, a retried one, a failed one, one named
 * or released), kept apart so that the many pipelined tasks that never need
 * it stay small: a proxy held after its task ended took ~296 B of the head's
 * heap with all of this inline, ~200 B without (a burst of 300,000 calls held
 * 89 MB, which the collector marked again and again while they were submitted).
 */
interface RareState {
  /** The wire id it was submitted with (its uid's): an attempt after a retry runs under another. */
  readonly firstId: number;
  uid: string | undefined;
  started: number | undefined;
  waiting: SettleWaiter[] | undefined;
  wantsResult: boolean;
  arrived: { value: unknown } | { error: Error } | undefined;
  /** Created only when someone waits: most pipelined tasks are never awaited one by one. */
  completion: PromiseWithResolvers<void> | undefined;
  result: Promise<unknown> | undefined;
  /** `result()` asked before the task ended, its result to come with the completion: settled when the task ends. */
  resultWaiter: PromiseWithResolvers<unknown> | undefined;
  error: Error | undefined;
  released: boolean;
  outputs: object | undefined;
}

function rareState(firstId: number): RareState {
  return {
    firstId,
    uid: undefined,
    started: undefined,
    waiting: undefined,
    wantsResult: false,
    arrived: undefined,
    completion: undefined,
    result: undefined,
    resultWaiter: undefined,
    error: undefined,
    released: false,
    outputs: undefined,
  };
}

export class TaskProxy<T = unknown> implements PromiseLike<void>, ReferenceLike {
  #id: number;
  readonly method: string;
  /** Uid of the tessera this task runs on. */
  readonly tessera: string;
  /** Token of the group of proxies collected together (held only to keep it alive). */
  [GENERATION]: object | undefined = undefined;
  /** Sent straight to its tessera's thread (its worker's main thread never saw it). */
  [DIRECT] = false;
  /** Upstream tasks (and warehouse objects) kept alive until this one completes, so their results are still there to fetch. */
  [DEPENDENCIES]: (TaskProxy<any> | ObjectRef<any>)[] | undefined = undefined;
  /** Kept apart from its tessera's worker: a restart moves the tessera, never a result that stayed where it ran. */
  [SENT_TO]: string | undefined = undefined;
  #state: TaskState = "pending";
  readonly #submitted = stampNow();
  #ended: number | undefined = undefined;
  #tessera: TaskPlacement;
  #owner: TaskOwner;
  /**
   * The encoded result, when it was small enough to come with the completion:
   * bytes #inlineAt to #inlineEnd of its batch's results (a view is made only
   * when the result is read: most pipelined results never are).
   */
  #inline: Uint8Array | undefined = undefined;
  #inlineAt = 0;
  #inlineEnd = 0;
  #rare: RareState | undefined = undefined;

  constructor(id: number, tessera: string, method: string, placement: TaskPlacement, owner: TaskOwner) {
    this.#id = id;
    this.tessera = tessera;
    this.method = method;
    this.#tessera = placement;
    this.#owner = owner;
  }

  /** Made on first need; before a retry changes the id, so that it keeps the first. */
  get #more(): RareState {
    return (this.#rare ??= rareState(this.#id));
  }

  /** The engine of the tessera this task runs on. */
  get [PLACEMENT](): TaskPlacement {
    return this.#tessera;
  }

  /** Internal: why the runtime that made this task stopped (undefined while it runs). */
  get [RUNTIME_STOPPED](): string | undefined {
    return this.#owner.stoppedReason;
  }

  /** Flushed once it settles (after the code that settles it has run: none of them is flushed inside another's settling). */
  get [WAITING](): SettleWaiter[] | undefined {
    return this.#rare?.waiting;
  }

  set [WAITING](waiting: SettleWaiter[] | undefined) {
    if (waiting || this.#rare) this.#more.waiting = waiting;
  }

  get [WANTS_RESULT](): boolean {
    return this.#rare?.wantsResult === true;
  }

  set [WANTS_RESULT](wanted: boolean) {
    if (wanted || this.#rare) this.#more.wantsResult = wanted;
  }

  get [ARRIVED](): { value: unknown } | { error: Error } | undefined {
    return this.#rare?.arrived;
  }

  set [ARRIVED](arrived: { value: unknown } | { error: Error } | undefined) {
    if (arrived || this.#rare) this.#more.arrived = arrived;
  }

  /** Wire id, unique per head (a retried task gets a new one for each attempt). */
  get id(): number {
    return this.#id;
  }

  /** Internal: the wire id it was submitted with. */
  get [FIRST_ID](): number {
    return this.#rare?.firstId ?? this.#id;
  }

  [REKEY](id: number): void {
    const rare = this.#more;
    this.#id = id;
    this[SENT_TO] = undefined; // the next attempt goes where its tessera is then
    rare.arrived = undefined; // a result is the attempt's that ends the task (one whose completion was lost is not)
    // Its next attempt has not started yet.
    if (this.#state === "running") this.#state = "pending";
    rare.started = undefined;
  }

  [MARK_STARTED](time: number): void {
    if (this.#state !== "pending") return;
    this.#state = "running";
    this.#more.started = time;
  }

  /** When it was submitted, started and ended (see TaskTimes). */
  get times(): TaskTimes {
    return { submitted: this.#submitted, started: this.#rare?.started, ended: this.#ended };
  }

  /** `task-<class>-<method>-<unique>`, as in the original (made on first use: most tasks are never named). */
  get uid(): string {
    const rare = this.#more;
    return (rare.uid ??= taskUidPrefix(this.#tessera.className, this.method) + this.#owner.uidSuffix(rare.firstId));
  }

  /** Same as `outputs[index]`, typed without `| undefined` for array results. */
  output(index: number): TaskOutput<ElementOf<T>> {
    if (!Number.isInteger(index) || index < 0) throw new InvalidArgumentError(`output() takes an element index >= 0, got ${index}`);
    return (this.outputs as unknown as Record<number, TaskOutput<ElementOf<T>>>)[index]!;
  }

  get #completed(): Promise<void> {
    const rare = this.#more;
    if (!rare.completion) {
      rare.completion = Promise.withResolvers<void>();
      rare.completion.promise.catch(() => {});
      if (this.#state === "done") rare.completion.resolve();
      else if (this.#state === "failed") rare.completion.reject(rare.error);
    }
    return rare.completion.promise;
  }

  /** `outputs.done` (ordering only) and `outputs[i]` (element i of the result), to pass as arguments. */
  get outputs(): TaskOutputs<T> {
    const rare = this.#more;
    rare.outputs ??= new Proxy({} as Record<string | symbol, unknown>, {
      get: (cache, key) => {
        if (key === "done") return (cache.done ??= new DoneMarker(this));
        if (typeof key !== "string" || key === "then") return undefined; // not thenable: `await task.outputs` must not hang
        return (cache[key] ??= new TaskOutput(this, /^\d+$/.test(key) ? Number(key) : key));
      },
    });
    return rare.outputs as TaskOutputs<T>;
  }

  get state(): TaskState {
    return this.#state;
  }

  /** Uid of the worker that runs (ran) the task, once its tessera is placed. */
  get runtime(): string | undefined {
    return this[SENT_TO] ?? this.#tessera.worker;
  }

  /** The error the task failed with, if it failed. */
  get error(): Error | undefined {
    return this.#rare?.error;
  }

  /** Waits until the task has run; rejects with the remote error if it failed. Does not fetch the result. */
  then<A = void, B = never>(onDone?: ((value: void) => A | PromiseLike<A>) | null, onFailed?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#completed.then(onDone, onFailed);
  }

  catch<B = never>(onFailed?: ((reason: any) => B | PromiseLike<B>) | null): Promise<void | B> {
    return this.#completed.catch(onFailed);
  }

  /**
   * Fetches the value the method returned (from the worker, once; later calls
   * share it). Once the call is on its way, the request follows it on the same
   * connection and the worker answers when the task is done: one round trip.
   */
  result(): Promise<T> {
    const rare = this.#more;
    if (!rare.result) {
      const ended = this.#state === "done" || this.#state === "failed";
      const owner = this.#owner;
      const route = ended ? RESULT_COMES : owner.resultRoute(this);
      // A method whose results stay on the worker (or may): its thread is asked for this one with the completion
      // (one round trip, no hop through the worker's main thread); where it cannot be (the call went through its
      // worker, or the result is too large to come that way), the worker is asked for it at once if it stays there.
      let fetchNow = false;
      if (route === RESULT_ASKED || route === RESULT_STAYS) {
        let asking = true;
        if (!owner.isSent(this)) this[WANTS_RESULT] = true; // asked by the sender, once it is sent straight to its thread
        else if (!owner.wantResult(this)) {
          asking = false;
          fetchNow = route === RESULT_STAYS;
        }
        if (route === RESULT_ASKED && asking) owner.asked(this);
      } else fetchNow = route === RESULT_FETCHED && owner.isSent(this);
      if (fetchNow) rare.result = owner.fetchResult(this);
      else if (!ended) {
        // A method whose results come with its completions is waited for, not asked: settled as the task ends
        // (see [TASK_ID]), without a promise of its completion in between (the commonest `await t.result()`).
        rare.resultWaiter = Promise.withResolvers<unknown>();
        rare.result = rare.resultWaiter.promise;
      } else rare.result = this.#completed.then(() => this.#owner.fetchResult(this));
      rare.result.catch(() => {});
    }
    return rare.result as Promise<T>;
  }

  /**
   * Cancels the call: one that has not started does not run (the task fails
   * with CancelledError, and so do tasks that take it as an argument, with
   * DependencyError); a running async method sees its `mosaic.signal()`
   * aborted and may stop; a running synchronous method is not interrupted
   * (as in Ray). Does nothing once the task has ended.
   */
  cancel(): void {
    if (this.#state === "pending" || this.#state === "running") this.#owner.cancelTask(this);
  }

  /** Frees the result on the worker now instead of when this proxy is garbage collected. */
  release(): void {
    const rare = this.#more;
    if (rare.released) return;
    rare.released = true;
    this.#inline = undefined;
    this.#owner.releaseTask(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  get released(): boolean {
    return this.#rare?.released === true;
  }

  toReference(unplaced = false): TaskReference {
    const worker = this.runtime;
    if (!worker && !unplaced) throw new DependencyError(`task ${this.uid} is not placed yet`);
    return { id: this.id, task: this.uid, worker: worker ?? "" };
  }

  referenceById(): TaskReference {
    return { id: this.id, task: "", worker: "" };
  }

  /** Internal: called by the submitting layer. */
  [TASK_ID](error: ErrorDescription | Error | undefined, inline: Uint8Array | undefined, at: number, end: number, ended: number): void {
    if (this.#state === "done" || this.#state === "failed") return;
    this.#ended = ended;
    this[DEPENDENCIES] = undefined;
    this.#inline = inline;
    this.#inlineAt = at;
    this.#inlineEnd = end;
    const rare = this.#rare;
    if (error) {
      this.#state = "failed";
      const failure = (this.#more.error = error instanceof Error ? error : new RemoteError(error));
      rare?.completion?.reject(failure);
    } else {
      this.#state = "done";
      rare?.completion?.resolve();
    }
    if (!rare) return;
    const waiter = rare.resultWaiter;
    if (waiter) {
      rare.resultWaiter = undefined;
      if (error) waiter.reject(rare.error);
      else {
        // A plain result is read here; anything else (a larger or non-plain one, a released task) as fetchResult does.
        const plain = rare.released ? NOT_PLAIN_VALUE : this[PLAIN_RESULT]();
        try {
          waiter.resolve(plain !== NOT_PLAIN_VALUE ? plain : this.#owner.fetchResult(this));
        } catch (error) {
          // Never left waiting, and the rest of the batch that settles this task still settles.
          waiter.reject(error);
        }
      }
    }
    const waiting = rare.waiting;
    if (waiting) {
      rare.waiting = undefined;
      queueMicrotask(() => {
        for (const waiter of waiting) waiter.flush();
      });
    }
  }

  /** Internal: the result that came with the completion, read by hand when it is plain (see decodePlainValue); NOT_PLAIN_VALUE otherwise. */
  [PLAIN_RESULT](): unknown {
    const inline = this.#inline;
    return inline ? decodePlainValue(inline, this.#inlineAt, this.#inlineEnd) : NOT_PLAIN_VALUE;
  }

  /** Internal: see inlineValueOf. */
  [INLINE_VALUE](key: string | number): InlineValue | undefined {
    const inline = this.#inline;
    return inline && [key, inline, this.#inlineAt, this.#inlineEnd];
  }

  /** Internal: the encoded result if it came with the completion. */
  get [INLINE_RESULT](): Uint8Array | undefined {
    const inline = this.#inline;
    if (!inline || (this.#inlineAt === 0 && this.#inlineEnd === inline.length)) return inline;
    // A small result is copied out: its batch's results are a typed array in the collector's heap, which a first
    // view moves into an ArrayBuffer of its own (a dependent call sends its dependency's value on at once).
    return this.#inlineEnd - this.#inlineAt <= 64 ? inline.slice(this.#inlineAt, this.#inlineEnd) : inline.subarray(this.#inlineAt, this.#inlineEnd);
  }

  toString(): string {
    return `<TaskProxy ${this.uid} ${this.runtime ? `on ${this.runtime}` : "not placed yet"}, ${this.#state}>`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/**
 * A result as `result()` resolves with it: a tessera proxy cannot be the
 * whole of it (a promise resolved with a thenable adopts it: it would wait for
 * the tessera's creation and give undefined), so it fails saying what to write.
 */
export function resultOf(task: TaskProxy<any>, value: unknown): unknown {
  if (value !== null && typeof value === "object" && handleClasses.has((value as object).constructor)) {
    throw new InvalidArgumentError(
      `the result of ${task.uid} is a tessera proxy, which result() cannot resolve to (a promise would wait for its creation instead and give undefined): return it inside an object or array ({ proxy }), or pass the task to a call, which receives the proxy`,
    );
  }
  return value;
}

registerReferenceClass(TaskProxy);
registerReferenceClass(TaskOutput);
registerReferenceClass(DoneMarker);

/** The encoded result of a done task if it came with its completion (small results do). */
export function inlineResultOf(task: TaskProxy<any>): Uint8Array | undefined {
  return task[INLINE_RESULT];
}

/** The same as a dependency's value to send on, without a copy of its own: see InlineValue. */
export function inlineValueOf(task: TaskProxy<any>, key: string | number): InlineValue | undefined {
  return task[INLINE_VALUE](key);
}

/**
 * The result of a done task that came with its completion, when it is a
 * number, boolean, null or ASCII string (read without the packer: most small
 * results); NOT_PLAIN_VALUE otherwise.
 */
export function plainInlineResultOf(task: TaskProxy<any>): unknown {
  return task[PLAIN_RESULT]();
}

/** Marks a task done (no error) or failed; `inline`: its encoded result (bytes `at` to `end` of it, all of it by default). */
/** `ended`: when the head learnt it ended (a batch of completions read at once shares one reading of the clock). */
export function settleTask(task: TaskProxy<any>, error?: ErrorDescription | Error, inline?: Uint8Array, at = 0, end = inline?.length ?? 0, ended = Date.now()): void {
  task[TASK_ID](error, inline, at, end, ended);
}
