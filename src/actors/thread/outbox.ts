/**
 * What a tessera thread sends, each kind in one batch per tick (slices during
 * a burst): reports to its worker's main thread, and over its own link to the
 * head the completions of the head's calls (with small results), console lines
 * and events. Order holds where it matters: a method's console lines leave
 * before its completion, a call's `task.started` before its completion.
 */
import { copyBytes } from "../../_util/copy-bytes.ts";
import { cutText, describeError, errorBatches, type ErrorDescription, MAX_ERROR_TEXT } from "../../errors.ts";
import type { Connection } from "../../comms/connection.ts";
import type { LogStream } from "../../logging/logger.ts";
import { Batcher } from "../../_util/tick-batcher.ts";
import { encodeDoneMessage } from "../wire/done-message.ts";
import type { RuntimeEventType, WireEvent } from "../../observe/events.ts";
import { postBatch, threadScope } from "./channel.ts";
import { type DoneManyReport, type DoneReport, type FailedReport, type Posted, Report, type ThreadReport } from "./protocol.ts";
import { markHeldBack, threadData, threadIndex, workerUid } from "./thread-data.ts";
import { SHM_MIN_BYTES } from "../../comms/shared-memory/index.ts";

/** Ops (and reports) per message during a burst: the receiver starts while this side still runs. */
export const BATCH_SLICE = 256;
/** Results up to this size (and without raw payloads) go to the head with their completion, as in the original. */
const INLINE_RESULT_BYTES = 1024;

/**
 * The thread's own link to the head (see head-link.ts). Completions (with
 * small results) and console lines of the head's calls go straight to it: one
 * hop instead of two through the worker's main thread, which still hears of
 * every result (it serves them to other workers and keeps them until released).
 */
let head: Connection | undefined;

export function useHeadLink(link: Connection | undefined): void {
  head = link;
}

export function headLink(): Connection | undefined {
  return head;
}

const toMain = new Batcher<ThreadReport>(
  (batch) => {
    if (toHead.size === 0) unsentSince = 0;
    if (heldBack.length > 0) batch.unshift(takeHeldBack()); // they were settled first
    postBatch(threadScope, batch);
  },
  { limit: BATCH_SLICE },
);

/**
 * Completions the head already has with their results (made by the head's
 * calls, small results inline): the main thread keeps them only for
 * dependents, so they do not wake it once per call. They go with the next
 * report, at the latest HOLD_BACK_MS later, or at once when the main thread
 * asks (Op.SendReports: a dependent waits for one of them there). A round trip
 * then wakes two threads, not three: on a busy CPU the third one's turn came
 * before the next call.
 */
let heldBack: number[] = [];
/** Their results, in the same order (each at most INLINE_RESULT_BYTES, or under 64 KiB for a result the head asked for). */
let heldResults: Uint8Array[] = [];
/** The payloads of those that have some (results the head asked for, see wanted): [place in heldBack, payloads]. */
let heldPayloads: [number, Uint8Array[]][] = [];
/** Bytes of their results: bodies (heldBodyBytes, end to end in the report) and payloads. */
let heldBytes = 0;
let heldBodyBytes = 0;
/**
 * Nothing waits on this timer (dependents ask, see above; a long call and the
 * thread's end send first): it only bounds how late the main thread's counts
 * are. Each report costs this thread a clone and a post (~90 us): at 2 ms a
 * loop of round trips sent one every ~57 calls, 1.6 us of this thread per
 * call on one CPU; at 20 ms (or BATCH_SLICE completions) ~1/10 of that
 * (round trip on one CPU 35.4 -> 33 us, rtcpu probe; actors.bench 1.67-1.72x
 * -> 1.57-1.58x a raw TCP ping, same runs).
 */
const HOLD_BACK_MS = 20;
/**
 * ... or once this many are held (or this many bytes of results): the main
 * thread needs them only for dependents (which ask) and its counts, and each
 * post costs this thread ~10 us however small (the clone, waking the main
 * thread): at 256 a post was 7% of a pipelined no-op call's thread time.
 */
const HELD_BACK_MAX = 4096;
const HELD_BACK_MAX_BYTES = 256 * 1024;
let holdTimer: ReturnType<typeof setTimeout> | undefined;

