/**
 * A tessera thread: one of the threads of a worker process, where tesserae
 * live and their methods run (executor.ts). The worker's main thread keeps
 * the sockets, so a method that blocks here (a tight loop, Bun.sleepSync)
 * freezes nothing else.
 *
 * The thread runs the user's program too (to declare its classes); the
 * program's init()/run() call hands the thread over to this loop.
 */
import { captureConsole } from "./console.ts";
import { onOps, readCancels } from "./executor.ts";
import { dialHead } from "./head-link.ts";
import { countEventsIn, flushBeforeRunning, headLink, report } from "./outbox.ts";
import { cutText, describeError } from "../../errors.ts";
import { type Posted, Report } from "./protocol.ts";
import { programLoaded, quietSoFar, serveOps, sharedRecords, threadData, threadIndex, workerUid } from "./thread-data.ts";
import { segmentCapacity, sharedMemoryAvailable, warmSegment } from "../../comms/shared-memory/index.ts";
import { threadUid } from "../../types.ts";
import { nestedLink, PUT_VALUE } from "../nested-link.ts";
import { encodeResult, postedSize } from "./values.ts";
import { startStep } from "../../_util/start-trace.ts";
import { shrinkFootprint } from "../../_util/footprint.ts";

let started = false;

/** A thread whose tesserae have run no method this long after it is ready gives back what its start left. */
const SHRINK_WHEN_QUIET_MS = 2000;
let ending = false;

/** What ended the thread, in one line: the value's name and message (whatever was thrown). */
function uncaughtReason(error: unknown): string {
  const { name, message } = describeError(error);
  return `an error no method caught ended it: ${cutText(`${name}: ${message}`, 2000)}`;
}

/**
 * An error no method caught (a throw in a timer a method set, a promise
 * nobody awaited that rejects) ends the thread, as it would end a Node
 * process: the tesserae living here may be in any state. Before it goes, the
 * head and the worker hear why, so the calls and tesserae it takes with it
 * fail naming it (not only "connection closed"), and the line is logged.
 */
function endOnUncaught(error: unknown): void {
  if (ending) return;
  ending = true;
  const reason = uncaughtReason(error);
  // Calls that ended before it (in this tick: a microtask's throw) reach the head first, not as failures.
  flushBeforeRunning();
  try {
    const link = headLink();
    if (link?.isOpen) {
      link.command("threadEnding", reason);
      link.flush();
    }
  } catch {}
  report([Report.Ending, reason]);
  process.exit(1); // the exit hooks send what was queued and held back (outbox.ts)
}

/**
 * The warmPool option: a segment for a result of that size made in idle time
 * (in turns, after the thread is ready), as the head makes one for its first
 * large argument. Only by a worker's first thread (where its first tessera
 * goes), so that a worker holds one such segment whatever its thread count,
 * and at most half the worker's budget, as the head's.
 */
function warmPool(): void {
  const size = threadData?.warmPool ?? 0;
  const limit = threadData?.memoryLimit ?? 0;
  if (threadIndex === 0 && size > 0 && segmentCapacity(size) <= limit / 2 && sharedMemoryAvailable()) void warmSegment(size);
}

/** Hands this thread over to the tessera loop. Never settles. */
export function startThread(): Promise<never> {
  if (!started) {
    started = true;
    startStep(threadUid(workerUid, threadIndex), "program loaded");
    programLoaded();
    captureConsole();
    // Methods here may create, call and put (the nested client asks the head over this thread's link).
    nestedLink.onThread = true;
    nestedLink.worker = workerUid;
    nestedLink.thread = threadUid(workerUid, threadIndex);
    nestedLink.encode = (value) => {
      const encoded = encodeResult(value, PUT_VALUE);
      return { encoded, size: postedSize(encoded) };
    };
    nestedLink.store = (id, encoded) => report([Report.Put, id, encoded as Posted]);
    serveOps(onOps as (ops: unknown[]) => void);
    // A program that listens for these itself keeps its own handling (as in Node: a listener means no crash).
    process.on("uncaughtException", (error) => process.listenerCount("uncaughtException") === 1 && endOnUncaught(error));
    process.on("unhandledRejection", (error) => process.listenerCount("unhandledRejection") === 1 && endOnUncaught(error));
    // Ready once it shares its worker's memory records and the head's link is up (or known to be unavailable): calls
    // never race either. The records were asked for when the library loaded here: by now they have mostly come.
    const adopted = sharedRecords().then((records) => {
      readCancels(records.cancels);
      countEventsIn(records.eventCounter);
    });
    void Promise.all([adopted, dialHead()]).then(() => {
      startStep(threadUid(workerUid, threadIndex), "head link up");
      report([Report.Ready]);
      warmPool();
      // What the program's import left goes once the thread has been quiet a while, off the creation's path (it
      // took ~3.5 ms here before the link's handshake could go on), and not while its methods run (it drops every
      // function's compiled code).
      setTimeout(() => quietSoFar() && shrinkFootprint(), SHRINK_WHEN_QUIET_MS).unref();
    });
  }
  return new Promise<never>(() => {});
}
