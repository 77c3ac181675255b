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
import { type Dependencies, Op, type PostedDependencies, type Value } from "../thread/protocol.ts";
import type { RemoteResults } from "./remote-results.ts";
import type { ResultStore } from "./result-store.ts";
import type { TesseraThread } from "./thread-pool.ts";
import { copiedByReader, type ThreadTransfers } from "./thread-transfers.ts";

export type Pending = (
  | { kind: "create"; key: string; args: Value; refs: TaskReference[]; strict: boolean; concurrency: number; done: PromiseWithResolvers<number> }
  | { kind: "call"; task: number; method: string; args: Value; refs: TaskReference[]; owner: Connection; seq: number }
) & {
  /** Started when the call arrives, so that the fetches of queued calls overlap. */
  deps?: Promise<Dependencies>;
  /** Set once `deps` settles (so the backlog can run on without waiting again). */
  resolved?: { deps: Dependencies } | { error: Error };
  /** Cancelled while it waited here: it fails when its turn comes, without waiting for its dependencies. */
  cancelled?: Error;
  /** Ends the drain's wait for its dependencies when it is cancelled. */
  onCancel?: () => void;
};

export interface HostedTessera {
  id: number;
  thread: TesseraThread;
  /** Calls waiting for their dependencies; later calls wait behind them to keep call order. */
  backlog: Fifo<Pending>;
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

export class CallBacklog {
  readonly #parts: BacklogParts;

  constructor(parts: BacklogParts) {
    this.#parts = parts;
  }

  enqueue(hosted: HostedTessera, pending: Pending): void {
    if (pending.kind === "call" && pending.seq === 0) return this.#outOfOrder(hosted, pending);
    if (hosted.backlog.length === 0 && pending.refs.length === 0) return this.#dispatch(hosted, pending, null);
    if (pending.refs.length > 0) {
      pending.deps = this.#resolveReferences(pending.refs);
      pending.deps.then(
        (deps) => (pending.resolved = { deps }),
        (error: Error) => (pending.resolved = { error }),
      );
    }
    hosted.backlog.push(pending);
    if (!hosted.resolving) void this.#drain(hosted);
  }

  /** A retry (seq 0): not behind the backlog, whose calls may wait for its result; it goes once its own dependencies are in. */
  #outOfOrder(hosted: HostedTessera, pending: Extract<Pending, { kind: "call" }>): void {
    if (pending.refs.length === 0) return this.#dispatch(hosted, pending, null);
    this.#resolveReferences(pending.refs).then(
      (deps) => this.#dispatch(hosted, pending, deps),
      (error: Error) => this.#parts.fail(pending.task, describeError(error, this.#parts.uid)),
    );
  }

  /** Cancels a call that waits here for its dependencies; false when it is not here (it went to its thread). */
  cancel(hosted: HostedTessera, task: number, error: Error): boolean {
    const pending = hosted.backlog.find((item) => item.kind === "call" && item.task === task);
    if (!pending) return false;
    pending.cancelled = error;
    pending.onCancel?.(); // the drain may be waiting for its dependencies
    return true;
  }

  /** A call that will not reach the thread: the thread must not wait for its place in the order. */
  skip(hosted: HostedTessera | undefined, seq: number): void {
    // A retry (seq 0) has no place in the order to skip.
    if (hosted && seq !== 0 && !hosted.thread.exited) hosted.thread.post([Op.Skip, hosted.id, seq]);
  }

  /**
   * Dispatches the backlog in order, waiting only when its head's dependencies
   * are not resolved yet: what resolved meanwhile goes out in one burst (one
   * message to the thread, not one per call).
   */
  async #drain(hosted: HostedTessera): Promise<void> {
    hosted.resolving = true;
    while (hosted.backlog.length > 0) {
      const pending = hosted.backlog.peek()!;
      if (pending.cancelled) pending.resolved = { error: pending.cancelled };
      if (pending.deps && !pending.resolved) {
        await Promise.race([pending.deps.catch(() => {}), new Promise<void>((resolve) => (pending.onCancel = resolve))]);
        // `resolved` is set by a reaction registered before ours: it is there now.
        continue;
      }
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
    hosted.resolving = false;
    if (hosted.releaseAfterBacklog) hosted.thread.post([Op.Release, hosted.id, hosted.releaseAfterBacklog.calls]);
  }

  #resolveReferences(refs: TaskReference[]): Promise<Dependencies> {
    const deps: Record<string, Value> = {};
    // One reference (the common case): no bookkeeping of duplicates.
    if (refs.length === 1) {
      const ref = refs[0]!;
      return this.#resolveReference(ref, ref.index !== "done", deps).then(() => deps);
    }
    const wanted = new Map<string, [TaskReference, boolean]>();
    for (const ref of refs) {
      const entry = wanted.get(ref.task);
      const data = ref.index !== "done";
      if (entry) entry[1] ||= data;
      else wanted.set(ref.task, [ref, data]);
    }
    return Promise.all([...wanted.values()].map(([ref, data]) => this.#resolveReference(ref, data, deps))).then(() => deps);
  }

  /** Values are keyed by uid: the arguments may name a retried task by an id it no longer has (see Dependencies). */
  async #resolveReference(ref: TaskReference, data: boolean, deps: Record<string, Value>): Promise<void> {
    const { uid, store, remote } = this.#parts;
    try {
      const local = ref.worker === uid || ref.worker === PUBLISHED || store.isDone(ref.id);
      // A stored value read here is copied (by the consumer's thread): the consumer may change its argument, the stored one must stay.
      const stored = local ? await store.resultValue(ref.id, data) : await remote.fetch(ref.worker, ref.id, data);
      // Warehouse objects read here are kept for later calls (dropping one clears every worker): the cache keeps the
      // fetched memory, the call gets a copy of its own.
      if (!local && data && ref.task.startsWith("obj-")) store.store(ref.id, stored);
      const value = local || ref.task.startsWith("obj-") ? copiedByReader(stored) : stored;
      if (data) deps[ref.task] = value;
    } catch (error) {
      if (!ref.task.startsWith("obj-")) {
        // Not there (its worker died, or that attempt failed): the head knows whether it ran again, and where.
        const moved = await this.#parts.locate(ref.id).then(
          ([worker, id]) => (worker !== ref.worker || id !== ref.id ? { ...ref, worker, id } : undefined),
          () => undefined, // it did not: the failure here is the one to report
        );
        if (moved) return this.#resolveReference(moved, data, deps);
      }
      throw new DependencyError(`dependency ${ref.task} (on ${ref.worker}) failed: ${(error as Error).message}`, { cause: error });
    }
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
    const args = transfers.share(pending.args, thread);
    let posted: PostedDependencies = null;
    if (deps) {
      posted = {};
      for (const id in deps) posted[id] = transfers.share(deps[id]!, thread);
    }
    if (pending.kind === "create") thread.post([Op.Create, hosted.id, pending.key, args, posted, pending.strict, pending.concurrency]);
    else {
      store.assign(pending.task, thread);
      hosted.callsPosted++;
      thread.post([Op.Call, hosted.id, pending.task, pending.method, args, posted, pending.owner.peer?.uid === "head", pending.seq]);
    }
  }
}