function holdBack(task: number, body: Uint8Array, payloads?: Uint8Array[]): void {
  const held = heldBack.push(task);
  markHeldBack(held);
  heldResults.push(body);
  heldBytes += body.length;
  heldBodyBytes += body.length;
  if (payloads && payloads.length > 0) {
    heldPayloads.push([held - 1, payloads]);
    for (const payload of payloads) heldBytes += payload.byteLength;
  }
  if (heldBack.length >= HELD_BACK_MAX || heldBytes >= HELD_BACK_MAX_BYTES) return sendHeldBack();
  holdTimer ??= setTimeout(sendHeldBack, HOLD_BACK_MS);
}

/**
 * The completions held back, as one report: ids, sizes and the results end
 * to end in one array (cloning a tuple and an array per completion cost more
 * than the rest of a call on both threads).
 */
function takeHeldBack(): DoneManyReport {
  markHeldBack(0);
  const results = new Uint8Array(heldBodyBytes);
  const count = heldResults.length;
  // Typed arrays: posting 256 ids and sizes as plain arrays cost ~16 us, as typed arrays ~5 (a clone per element).
  // Ids as 32-bit integers while they fit (the receiver reads them as such), else as doubles.
  let largest = 0;
  for (let i = 0; i < count; i++) if (heldBack[i]! > largest) largest = heldBack[i]!;
  const tasks = largest < 2 ** 31 ? new Int32Array(count) : new Float64Array(count);
  const sizes = new Uint16Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const body = heldResults[i]!;
    tasks[i] = heldBack[i]!;
    sizes[i] = body.length;
    at = copyBytes(results, at, body);
  }
  const report: DoneManyReport = heldPayloads.length > 0 ? [Report.DoneMany, tasks, sizes, results, heldPayloads] : [Report.DoneMany, tasks, sizes, results];
  heldBack = [];
  heldResults = [];
  heldPayloads = [];
  heldBytes = 0;
  heldBodyBytes = 0;
  return report;
}

/** Posts the completions held back from the main thread now. */
export function sendHeldBack(): void {
  if (holdTimer !== undefined) clearTimeout(holdTimer);
  holdTimer = undefined;
  if (heldBack.length === 0) return;
  if (toMain.size > 0) return toMain.flush(); // they go first in it
  postBatch(threadScope, [takeHeldBack()]);
}

// A thread that ends (process.exit() in a method, an uncaught error) still tells its main thread what it
// held back or queued: the head has those completions already, and a dependent asking the worker for one
// must find it there, not wait for it for ever. Messages posted in the exit hook reach the main thread.
if (threadData) {
  process.on("exit", () => {
    // Completions for the head first (process.exit() in a method's microtask leaves them queued).
    if (toHead.size > 0) toHead.flush();
    head?.flush();
    sendHeldBack();
    if (toMain.size > 0) toMain.flush();
  });
}

/** Whether a completion is one the main thread may hear of late (see heldBack). */
function mayHoldBack(direct: boolean, result: Posted | undefined): boolean {
  return direct && result !== undefined && result[1].length === 0 && result[0].length <= INLINE_RESULT_BYTES;
}

/** When the oldest completion not sent yet (to the head, or to the main thread) was settled (0: none): see the executor's FLUSH_AFTER_MS. */
export let unsentSince = 0;

/** Completions for the head, sent as one `done` command (ids, result sizes, small results end to end) and one `failed`. */
const toHead = new Batcher<DoneReport | FailedReport>(sendCompletions, { limit: BATCH_SLICE });

/**
 * Sends the completions and reports waiting for the end of the tick now: a
 * method about to run may block this thread for long (or for good), and what
 * ended before it must not wait for it.
 */
export function flushBeforeRunning(): void {
  if (toHead.size > 0) {
    toHead.flush();
    head?.flush();
  }
  if (toMain.size > 0) toMain.flush();
}

