/**
 * Creations and calls of one tessera that wait for their dependencies: their
 * fetches start when they arrive (so those of queued calls overlap), and they
 * go to the tessera's thread in call order, later calls waiting behind earlier
 * ones. A dependency is read from this worker's store, or fetched straight
 * from the worker that holds it (RemoteResults), never via the head.
 */
import { DependencyError, describeError, type ErrorDescription, RemoteError, WorkerDiedError } from "../../errors.ts";
import { Fifo } from "../../_util/fifo.ts";
import type { Connection } from "../../comms/connection.ts";
import { PUBLISHED, type TaskReference } from "../wire/value-codec.ts";
import { type Dependencies, type InlineDependencies, Op, type Posted, type PostedDependencies, type Value } from "../thread/protocol.ts";
import type { FetchSink, RemoteResults } from "./remote-results.ts";
import type { ResultStore } from "./result-store.ts";
import type { TesseraThread } from "./thread-pool.ts";
import { copiedByReader, type ThreadTransfers } from "./thread-transfers.ts";

export type Pending = (
  | { kind: "create"; key: string; args: Value; refs: TaskReference[]; strict: boolean; concurrency: number; done: PromiseWithResolvers<number> }
  | { kind: "call"; task: number; method: string; args: Value; refs: TaskReference[]; owner: Connection; seq: number }
) & {
  /** Set once its dependencies are in (or one failed); their fetches start when it arrives, so those of queued calls overlap. */
  resolved?: { deps: Dependencies } | { error: Error };
  /** Cancelled while it waited here: it failed then; when its turn comes its place is skipped, without waiting for its dependencies. */
  cancelled?: Error;
};

export interface HostedTessera {
  id: number;
  thread: TesseraThread;
  /** Calls waiting for their dependencies; later calls wait behind them to keep call order. */
  backlog: Fifo<Pending>;
  /** The backlog is being dispatched now (a dependency that resolves meanwhile must not start another pass). */
  resolving: boolean;
  created: PromiseWithResolvers<number> | undefined;
  /** Released while calls still waited for dependencies: the thread lets it go after them (and after call `seq`). */
  releaseAfterBacklog?: { calls: number };
  /** Calls posted to its thread: a creation is moved to another thread when its own died only while this is 0. */
  callsPosted: number;
}

export interface BacklogParts {
  uid: string;
  store: ResultStore;
  remote: RemoteResults;
  transfers: ThreadTransfers;
  /** A call ends here without reaching its thread (its dependency failed, its thread is gone). */
  fail(task: number, error: ErrorDescription): void;
  /** Asks the head where the result of task `id` is now ([worker, id]): a task may run again elsewhere. */
  locate(id: number): Promise<[string, number]>;
}

type Resolved = (deps: [string, Value][]) => void;
type Failed = (error: Error) => void;

/**
 * Dependencies are resolved with callbacks, not promises: a dependent call
 * used to cost some ten promises and as many microtasks on this thread (an
 * async function per reference, a race per wait), most of its cost here.
 */
export class CallBacklog {
  readonly #parts: BacklogParts;
  /** Calls posted to their threads with dependency values resolved here, since the worker started. */
  dependentCalls = 0;

  constructor(parts: BacklogParts) {
    this.#parts = parts;
  }

