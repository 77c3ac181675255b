/**
 * What fails when a worker, a tessera thread or a link to them is lost, and
 * with which error. A lost link waits briefly for the process tree to say
 * why its worker died (that reason is the better one); meanwhile the worker
 * is a suspect that placement avoids.
 */
import { describeError, RemoteError, WorkerDiedError } from "../../errors.ts";
import { workerOfThread } from "../../types.ts";
import type { RuntimeLinks } from "../links.ts";
import type { ActorClient } from "./actor-client.ts";
import { DIRECT, PLACEMENT, type TaskProxy } from "./task-proxy.ts";
import type { TesseraHandle } from "./tessera-handle.ts";
import { isSystemFailure } from "./retries.ts";

/** How long a lost link waits for the process tree to say why its worker died (see Failures.linkLost). */
const LINK_LOSS_GRACE_MS = 500;

export class Failures {
  readonly #client: ActorClient;
  readonly #runtime: RuntimeLinks;
  /** Workers seen dying here (the monitor may hear of it later): never placed on again. */
  #lostWorkers = new Set<string>();
  /** Workers whose link closed, waiting for the report of their death: placement avoids them too. */
  #suspects = new Set<string>();
  #pendingLosses = new Map<string, Timer>();

  constructor(client: ActorClient, runtime: RuntimeLinks) {
    this.#client = client;
    this.#runtime = runtime;
  }

  isLost(worker: string): boolean {
    return this.#lostWorkers.has(worker);
  }

  /** Workers placement must not pick. */
  avoided(): string[] {
    return this.#suspects.size === 0 ? [...this.#lostWorkers] : [...this.#lostWorkers, ...this.#suspects];
  }