/**
 * Calls whose results the head asked for ahead of their completion (a `want`
 * after the call: its program awaits `result()` of a method whose results
 * stay on the worker, or whose results' size it does not know yet). Such a
 * result goes to the head just before its completion, when it is small
 * enough (WANTED_RESULT_MAX_BYTES) and has no payload in shared memory: one
 * round trip instead of a request to the worker's main thread after the
 * completion. A want is taken when its call settles, whatever the outcome; one
 * that came after its call ended finds nothing (the head then asks the worker,
 * as before) and stays until WANTED_MAX newer ones push it out.
 */
const wanted = new Set<number>();
/** Wants kept at most: past this, the oldest goes (a want that came too late is never taken). */
const WANTED_MAX = 16_384;
/**
 * This tick's completions whose results the head asked for: their payloads,
 * when the result goes to the head ahead of the completion (see wanted), or
 * null when it is too large to (the head hears of that as a `result` without
 * bytes, and asks the worker at once for that method's next ones). Taken by
 * sendCompletions.
 */
const ahead = new Map<number, Uint8Array[] | null>();
/**
 * Results up to this size go to the head when asked for: every result whose
 * payloads are not in shared memory (under SHM_MIN_BYTES each), and the
 * message around them. Larger ones stay on the worker, to be fetched from its
 * main thread (those in shared memory passed on by name). At 65 KiB until
 * 2026-12-04: sent by this thread, a 128 KiB result then took longer to reach
 * the head than asked of the main thread (325 us against 239-247 a round
 * trip), but since a result that comes again unchanged shares its copy
 * (values.ts, snapshotOf) `await b.get().result()` of 128 KiB ran 213-214 us
 * this way against 267-289 asked of the main thread, 200 KiB 254-282 against
 * 336-351, and a changed 200 KiB result 782-794 against 876-985 (alternated).
 */
const WANTED_RESULT_MAX_BYTES = SHM_MIN_BYTES + 1024;

/** The head asks for `task`'s result with its completion (see wanted). */
export function wantResult(task: unknown): void {
  if (typeof task !== "number") return;
  if (wanted.size >= WANTED_MAX) wanted.delete(wanted.values().next().value!);
  wanted.add(task);
}

/** A result's payloads when it can go to the head as it is (all in memory, not in segments, small enough); undefined otherwise. */
function wantedPayloads([body, payloads]: Posted): Uint8Array[] | undefined {
  let size = body.length;
  for (const payload of payloads) {
    if (!(payload instanceof Uint8Array)) return undefined;
    size += payload.byteLength;
  }
  return size <= WANTED_RESULT_MAX_BYTES ? (payloads as Uint8Array[]) : undefined;
}

function sendCompletions(batch: (DoneReport | FailedReport)[]): void {
  if (toMain.size === 0) unsentSince = 0; // the main thread's are sent, or held back (see heldBack)
  events.flush(); // the task.started events of these calls go first
  if (!head) return;
  const tasks: number[] = [];
  const sizes: number[] = [];
  const inline: Uint8Array[] = [];
  const failed: [number, ErrorDescription][] = [];
  let bytes = 0;
  for (const report of batch) {
    if (report[0] === Report.Failed) {
      failed.push([report[1], report[2]]);
      continue;
    }
    const [body, payloads] = report[2];
    tasks.push(report[1]);
    if (payloads.length > 0 || body.length > INLINE_RESULT_BYTES) {
      sizes.push(-1); // fetched from the worker's main thread on demand, or sent now because the head asked
      // Ahead of the completion, on the same link: the head has it when the completion settles the task.
      const sent = ahead.size > 0 ? ahead.get(report[1]) : undefined;
      if (sent !== undefined) {
        ahead.delete(report[1]);
        head.command("result", sent ? [report[1], body] : [report[1]], sent ?? undefined);
      }
      continue;
    }
    sizes.push(body.length);
    inline.push(body);
    bytes += body.length;
  }
  if (tasks.length > 0) {
    // One binary for the batch's small results: one object to decode on the head, not one per task.
    const results = new Uint8Array(bytes);
    let at = 0;
    for (const body of inline) at = copyBytes(results, at, body);
    // Written by hand (the head reads it so too); ids past 2^32 take the generic encoding.
    const body = encodeDoneMessage(tasks, sizes, results);
    if (body) head.sendEncoded(body);
    else head.command("done", [tasks, sizes, results]);
  }
  if (failed.length > 0) for (const slice of errorBatches(failed)) head.command("failed", slice);
  // Written now, ahead of the same completions' report to the main thread (posted later in this tick): waking the
  // main thread first would put its work (or, on a busy CPU, its whole time slice) before the reply.
  head.flush();
}