  enqueue(hosted: HostedTessera, pending: Pending): void {
    if (pending.kind === "call" && pending.seq === 0) return this.#outOfOrder(hosted, pending);
    if (hosted.backlog.length === 0 && pending.refs.length === 0) return this.#dispatch(hosted, pending, null);
    hosted.backlog.push(pending);
    const refs = pending.refs;
    if (refs.length === 1 && !pending.resolved && refs[0]!.worker !== this.#parts.uid && refs[0]!.worker !== PUBLISHED && !refs[0]!.task.startsWith("obj-") && !this.#parts.store.isDone(refs[0]!.id)) {
      // The common case: one task on another worker. One object waits for it (see OneDependency).
      this.#parts.remote.fetch(refs[0]!.worker, refs[0]!.id, refs[0]!.index !== "done", new OneDependency(this, hosted, pending));
    } else if (refs.length > 0 && !pending.resolved) {
      this.#resolveReferences(
        pending.refs,
        (deps) => {
          pending.resolved = { deps };
          this.drain(hosted);
        },
        (error) => {
          pending.resolved = { error };
          this.drain(hosted);
        },
      );
    }
    this.drain(hosted);
  }

  /** A retry (seq 0): not behind the backlog, whose calls may wait for its result; it goes once its own dependencies are in. */
  #outOfOrder(hosted: HostedTessera, pending: Extract<Pending, { kind: "call" }>): void {
    if (pending.refs.length === 0) return this.#dispatch(hosted, pending, null);
    this.#resolveReferences(
      pending.refs,
      (deps) => this.#dispatch(hosted, pending, deps),
      (error) => this.#parts.fail(pending.task, describeError(error, this.#parts.uid)),
    );
  }

  /** Cancels a call that waits here for its dependencies; false when it is not here (it went to its thread). */
  cancel(hosted: HostedTessera, task: number, error: Error): boolean {
    const pending = hosted.backlog.find((item) => item.kind === "call" && item.task === task);
    if (!pending) return false;
    if (pending.cancelled) return true;
    // It fails now, even behind calls that still wait for theirs; the thread learns of its place in call order.
    pending.cancelled = error;
    this.#parts.fail(task, describeError(error, this.#parts.uid));
    this.drain(hosted); // it may be the one the backlog waits for
    return true;
  }

  /** A call that will not reach the thread: the thread must not wait for its place in the order. */
  skip(hosted: HostedTessera | undefined, seq: number): void {
    // A retry (seq 0) has no place in the order to skip.
    if (hosted && seq !== 0 && !hosted.thread.exited) hosted.thread.post([Op.Skip, hosted.id, seq]);
  }

  /**
   * Dispatches the backlog in order, up to the first call whose dependencies
   * are not in yet (its resolution runs this again): what resolved meanwhile
   * goes out in one burst (one message to the thread, not one per call).
   */
  drain(hosted: HostedTessera): void {
    if (hosted.resolving) return; // the pass under way picks it up
    hosted.resolving = true;
    try {
      while (hosted.backlog.length > 0) {
        const pending = hosted.backlog.peek()!;
        if (pending.cancelled && pending.kind === "call") {
          hosted.backlog.shift();
          this.skip(hosted, pending.seq); // failed when it was cancelled
          continue;
        }
        if (pending.refs.length > 0 && !pending.resolved) return;
        hosted.backlog.shift();
        const resolved = pending.resolved;
        if (resolved && "error" in resolved) {
          if (pending.kind === "create") pending.done.reject(resolved.error);
          else {
            this.skip(hosted, pending.seq);
            this.#parts.fail(pending.task, describeError(resolved.error, this.#parts.uid));
          }
        } else this.#dispatch(hosted, pending, resolved?.deps ?? null);
      }
      const release = hosted.releaseAfterBacklog;
      hosted.releaseAfterBacklog = undefined;
      if (release) hosted.thread.post([Op.Release, hosted.id, release.calls]);
    } finally {
      hosted.resolving = false;
    }
  }

  #resolveReferences(refs: TaskReference[], resolved: Resolved, failed: Failed): void {
    const deps: [string, Value][] = [];
    // One reference (the common case): no bookkeeping of duplicates.
    if (refs.length === 1) {
      const ref = refs[0]!;
      return this.#resolveReference(ref, ref.index !== "done", deps, () => resolved(deps), failed);
    }
    const wanted = new Map<string, [TaskReference, boolean]>();
    for (const ref of refs) {
      const entry = wanted.get(ref.task);
      const data = ref.index !== "done";
      if (entry) entry[1] ||= data;
      else wanted.set(ref.task, [ref, data]);
    }
    let left = wanted.size;
    let settled = false;
    for (const [ref, data] of wanted.values()) {
      this.#resolveReference(
        ref,
        data,
        deps,
        () => {
          if (--left === 0 && !settled) resolved(deps);
        },
        (error) => {
          if (settled) return;
          settled = true;
          failed(error);
        },
      );
    }
  }

  /** A dependency that could not be fetched where it was: resolved again the general way (the head may know where it went). */
  retry(hosted: HostedTessera, pending: Pending, ref: TaskReference, error: Error): void {
    const settle = (resolved: NonNullable<Pending["resolved"]>) => {
      pending.resolved = resolved;
      this.drain(hosted);
    };
    const deps: [string, Value][] = [];
    this.#recover(ref, ref.index !== "done", deps, error, () => settle({ deps }), (failure) => settle({ error: failure }));
  }

  /** Values are keyed by uid: the arguments may name a retried task by an id it no longer has (see Dependencies). */
  #resolveReference(ref: TaskReference, data: boolean, deps: [string, Value][], resolved: () => void, failed: Failed): void {
    const { uid, store, remote } = this.#parts;
    const local = ref.worker === uid || ref.worker === PUBLISHED || store.isDone(ref.id);
    const onValue = (stored: Value) => {
      // Warehouse objects read here are kept for later calls (dropping one clears every worker): the cache keeps the
      // fetched memory, the call gets a copy of its own.
      if (!local && data && ref.task.startsWith("obj-")) store.store(ref.id, stored);
      // A stored value read here is copied (by the consumer's thread): the consumer may change its argument, the stored one must stay.
      if (data) deps.push([ref.task, local || ref.task.startsWith("obj-") ? copiedByReader(stored) : stored]);
      resolved();
    };
    const onError = (error: Error) => this.#recover(ref, data, deps, error, resolved, failed);
    if (local) store.resultValue(ref.id, data).then(onValue, onError);
    else remote.fetch(ref.worker, ref.id, data, { resolve: onValue, reject: onError });
  }

  /** Not there (its worker died, or that attempt failed): the head knows whether the task ran again, and where. */
  #recover(ref: TaskReference, data: boolean, deps: [string, Value][], error: Error, resolved: () => void, failed: Failed): void {
    const fail = () => failed(new DependencyError(`dependency ${ref.task} (on ${ref.worker}) failed: ${error.message}`, { cause: error }));
    if (ref.task.startsWith("obj-")) return fail();
    this.#parts.locate(ref.id).then(
      ([worker, id]) => {
        if (worker !== ref.worker || id !== ref.id) this.#resolveReference({ ...ref, worker, id }, data, deps, resolved, failed);
        else fail();
      },
      fail, // it did not: the failure here is the one to report
    );
  }

  #dispatch(hosted: HostedTessera, pending: Pending, deps: Dependencies): void {
    const { uid, transfers, store } = this.#parts;
    if (hosted.thread.exited) {
      const error = describeError(new WorkerDiedError(uid, `the tessera thread of this call on ${uid} has exited`), uid);
      if (pending.kind === "create") pending.done.reject(new RemoteError(error));
      else this.#parts.fail(pending.task, error);
      return;
    }
    const thread = hosted.thread;
    let args: Posted;
    let posted: PostedDependencies = null;
    if (deps && !deps.some(hasPayloads)) {
      posted = [pending.args[0].length];
      args = inline(pending.args, deps, posted, transfers, thread);
    } else {
      args = transfers.share(pending.args, thread);
      if (deps) posted = deps.map(([uid, value]): [string, Posted] => [uid, transfers.share(value, thread)]);
    }
    if (pending.kind === "create") thread.post([Op.Create, hosted.id, pending.key, args, posted, pending.strict, pending.concurrency]);
    else {
      store.assign(pending.task, thread);
      hosted.callsPosted++;
      if (deps) this.dependentCalls++;
      thread.post([Op.Call, hosted.id, pending.task, pending.method, args, posted, pending.owner.peer?.uid === "head", pending.seq]);
    }
  }
}