  /** The tessera failed (or could not be created): its calls fail with `error`, and so does every later one. */
  fail(handle: TesseraHandle, error: Error): void {
    if (handle.state === "failed" || handle.error) return;
    // Its worker or thread died: made again elsewhere while its restarts last.
    if (isSystemFailure(error) && this.#client.recovery.restart(handle, error)) return;
    if (handle.state !== "released") handle.state = "failed";
    handle.error = error;
    handle.readiness.reject(error);
    const client = this.#client;
    client.placement.forget(handle);
    if (client.events.wants("tessera.failed")) {
      client.events.emit({ type: "tessera.failed", tessera: handle.uid, className: handle.className, worker: handle.worker, error, time: Date.now() });
    }
    const unsent = handle.outbox.splice(0);
    // Another worker may already wait for these results: tell their worker they will not come.
    if (handle.worker && unsent.length > 0) this.abandon(handle.worker, unsent.map(({ task }) => task.id), error);
    for (const { task } of unsent) client.tasks.complete(task, this.forTask(task, error));
    for (const task of client.tasks.on(handle)) client.tasks.complete(task, this.forTask(task, error));
    client.placement.retryWaiting(); // calls that depend on these now fail instead of waiting
  }

  /** A remote error as a task fails with it: naming the task and its method (whichever report of the failure comes first). */
  forTask(task: TaskProxy<any>, error: Error): Error {
    return error instanceof RemoteError ? new RemoteError({ ...describeError(error), task: task.uid, tessera: task.tessera, method: task.method }) : error;
  }

  /** Tells a worker that calls it never received will not come (whoever waits there for their results fails). */
  abandon(worker: string, ids: number[], error: Error): void {
    if (!this.#lostWorkers.has(worker)) this.#client.link(worker).command("abandon", [ids, describeError(error)]);
  }

  #diedError(worker: string, handle: TesseraHandle, reason: string): WorkerDiedError {
    const running = this.#client.tasks.on(handle)[0];
    const what = running ? ` while running ${running.uid} (${handle.className}.${running.method})` : "";
    return new WorkerDiedError(worker, `${worker} holding tessera ${handle.uid} died${what}: ${reason}`);
  }

  /**
   * A tessera thread's own link closed. If its worker died, the worker's
   * death fails everything it held (with that reason). If only the thread is
   * gone (or its link), its tesserae are: the calls sent over the link (which
   * the worker's main thread never saw) are abandoned there, so that other
   * workers waiting for their results hear of it, and the tesserae fail.
   */
  onThreadLost(uid: string, reason: string): void {
    const worker = workerOfThread(uid);
    const { tasks } = this.#client;
    const handles = new Set<TesseraHandle>();
    // The closed link only: a thread started since under the same uid (a restart placed there) has a link of its own.
    const behind = (handle: TesseraHandle) => handle.direct?.peer?.uid === uid && !handle.direct.isOpen;
    for (const handle of this.#client.tesserae()) if (behind(handle)) handles.add(handle);
    for (const task of tasks.values()) {
      const handle = task[PLACEMENT] as TesseraHandle;
      if (behind(handle)) handles.add(handle);
    }
    if (handles.size === 0 || this.#lostWorkers.has(worker)) return;
    // Asked over the worker's own link: it answers if the worker lives (a hung one is found out by heartbeats).
    // Bounded: a worker too hung to answer is its node's to end (and then its death fails everything).
    this.#client
      .link(worker)
      .request("ping", null, undefined, this.#runtime.heartbeatTimeout)
      .then(
        () => {
          // Restarted meanwhile (its worker reported the thread's end first): it lives elsewhere now.
          for (const handle of handles) if (!behind(handle)) handles.delete(handle);
          if (handles.size === 0) return;
          const error = new WorkerDiedError(worker, `the tessera thread of ${worker} behind ${uid} is gone (${reason})`);
          const direct = [...tasks.values()].filter((task) => task[DIRECT] && handles.has(task[PLACEMENT] as TesseraHandle));
          if (direct.length > 0) this.abandon(worker, direct.map((task) => task.id), error);
          for (const handle of handles) {
            handle.direct = undefined;
            if (handle.state === "released") for (const task of tasks.on(handle)) tasks.complete(task, this.forTask(task, error));
            else this.fail(handle, error);
          }
        },
        () => {}, // the worker is gone: its death fails what it held
      );
  }

  /**
   * The link to a worker closed. Its parent usually reports why within
   * milliseconds (killed, crashed, ended for not answering): that report fails
   * what the worker held, with its reason; this link's reason is used if none
   * comes within LINK_LOSS_GRACE_MS.
   */
  linkLost(worker: string, reason: string): void {
    if (this.#lostWorkers.has(worker) || this.#pendingLosses.has(worker)) return;
    this.#suspects.add(worker); // not placed on meanwhile
    // The tree's report names the host; this fallback must too, when the report comes late (a slow launcher client).
    const host = this.#runtime.hostOf(worker);
    if (host) reason = `${reason}; ${worker} ran on host ${host}`;
    if (this.#runtime.stopping) return this.onWorkerLost(worker, reason);
    const timer = setTimeout(() => this.onWorkerLost(worker, reason), LINK_LOSS_GRACE_MS);
    timer.unref(); // the head's other links keep it running; a stopped head must not wait for this
    this.#pendingLosses.set(worker, timer);
  }

  /** Everything that lived on a dead worker fails now, and so does every later call on it. */
  onWorkerLost(worker: string, reason: string): void {
    clearTimeout(this.#pendingLosses.get(worker));
    this.#pendingLosses.delete(worker);
    this.#suspects.delete(worker);
    this.#client.forgetLink(worker);
    this.#lostWorkers.add(worker);
    if (this.#runtime.stopping) return;
    const { tasks } = this.#client;
    const died = (handle: TesseraHandle) => this.#diedError(worker, handle, reason);
    for (const handle of this.#client.tesserae()) {
      if (handle.worker === worker && handle.state !== "failed") this.fail(handle, died(handle));
    }
    // Released tesserae are no longer listed, but their calls may still be pending there.
    for (const task of [...tasks.values()]) {
      const handle = task[PLACEMENT] as TesseraHandle;
      if (handle.worker === worker) tasks.complete(task, died(handle));
    }
    // Its threads' links too (a silent worker's sockets may still be open), once its calls have failed with the reason above.
    for (const [uid, connection] of [...this.#runtime.connections()]) if (uid.startsWith(`${worker}/`)) connection.close();
  }

  /** The runtime stops: no loss is waited for any more. */
  shutdown(): void {
    for (const timer of this.#pendingLosses.values()) clearTimeout(timer);
    this.#pendingLosses.clear();
  }
}
