/**
 * Where tesserae go: the monitor picks workers for every tessera created in
 * one tick (one request); a tessera whose constructor arguments refer to
 * tasks not placed yet is created once they are, and calls waiting for a
 * dependency's placement are sent once it has one.
 */
import { ConnectionClosedError, DependencyError, describeError, RemoteError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import type { TaskReference } from "../wire/value-codec.ts";
import { threadUid } from "../../types.ts";
import type { RuntimeLinks } from "../links.ts";
import type { ActorClient } from "./actor-client.ts";
import { failedDependency, placed, type TesseraHandle } from "./tessera-handle.ts";

/**
 * The head does not watch the monitor by heartbeats (see Runtime.watches): a
 * monitor that stops answering fails placements after this long instead.
 */
const PLACEMENT_TIMEOUT_MS = 30_000;

export class Placement {
  readonly #client: ActorClient;
  readonly #runtime: RuntimeLinks;
  /** Created in this tick, for the monitor to place. */
  #toPlace: TesseraHandle[] = [];
  /** Tesserae with calls waiting for a dependency's placement. */
  #waitingForPlacement = new Set<TesseraHandle>();
  /** Tesserae whose constructor arguments wait for a dependency's placement (their worker is picked: `assigned`). */
  #deferredCreates = new Set<TesseraHandle>();
  /** Workers whose link this tick's first creation flushed (see #place). */
  #flushedThisTick = new Set<string>();
  #retrying = false;
  #retryAgain = false;

  constructor(client: ActorClient, runtime: RuntimeLinks) {
    this.#client = client;
    this.#runtime = runtime;
  }

  /** Places the tessera on `worker`, or where the monitor picks (with the others of this tick). */
  place(handle: TesseraHandle, worker?: string): void {
    if (worker !== undefined) return this.#place(handle, worker);
    this.#toPlace.push(handle);
    if (this.#toPlace.length === 1) queueMicrotask(() => this.#requestPlacement());
  }


  waitForPlacement(handle: TesseraHandle): void {
    this.#waitingForPlacement.add(handle);
  }

  /** The tessera failed: its creation waits no more. */
  forget(handle: TesseraHandle): void {
    this.#deferredCreates.delete(handle);
  }

  /** Asks the monitor where to put every tessera created in this tick, in one request. */
  #requestPlacement(): void {
    const batch = this.#toPlace.splice(0);
    this.#runtime.request<string[]>("monitor", "place", [batch.length, this.#client.failures.avoided()], PLACEMENT_TIMEOUT_MS).then(
      (workers) => batch.forEach((handle, i) => this.#place(handle, workers[i]!)),
      // The monitor's link, not a worker, failed: not a death to restart after (that would ask it again, and again).
      (error: Error) => {
        const failure = error instanceof ConnectionClosedError ? new RuntimeStateError(`no placement: ${error.message}`, { cause: error }) : error;
        batch.forEach((handle) => this.#client.failures.fail(handle, failure));
      },
    );
  }

  /**
   * Creates the tessera on `worker` (once the tasks its constructor arguments
   * refer to have workers) and sends the calls queued meanwhile. A tessera
   * released before this is still created, gets its calls, and is then released.
   */
  #place(handle: TesseraHandle, worker: string): void {
    if (handle.state === "failed" || handle.worker !== undefined) return; // placed once only
    const failures = this.#client.failures;
    if (failures.isLost(worker)) {
      return failures.fail(handle, new WorkerDiedError(worker, `cannot create ${handle.className} on ${worker}: that worker died`));
    }
    const failed = failedDependency(handle.dependencies);
    if (failed) return failures.fail(handle, new DependencyError(`${handle.uid} not created: its argument ${failed.uid} failed: ${failed.error?.message}`, { cause: failed.error }));
    if (!placed(handle.dependencies)) {
      handle.assigned = worker;
      this.#deferredCreates.add(handle);
      return;
    }
    this.#deferredCreates.delete(handle);
    handle.worker = worker;
    let refs: TaskReference[];
    try {
      refs = handle.argReferences.map((reference) => reference.toReference());
    } catch (error) {
      return failures.fail(handle, error as Error);
    }
    const encoded = handle.encodedArgs;
    handle.creating = true;
    this.#client
      .link(worker)
      // A tessera that may restart elsewhere reports each completion before its next call starts (see Recovery.restart).
      .request<number>("createTessera", [handle.id, handle.key, encoded.bytes, refs, handle.strict, handle.maxConcurrency], encoded.payloads)
      .then(
        (thread) => {
          if (handle.worker !== worker) return; // restarted meanwhile
          handle.creating = false;
          handle.direct = this.#runtime.connection(threadUid(worker, thread));
          if (handle.state === "pending" || handle.state === "restarting") handle.state = "ready";
          handle.readiness.resolve();
          const events = this.#client.events;
          if (events.wants("tessera.created")) events.emit({ type: "tessera.created", tessera: handle.uid, className: handle.className, worker, thread, restarts: handle.restarts, time: Date.now() });
          handle.flush(); // the calls held for the thread's link, then a release that waited for them
        },
        (error: Error) => {
          if (handle.worker !== worker) return; // restarted meanwhile (its worker died): this creation is history
          handle.creating = false;
          // The worker's link closed under the creation: the worker is lost (its death's report may come later).
          const failure =
            error instanceof RemoteError
              ? new RemoteError({ ...describeError(error), tessera: handle.uid })
              : error instanceof ConnectionClosedError
                ? new WorkerDiedError(worker, `${worker} was lost while ${handle.uid} was created there: ${error.message}`, { cause: error })
                : error;
          failures.fail(handle, failure);
        },
      );
    handle.flush(); // sends its queued calls, then its release if it was released meanwhile
    // The creation leaves now, not when the program's code in this tick ends (a loop making the tessera's first
    // calls, say): the worker starts the tessera's thread meanwhile. The first of the tick to each worker: a
    // loop making many tesserae still writes the rest at once, at the tick's end.
    if (!this.#flushedThisTick.has(worker)) {
      if (this.#flushedThisTick.size === 0) queueMicrotask(() => this.#flushedThisTick.clear());
      this.#flushedThisTick.add(worker);
      this.#client.link(worker).flush();
    }
    this.retryWaiting();
  }

  /**
   * Calls and creations elsewhere may have waited for a task to get a worker
   * (or to fail). Loops until nothing moves, instead of recursing through #place.
   */
  retryWaiting(): void {
    if (this.#retrying) {
      this.#retryAgain = true;
      return;
    }
    this.#retrying = true;
    try {
      do {
        this.#retryAgain = false;
        for (const other of [...this.#waitingForPlacement]) {
          this.#waitingForPlacement.delete(other);
          other.flush();
        }
        for (const deferred of [...this.#deferredCreates]) if (this.#deferredCreates.has(deferred)) this.#place(deferred, deferred.assigned!);
      } while (this.#retryAgain);
    } finally {
      this.#retrying = false;
    }
  }
}