/**
 * A call's one dependency, a task on another worker (most dependent calls):
 * one object hears of its fetch, where the general route makes some six
 * closures. A failure goes the general route (the task may have run again elsewhere).
 */
class OneDependency implements FetchSink {
  constructor(
    readonly backlog: CallBacklog,
    readonly hosted: HostedTessera,
    readonly pending: Pending,
  ) {}

  resolve(value: Value): void {
    const ref = this.pending.refs[0]!;
    this.pending.resolved = { deps: ref.index === "done" ? [] : [[ref.task, value]] };
    this.backlog.drain(this.hosted);
  }

  reject(error: Error): void {
    this.backlog.retry(this.hosted, this.pending, this.pending.refs[0]!, error);
  }
}

function hasPayloads(dependency: [string, Value]): boolean {
  return dependency[1][1].length > 0;
}

/**
 * Arguments and dependency values in one buffer, their places added to
 * `places` (see InlineDependencies): the payloads are the arguments' own.
 */
function inline(args: Value, deps: [string, Value][], places: InlineDependencies, transfers: ThreadTransfers, thread: TesseraThread): Posted {
  const bytes = args[0];
  let size = bytes.length;
  for (let i = 0; i < deps.length; i++) size += deps[i]![1][0].length;
  const all = new Uint8Array(size);
  all.set(bytes);
  let at = bytes.length;
  for (let i = 0; i < deps.length; i++) {
    const value = deps[i]![1][0];
    all.set(value, at);
    places.push(deps[i]![0], at, (at += value.length));
  }
  // A fresh buffer of its own: `share` would only ask whether it is (reading `.buffer` makes the engine build one).
  return args[1].length === 0 ? [all, args[1]] : transfers.share([all, args[1]], thread);
}
