/**
 * The tesserae living on this thread and the running of their methods: each
 * tessera runs its calls one at a time, in call order (`seq`), whichever way
 * they came (from the main thread, or straight from the head); skips stand for
 * calls that will not come, releases wait for the calls before them.
 */
import { CancelledError, type ErrorDescription, UnknownTesseraMethodError } from "../../errors.ts";
import { abortIfRunning, endCall, runCall, runConstructor } from "../current-call.ts";
import { Fifo } from "../../_util/fifo.ts";
import { collectYoungIfMapped, releaseFreeSegments, returnSegment } from "../../comms/shared-memory/index.ts";
import { classNameOf, findClass } from "../registry.ts";
import { Op, Report, type ThreadOp } from "./protocol.ts";
import { describeFailure, emitNow, flushBeforeRunning, observe, observing, report, sendHeldBack, settle, unsentSince } from "./outbox.ts";
import { markBusy, markConstructing, markQueued, threadData, threadIndex, workerUid } from "./thread-data.ts";
import { CancelReader } from "./cancels.ts";
import { decodeArgs, encodeResult, letGo, MAIN_THREAD } from "./values.ts";
import { GET_ATTRIBUTE, SET_ATTRIBUTE } from "../wire/call-message.ts";
import { handleClasses, referenceClasses } from "../wire/value-scan.ts";

interface ResidentTessera {
  id: number;
  instance: Record<string, unknown> | undefined;
  className: string;
  /** Ops in the order they run. */
  queue: Fifo<ThreadOp>;
  running: boolean;
  error: ErrorDescription | undefined;
  /** The place of the next call to run; calls that arrived before their turn wait in `early`. */
  next: number;
  early: Map<number, ThreadOp> | undefined;
  /** Released after this many calls, which have not all arrived yet. */
  releaseAfter: number | undefined;
  /** Its completions leave before its next call starts (see Op.Create). */
  strict: boolean;
  /** Async calls it may run at once (maxConcurrency), and how many are running past their first await. */
  concurrency: number;
  awaiting: number;
  /** Resolved when one of them ends while the queue waits for room. */
  room: (() => void) | undefined;
  /** Methods whose last call ran within FLUSH_AFTER_MS (to its end, awaits included). */
  quick: Set<string>;
}

const tesserae = new Map<number, ResidentTessera>();