export function report(message: ThreadReport): void {
  toMain.add(message);
}

/** Reports a call's outcome: over the thread's link when the head made it, and always to the main thread. */
export function settle(task: number, fromHead: boolean, result: Posted | undefined, error: ErrorDescription | undefined): void {
  const direct = fromHead && head?.isOpen === true;
  const message: DoneReport | FailedReport = error ? [Report.Failed, task, error, direct] : [Report.Done, task, result!, direct];
  if (unsentSince === 0) unsentSince = performance.now();
  // Taken whatever happens (failed, cancelled, through the worker): only this completion could have used it.
  const asked = wanted.size > 0 && wanted.delete(task);
  if (direct) toHead.add(message);
  if (!error && mayHoldBack(direct, result)) holdBack(task, result![0]);
  else {
    const payloads = asked && !error && direct ? (wantedPayloads(result!) ?? null) : undefined;
    if (payloads !== undefined) ahead.set(task, payloads);
    // Going to the head, so held back from the main thread as the small ones are (a post per call was a quarter of
    // such a call's thread time, and woke the main thread each time), when its size fits the report's.
    if (payloads && result![0].length <= 0xffff) holdBack(task, result![0], payloads);
    else toMain.add(message);
  }
}

/** Errors name the worker (what `runtime.getWorker()` knows); the thread goes in `data`. */
export function describeFailure(error: unknown): ErrorDescription {
  const description = describeError(error, workerUid);
  return { ...description, data: { ...description.data, thread: threadIndex } };
}

/**
 * Characters of one console or `mosaic.logger` call that are sent: 1 MiB, as
 * for an error's text (see MAX_ERROR_TEXT). More is cut, with a marker saying
 * how much: a 300 MiB line broke the frame limit and took the thread's link,
 * and every tessera on the thread, with it.
 */
export const MAX_LOG_TEXT = MAX_ERROR_TEXT;

/** A console or `mosaic.logger` line: sent at once (with what is queued before it), so a method that then blocks does not hold it back. */
export function sendLog(stream: LogStream, text: string): void {
  text = cutText(text, MAX_LOG_TEXT);
  if (head?.isOpen) {
    toHead.flush(); // completions of earlier calls first: lines and completions keep their order
    head.command("log", [workerUid, stream, text.split("\n")]);
    head.flush();
  } else {
    toMain.add([Report.Log, stream, text]);
    toMain.flush();
  }
}

/**
 * The worker-side event types the head has listeners for (Op.Observe):
 * producers check one of these booleans before they build an event.
 */
export const observing = { started: false, transfer: false, pressure: false };

export function observe(types: RuntimeEventType[]): void {
  observing.started = types.includes("task.started");
  observing.transfer = types.includes("transfer");
  observing.pressure = types.includes("memory.pressure");
}

/** Events sent up by the worker and its threads (shared with the main thread: the worker's status shows it). */
let eventCounter = new Int32Array(new SharedArrayBuffer(4));

export function countEventsIn(counter: SharedArrayBuffer): void {
  eventCounter = new Int32Array(counter);
}

const events = new Batcher<WireEvent>((batch) => {
  if (!head?.isOpen) return void toMain.add([Report.Events, batch]); // the main thread sends them up (and counts them)
  Atomics.add(eventCounter, 0, batch.length);
  head.command("events", batch);
});

/**
 * An event sent at once, not at the end of the tick: a task starting (its
 * method may block the thread for long). Earlier completions go first.
 */
export function emitNow(event: WireEvent): void {
  if (head?.isOpen) {
    toHead.flush();
    events.add(event);
    events.flush();
    head.flush();
    if (toMain.size > 0) toMain.flush();
  } else {
    toMain.add([Report.Events, [event]]);
    toMain.flush();
  }
}

export function emit(event: WireEvent): void {
  // Without a link of its own, an event travels with the reports (the main thread sends it up before their completions).
  if (!head?.isOpen) toMain.add([Report.Events, [event]]);
  else events.add(event);
}
