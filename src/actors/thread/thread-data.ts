/**
 * What a worker's main thread hands a tessera thread when it starts it (see
 * the worker's thread-pool.ts): its settings, in its environment, read once
 * when this module loads (outside a tessera thread they are absent and the
 * defaults below are never used); and the memory they share, which the thread
 * asks for as soon as it listens (Report.Hello) and adopts before it is ready.
 */
import { adoptSharedMemoryCounters, setSegmentIdleTime } from "../../comms/shared-memory/index.ts";
import { type HeadAddress, Op, Report, type SharedRecords } from "./protocol.ts";
import { describeError } from "../../errors.ts";
import { tesseraThreadSettings, threadScope } from "./channel.ts";

export interface ThreadSettings {
  /** The program the thread runs (its Bun.main): see channel.ts's tesseraThreadSettings. */
  program: string;
  uid: string;
  thread: number;
  head: HeadAddress | undefined;
  memoryLimit: number;
  /** Bytes of shared memory to prepare once ready, for the first large result (the warmPool option; 0: none). */
  warmPool: number;
  segmentIdleTime: number;
  /** The worker's log level as consola's number (`mosaic.logger` drops lines above it). */
  logLevel: number;
}

export const threadData = tesseraThreadSettings() as ThreadSettings | undefined;
if (threadData?.segmentIdleTime !== undefined) setSegmentIdleTime(threadData.segmentIdleTime);

/** The worker this thread belongs to: errors and events name it (what `runtime.getWorker()` knows). */
export const workerUid: string = threadData?.uid ?? "worker";
export const threadIndex: number = threadData?.thread ?? 0;

/** Slots of a thread's busy record: started (ms), task id, calls queued, completions held back, tessera being constructed. */
export const BUSY_SLOTS = 5;

/** When the method running now started (0: none), for the worker's placement of new tesserae (see ThreadPool.pick). */
let busySince = new Float64Array(new SharedArrayBuffer(8 * BUSY_SLOTS));

const shared = Promise.withResolvers<SharedRecords>();
/** Where the thread's ops go once it serves (see thread.ts). */
let onOps: ((ops: unknown[]) => void) | undefined;

/** The memory this thread shares with its worker's main thread, adopted (see protocol.ts's SharedRecords). */
export function sharedRecords(): Promise<SharedRecords> {
  return shared.promise;
}

/** The serving loop takes the ops from here on (none comes before the thread says it is ready). */
export function serveOps(handler: (ops: unknown[]) => void): void {
  onOps = handler;
}

let adopted = false;

function adopt(records: SharedRecords): void {
  if (adopted) return; // once: a second would add the worker's records into themselves
  adopted = true;
  adoptSharedMemoryCounters(records.sharedMemoryCounters, records.realmCounters);
  const own = busySince;
  busySince = new Float64Array(records.busy);
  busySince.set(own);
  shared.resolve(records);
}

if (threadData) {
  threadScope.addEventListener("message", (event) => {
    const batch = event.data as unknown[];
    const first = batch[0] as [number, SharedRecords] | undefined;
    if (first?.[0] === Op.Adopt) return adopt(first[1]);
    onOps?.(batch);
  });
  threadScope.postMessage([[Report.Hello]]);
}

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
    threadScope.postMessage([[Report.LoadFailed, describeError(error, workerUid)]]);
    process.exit(1);
  };
}
const loadWatch = threadData ? ([["uncaughtException", loadFailed("uncaughtException")], ["unhandledRejection", loadFailed("unhandledRejection")]] as const) : [];
for (const [event, listener] of loadWatch) process.on(event, listener);

/** The program has loaded: errors no method catches are the serving loop's now (see thread.ts). */
export function programLoaded(): void {
  for (const [event, listener] of loadWatch) process.off(event, listener);
}

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
if (threadData) process.on("exit", () => markBusy(-1));