async function runQueue(resident: ResidentTessera): Promise<void> {
  resident.running = true;
  // The clock, read once per call: the end of one call is the start of the next (~4% of a no-op call's thread time
  // went to reading it twice). Read again after anything that may have taken long (an await, a constructor).
  let clock = performance.now();
  while (resident.queue.length > 0) {
    const op = resident.queue.shift()!;
    if (op[0] === Op.Release) {
      tesserae.delete(op[1]);
      continue;
    }
    if (op[0] === Op.Create) {
      const [, tessera, key, args, deps] = op;
      markConstructing(tessera);
      try {
        // Arguments first: the segments they map go back once collected, whatever happens next.
        const values = decodeArgs(args, deps);
        const Class = findClass(key) as new (...args: unknown[]) => Record<string, unknown>;
        resident.instance = runConstructor(() => new Class(...values));
        report([Report.Created, tessera]);
      } catch (error) {
        resident.error = describeFailure(error);
        report([Report.CreateFailed, tessera, resident.error]);
      }
      // Not in a finally: a thread that ends before this line ended inside this creation.
      markConstructing(0);
      clock = performance.now();
      continue;
    }
    const [, , task, name, args, deps, fromHead] = op as Extract<ThreadOp, [1, ...unknown[]]>;
    if (dropped.size > 0 && dropped.delete(task)) continue; // cancelled while it waited: settled then
    if (cancels?.changed) cancels.take(addCancelled);
    if (cancelled.size > 0 && cancelled.has(task)) {
      cancelled.delete(task);
      markQueued(--queuedCalls);
      dropCall(op as Extract<ThreadOp, [1, ...unknown[]]>);
      continue;
    }
    const startedAt = clock;
    // A restartable tessera: the head must know every call that ended before this one starts.
    if (resident.strict && unsentSince > 0) flushBeforeRunning();
    // Marked before the start is told: a status request that follows the event finds the call running.
    markQueued(--queuedCalls);
    markBusy(performance.timeOrigin + startedAt, task); // the wall clock, without a second clock read
    if (observing.started) emitNow({ type: "task.started", id: task, worker: workerUid, thread: threadIndex, time: Date.now() });
    else if (unsentSince > 0 && (startedAt - unsentSince > FLUSH_AFTER_MS || resident.queue.length === 0)) {
      // What ended a while ago, or before the last call queued, leaves before this method, which may block the thread for long.
      flushBeforeRunning();
    }
    // Completions held back from the main thread (see outbox.ts) wait only behind methods known to be quick: one
    // that ran long last time (or never ran) may block the thread, and a dependent may wait for them meanwhile.
    if (!resident.quick.has(name)) sendHeldBack();
    try {
      const values = decodeArgs(args, deps); // first, as for creations
      if (resident.error) throw new Error(`the tessera could not be created: ${resident.error.message}`);
      let result: unknown;
      if (name === GET_ATTRIBUTE || name === SET_ATTRIBUTE) result = attribute(resident, name, values);
      else {
        const method = resident.instance?.[name];
        if (typeof method !== "function") throw new UnknownTesseraMethodError(`${resident.className} has no method "${name}"`);
        // A method that returns a promise keeps its task in a context across its awaits (mosaic.signal(), cancel, nested calls).
        result = runCall(task, method, resident.instance, values, resident.id);
      }
      // Only async methods pay for an await: synchronous ones run back to back.
      const pending = awaited(result);
      if (pending) {
        if (resident.concurrency > 1) {
          // The next call starts while this one awaits, up to maxConcurrency at once.
          runConcurrently(resident, task, fromHead, pending);
          markBusy(0);
          if (resident.awaiting >= resident.concurrency) await new Promise<void>((resolve) => (resident.room = resolve));
          clock = performance.now();
          continue;
        }
        result = await pending;
      }
      settle(task, fromHead, encodeResult(result, task), undefined);
    } catch (error) {
      settle(task, fromHead, undefined, describeFailure(error));
    }
    endCall(task);
    markBusy(0);
    // A method that ran long: its completion leaves now (the flush is cheap next to it), not after the next one.
    clock = performance.now();
    if (clock - startedAt > FLUSH_AFTER_MS) {
      flushBeforeRunning();
      resident.quick.delete(name);
    } else resident.quick.add(name);
  }
  resident.running = false;
  collectYoungIfMapped();
}

/**
 * What a method's result stands for, when the call must wait for it: a
 * promise (an async method), or a task a nested call returned, whose result
 * (or failure) is the call's own, as a promise's would be (awaiting a task
 * gives only its completion). A tessera proxy is a value, sent as a handle
 * (awaiting it would wait for its creation and give undefined).
 */
function awaited(result: unknown): PromiseLike<unknown> | undefined {
  if (result === null || typeof result !== "object" || typeof (result as PromiseLike<unknown>).then !== "function") return undefined;
  const Class = (result as object).constructor;
  if (handleClasses.has(Class)) return undefined;
  if (referenceClasses.has(Class) && typeof (result as { result?: unknown }).result === "function") return (result as { result(): Promise<unknown> }).result();
  return result as PromiseLike<unknown>;
}

/**
 * Completions of synchronous methods run back to back are batched until the
 * queue drains (a message per call would cost most of the throughput), but
 * never for long: one that waited FLUSH_AFTER_MS leaves before the next
 * method starts, so do all before the last queued call starts, and a method
 * that ran longer than that sends its own at once. (Left: completions of fast
 * calls within FLUSH_AFTER_MS before a long call in the middle of a queue wait
 * for it.)
 */
const FLUSH_AFTER_MS = 1;

