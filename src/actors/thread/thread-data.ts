/**
 * What a worker's main thread hands a tessera thread when it starts it
 * (`workerData`, see the worker's thread-pool.ts). Read once, when this module
 * loads; outside a tessera thread (the head, a worker's main thread) it is
 * absent and the defaults below are never used.
 */
import { adoptSharedMemoryCounters, setSegmentIdleTime } from "../../comms/shared-memory/index.ts";
import { Report, type HeadAddress } from "./protocol.ts";
import { describeError } from "../../errors.ts";
import { THREAD_MARKER } from "./channel.ts";

export interface ThreadData {
  marker: string;
  uid: string;
  thread: number;
  head: HeadAddress | undefined;
  memoryLimit: number;
  /** Bytes of shared memory to prepare once ready, for the first large result (the warmPool option; 0: none). */
  warmPool: number;
  sharedMemoryCounters: SharedArrayBuffer;
  realmCounters: SharedArrayBuffer;
  segmentIdleTime: number;
  /** One counter (Int32): events sent up by the worker and its threads, for its status. */
  eventCounter: SharedArrayBuffer;
  /**
   * BUSY_SLOTS Float64s, written by the thread (plain stores, read once in a
   * while by the worker's main thread): when its running method started
   * (Date.now(); 0 between methods), that call's task id, calls queued here,
   * completions held back from the main thread (see outbox.ts), the tessera
   * whose constructor runs (see markConstructing).
   */
  busy: SharedArrayBuffer;
  /** Calls cancelled by the main thread (see cancels.ts). */
  cancels: SharedArrayBuffer;
  /** The worker's log level as consola's number (`mosaic.logger` drops lines above it). */
  logLevel: number;
}

// node:worker_threads only on a thread: a worker's main thread imports this module for its types and slots.
export const threadData = (Bun.isMainThread ? undefined : (require("node:worker_threads") as typeof import("node:worker_threads")).workerData) as
  | Partial<ThreadData>
  | undefined;
if (threadData?.sharedMemoryCounters) adoptSharedMemoryCounters(threadData.sharedMemoryCounters, threadData.realmCounters);
if (threadData?.segmentIdleTime !== undefined) setSegmentIdleTime(threadData.segmentIdleTime);

/** The worker this thread belongs to: errors and events name it (what `runtime.getWorker()` knows). */
export const workerUid: string = threadData?.uid ?? "worker";
export const threadIndex: number = threadData?.thread ?? 0;

/**
 * Until its program has loaded, an error that stops the load (thrown by the
 * program's top-level code, or by a timer it set meanwhile) is told to the
 * worker as it was thrown, and ends the thread: the error event of a web
 * Worker carries only text. A program that listens for these itself keeps
 * its own handling, as it would in a process.
 */
function loadFailed(event: "uncaughtException" | "unhandledRejection"): (error: unknown) => void {
  return (error) => {
    if (process.listenerCount(event) > 1) return;
    const { parentPort } = require("node:worker_threads") as typeof import("node:worker_threads");
    parentPort?.postMessage([[Report.LoadFailed, describeError(error, workerUid)]]);
    process.exit(1);
  };
}
const loadWatch = threadData?.marker === THREAD_MARKER ? ([["uncaughtException", loadFailed("uncaughtException")], ["unhandledRejection", loadFailed("unhandledRejection")]] as const) : [];
for (const [event, listener] of loadWatch) process.on(event, listener);

/** The program has loaded: errors no method catches are the serving loop's now (see thread.ts). */
export function programLoaded(): void {
  for (const [event, listener] of loadWatch) process.off(event, listener);
}

/** Slots of a thread's busy record: started (ms), task id, calls queued, completions held back, tessera being constructed. */
export const BUSY_SLOTS = 5;

/** When the method running now started (0: none), for the worker's placement of new tesserae (see ThreadPool.pick). */
const busySince = threadData?.busy ? new Float64Array(threadData.busy) : new Float64Array(BUSY_SLOTS);

/** Whether a method has run here yet (see thread.ts's shrink once quiet). */
let methodsRan = false;

/** `since` 0: between methods; `task`: the id of the call that started (resource samples tell the head it runs). */
export function markBusy(since: number, task = 0): void {
  busySince[0] = since;
  busySince[1] = task;
  if (since > 0) methodsRan = true;
}

/** No method has run on this thread yet (constructors aside). */
export function quietSoFar(): boolean {
  return !methodsRan;
}

/** Calls queued on this thread and not started (a resource sample reads it). */
export function markQueued(calls: number): void {
  busySince[2] = calls;
}

/**
 * The tessera whose constructor runs now (0: none), left as it is if the
 * thread ends inside it (a constructor that calls process.exit(), or whose
 * failure cannot be reported): its worker then fails that creation instead of
 * making it again on another thread, where it would end that one too.
 */
export function markConstructing(tessera: number): void {
  busySince[4] = tessera;
}

/** Completions held back from the main thread: a dependent waiting there asks only the threads that hold some. */
export function markHeldBack(count: number): void {
  busySince[3] = count;
}

// A thread ended by its own program (process.exit() in a method) says so at once: no new tessera is placed on it.
if (threadData?.busy) process.on("exit", () => markBusy(-1));