/** An async call of a concurrent tessera: settled when its promise settles, its place freed for the next. */
function runConcurrently(resident: ResidentTessera, task: number, fromHead: boolean, pending: PromiseLike<unknown>): void {
  resident.awaiting++;
  const ended = () => {
    endCall(task);
    resident.awaiting--;
    const room = resident.room;
    resident.room = undefined;
    room?.();
  };
  pending.then(
    (value) => {
      ended();
      try {
        settle(task, fromHead, encodeResult(value, task), undefined);
      } catch (error) {
        settle(task, fromHead, undefined, describeFailure(error));
      }
    },
    (error: unknown) => {
      ended();
      settle(task, fromHead, undefined, describeFailure(error));
    },
  );
}

/** `proxy.$get(name)` / `proxy.$set(name, value)`: a field read or written in call order. */
function attribute(resident: ResidentTessera, name: string, [field, value]: unknown[]): unknown {
  const instance = resident.instance!;
  if (typeof field !== "string" || !(field in instance) || typeof instance[field] === "function") {
    throw new UnknownTesseraMethodError(`${resident.className} has no field "${String(field)}"`);
  }
  if (name === GET_ATTRIBUTE) return instance[field];
  instance[field] = value;
  return undefined;
}

export function onOps(ops: ThreadOp[]): void {
  for (const op of ops) onOp(op);
}

export function onOp(op: ThreadOp): void {
  if (op[0] === Op.CollectGarbage) {
    Bun.gc(true);
    report([Report.Collected, op[1]]);
    return;
  }
  if (op[0] === Op.SegmentFree) return returnSegment(op[1], MAIN_THREAD, op[2]);
  if (op[0] === Op.TrimPool) return void releaseFreeSegments(); // the worker's memory runs short
  if (op[0] === Op.Observe) return observe(op[1]);
  if (op[0] === Op.Cancel) return cancel(op[1], op[2]);
  if (op[0] === Op.SendReports) return sendHeldBack();
  if (op[0] === Op.Adopt) return; // taken when it came (thread-data.ts)
  const resident = tesserae.get(op[1]);
  if (!resident) {
    if (op[0] === Op.Call) {
      // Released already (or never created here): the call fails instead of creating an empty entry.
      letGo(op[4], op[5]);
      settle(op[2], op[6], undefined, describeFailure(new UnknownTesseraMethodError(`the tessera of this call is not on this worker (released?)`)));
    } else if (op[0] === Op.Create) {
      const created: ResidentTessera = {
        id: op[1],
        instance: undefined,
        className: classNameOf(op[2]),
        queue: new Fifo(),
        running: false,
        error: undefined,
        next: 1,
        early: undefined,
        releaseAfter: undefined,
        strict: op[5],
        concurrency: op[6] ?? 1,
        awaiting: 0,
        room: undefined,
        quick: new Set(),
      };
      tesserae.set(op[1], created);
      enqueue(created, op);
    }
    return;
  }
  if (op[0] === Op.Release) {
    if (resident.next > op[2]) enqueue(resident, op);
    else resident.releaseAfter = op[2];
    return;
  }
  if (op[0] !== Op.Call && op[0] !== Op.Skip) return;
  const seq = op[0] === Op.Call ? op[7] : op[2];
  if (op[0] === Op.Call && cancelled.size > 0 && cancelled.delete(op[2])) {
    // Cancelled before it arrived: it fails now, its place in the order is taken as a skip's.
    dropCall(op);
    if (seq === 0) return;
    op = [Op.Skip, op[1], seq];
  }
  if (seq === 0 && op[0] === Op.Call) {
    // A retry: it runs now, ahead of the calls made after it, which may wait for it.
    markQueued(++queuedCalls);
    return enqueue(resident, op);
  }
  if (seq !== resident.next) {
    (resident.early ??= new Map()).set(seq, op);
    return;
  }
  admit(resident, op);
  for (let waiting = resident.early?.get(resident.next); waiting; waiting = resident.early?.get(resident.next)) {
    resident.early!.delete(resident.next);
    admit(resident, waiting);
  }
  if (resident.releaseAfter !== undefined && resident.next > resident.releaseAfter) {
    enqueue(resident, [Op.Release, resident.id, resident.releaseAfter]);
    resident.releaseAfter = undefined;
  }
}

/**
 * Calls cancelled before they ran (they may not have arrived yet: a call
 * comes straight from the head, its cancel through the main thread), bounded:
 * the cancel of a call that had already ended is never consumed.
 */
const cancelled = new Set<number>();
const MAX_CANCELLED = 4096;

/** Calls cancelled while they waited in their tessera's queue: settled then, passed over when their turn comes. */
const dropped = new Set<number>();

/**
 * `task.cancel()`: a running call's signal is aborted; one that waits here
 * fails now, keeping its place in the order (the calls behind it run in turn);
 * one that has not arrived fails when it does. (A thread inside a synchronous
 * method reads no message: its queued calls are cancelled through the ring,
 * read before each call.)
 */
function cancel(tessera: number, task: number): void {
  if (abortIfRunning(task, new CancelledError("the call was cancelled while it ran"))) return;
  let tasks = toDrop.get(tessera);
  if (!tasks) toDrop.set(tessera, (tasks = new Set()));
  tasks.add(task);
  if (toDrop.size === 1 && tasks.size === 1) queueMicrotask(dropCancelled);
}

/** Cancels of calls not running, by tessera: looked for once per message (one pass over a queue for many cancels). */
let toDrop = new Map<number, Set<number>>();

function dropCancelled(): void {
  // The ring holds the same cancels (written before their message): read now, each copy goes with its call below
  // (read later, they would stay in `cancelled` for good, and every call would pay for looking there).
  if (cancels?.changed) cancels.take(addCancelled);
  const batch = toDrop;
  toDrop = new Map();
  for (const [tessera, tasks] of batch) {
    const resident = tesserae.get(tessera);
    if (resident) {
      // Admitted, not started (a call ahead of them awaits, or the queue has not reached them yet).
      resident.queue.find((op) => {
        if (op[0] !== Op.Call || !tasks.delete(op[2]) || dropped.has(op[2])) return tasks.size === 0;
        cancelled.delete(op[2]); // read from the ring too, maybe
        dropped.add(op[2]);
        markQueued(--queuedCalls);
        dropCall(op);
        return tasks.size === 0;
      });
      // Arrived before their turn: a skip takes each one's place.
      if (tasks.size > 0 && resident.early) {
        for (const [seq, early] of resident.early) {
          if (early[0] !== Op.Call || !tasks.delete(early[2])) continue;
          resident.early.set(seq, [Op.Skip, tessera, seq]);
          cancelled.delete(early[2]);
          dropCall(early);
        }
      }
    }
    for (const task of tasks) addCancelled(task); // not arrived yet (or ended): failed on arrival
  }
}

/** A call that will not run: its arguments let go, its task failed with CancelledError. */
function dropCall([, , task, , args, deps, fromHead]: Extract<ThreadOp, [1, ...unknown[]]>): void {
  letGo(args, deps);
  settle(task, fromHead, undefined, describeFailure(new CancelledError(`the call was cancelled before it ran`)));
}

function addCancelled(task: number): void {
  if (cancelled.size >= MAX_CANCELLED) cancelled.delete(cancelled.values().next().value!);
  cancelled.add(task);
}

/** The main thread's cancels (see cancels.ts), once the thread has adopted their ring. */
let cancels: CancelReader | undefined;

export function readCancels(ring: SharedArrayBuffer): void {
  cancels = new CancelReader(ring);
}

/** Calls admitted and not started, on every tessera of this thread. */
let queuedCalls = 0;

/** Takes the call (or skip) whose turn it is. */
function admit(resident: ResidentTessera, op: ThreadOp): void {
  resident.next++;
  if (op[0] === Op.Call) {
    markQueued(++queuedCalls);
    enqueue(resident, op);
  }
}

/**
 * Queues an op; the queue runs at the end of this turn, once every call that
 * arrived with it (one socket read, one message from the main thread) is
 * queued: then the last of them is known (see FLUSH_AFTER_MS).
 */
function enqueue(resident: ResidentTessera, op: ThreadOp): void {
  resident.queue.push(op);
  if (resident.running) return;
  resident.running = true;
  queueMicrotask(() => void runQueue(resident));
}
