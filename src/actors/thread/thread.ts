/**
 * A tessera thread: one of the threads of a worker process, where tesserae
 * live and their methods run. The worker's main thread keeps the sockets, so a
 * method that blocks here (a tight loop, Bun.sleepSync) freezes nothing else.
 *
 * The thread runs the user's program too (to declare its classes); the
 * program's init()/run() call hands the thread over to this loop.
 */
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { describeError, type ErrorDescription, UnknownTesseraMethodError } from "../../errors.ts";
import { findClass, classNameOf } from "../registry.ts";
import { decodeValue, DONE, encodeValue, type TaskReference } from "../wire/value-codec.ts";
import { compact, postBatch, sharePayload } from "./channel.ts";
import { threadUid } from "../../types.ts";
import { Fifo } from "../../_util/fifo.ts";
import type { Connection, ConnectionHandler } from "../../comms/connection.ts";
import {
  adoptSharedMemoryCounters,
  lendSegment,
  MACHINE_ID,
  mapSegment,
  receiveTarget,
  releaseFreeSegments,
  returnSegment,
  setSegmentIdleTime,
  sharedMemoryAvailable,
  SHM_MIN_BYTES,
} from "../../comms/shared-memory/index.ts";
import { connectTcp } from "../../comms/transports/tcp.ts";
import { fitsMemory } from "../../comms/memory-budget.ts";
import { ProtocolError, UnknownMethodError } from "../../errors.ts";

/** An encoded value as it crosses threads: body and raw payloads (SharedArrayBuffer-backed where they can be). */
export type Value = [bytes: Uint8Array, payloads: Uint8Array[]];
/** Dependency values by task id; null when the call has none (the common, fast case). */
export type Dependencies = Record<number, Value> | null;

/**
 * A payload in a pooled shared-memory segment, passed between a worker's
 * threads by name: the receiving thread maps it (no copy). `lease`: the main
 * thread's hold on it, released when the tessera thread's mapping is collected.
 */
export interface SegmentRef {
  segment: string;
  size: number;
  lease?: number;
  /** Which lending of a thread's own segment this is (given back with it). */
  lending?: number;
}
/** A value as posted between a worker's threads: payloads in shared memory, or named segments. */
export type Posted = [bytes: Uint8Array, payloads: (Uint8Array | SegmentRef)[]];
export type PostedDependencies = Record<number, Posted> | null;

/**
 * Main thread → tessera thread, as tuples (cheaper to encode than objects).
 * Calls come this way or straight from the head; `seq` orders them either way
 * (Skip: a call the main thread failed itself; Release: after `calls` calls).
 */
export const Op = { Create: 0, Call: 1, Release: 2, CollectGarbage: 3, Skip: 4, SegmentFree: 5, TrimPool: 6 } as const;
export type ThreadOp =
  | [op: 0, tessera: number, key: string, args: Posted, deps: PostedDependencies]
  | [op: 1, tessera: number, task: number, method: string, args: Posted, deps: PostedDependencies, fromHead: boolean, seq: number]
  | [op: 2, tessera: number, calls: number]
  | [op: 3, request: number]
  | [op: 4, tessera: number, seq: number]
  | [op: 5, segment: string, lending: number]
  | [op: 6];

/** Where a thread dials the head, and the secret it proves. */
export interface HeadAddress {
  address: string;
  port: number;
  secret: string;
}

/** Tessera thread → main thread. `reported`: the head has heard of it over the thread's own link. */
export const Report = { Ready: 0, Created: 1, CreateFailed: 2, Done: 3, Failed: 4, Log: 5, Collected: 6, Unmapped: 7 } as const;
export type ThreadReport =
  | [op: 0]
  | [op: 1, tessera: number]
  | [op: 2, tessera: number, error: ErrorDescription]
  | [op: 3, task: number, result: Posted, reported?: boolean]
  | [op: 4, task: number, error: ErrorDescription, reported?: boolean]
  | [op: 5, stream: "stdout" | "stderr", text: string]
  | [op: 6, request: number]
  | [op: 7, lease: number];

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
}

/** Encodings of the commonest results (nothing, small integers, booleans), made once. */
const SMALL_RESULTS = new Map<unknown, Posted>();
for (const value of [undefined, null, true, false, ...Array.from({ length: 128 }, (_, i) => i)]) {
  SMALL_RESULTS.set(value, [compact(encodeValue(value).bytes), []]);
}

/** Who this thread lends its pooled segments to: its worker's main thread (which gives them back with Op.SegmentFree). */
const MAIN_THREAD = {};

/**
 * Large results go to a pooled shared-memory segment of this thread (one
 * memcpy into memory that is already there; the main thread maps it and
 * passes it on by name); smaller ones are copied into shared memory; shared
 * memory goes across as it is.
 */
function stagePayload(payload: Uint8Array): Uint8Array | SegmentRef {
  if (payload.buffer instanceof SharedArrayBuffer) return payload;
  if (payload.byteLength >= SHM_MIN_BYTES && sharedMemoryAvailable()) {
    try {
      const lent = lendSegment(payload, MAIN_THREAD, false);
      if (lent) return { segment: lent.path, size: payload.byteLength, lending: lent.lending };
    } catch {} // /dev/shm full: shared memory of our own instead
  }
  return sharePayload(payload);
}

function encodeResult(result: unknown): Posted {
  const small = SMALL_RESULTS.get(result);
  if (small) return small;
  const encoded = encodeValue(result);
  return [compact(encoded.bytes), encoded.payloads.map(stagePayload)];
}

/** The main thread's holds on segments it passed here by name: released when this thread's mapping is collected. */
const leases = new FinalizationRegistry<number>((lease) => report([Report.Unmapped, lease]));

/** A call that will not run: the segments passed to it by name go back (once these mappings are collected). */
function letGo(args: Posted, deps: PostedDependencies): void {
  materialize(args);
  if (deps) for (const id in deps) materialize(deps[id]!);
}

/** Maps the segments among a posted value's payloads (no copy). */
function materialize(posted: Posted): Value {
  const [bytes, payloads] = posted;
  if (payloads.every((payload) => payload instanceof Uint8Array)) return posted as Value; // the common case: nothing to map
  return [
    bytes,
    payloads.map((payload) => {
      if (payload instanceof Uint8Array) return payload;
      const mapped = mapSegment(payload.segment, payload.size);
      if (payload.lease !== undefined) leases.register(mapped.buffer, payload.lease);
      return mapped;
    }),
  ];
}

let started = false;
const threadData = workerData as
  | { uid?: string; thread?: number; head?: HeadAddress; memoryLimit?: number; sharedMemoryCounters?: SharedArrayBuffer; realmCounters?: SharedArrayBuffer; segmentIdleTime?: number }
  | undefined;
if (threadData?.sharedMemoryCounters) adoptSharedMemoryCounters(threadData.sharedMemoryCounters, threadData.realmCounters);
if (threadData?.segmentIdleTime !== undefined) setSegmentIdleTime(threadData.segmentIdleTime);
const workerUid: string = threadData?.uid ?? "worker";
const threadIndex: number = threadData?.thread ?? 0;

/** Results up to this size (and without raw payloads) go to the head with their completion, as in the original. */
const INLINE_RESULT_BYTES = 1024;

/**
 * The thread's own link to the head. Completions (with small results) and
 * console lines of the head's calls go straight to it: one hop instead of two
 * through the worker's main thread. The main thread still hears of every
 * result (it serves them to other workers and keeps them until released).
 */
let head: Connection | undefined;
/**
 * Completions for the head, in one command per tick: task ids, the size of
 * each one's small result (-1: too large, fetched on demand), and those
 * results end to end in one binary (one object to decode, not one per task).
 */
let doneTasks: number[] = [];
let doneSizes: number[] = [];
let doneResults: Uint8Array[] = [];
let doneBytes = 0;
let headFailed: [number, ErrorDescription][] = [];

const headHandler: ConnectionHandler = {
  onRequest(_connection, method) {
    throw new UnknownMethodError(method, threadUid(workerUid, threadIndex));
  },
  // Large arrays from the head are used where they arrived (a mapped shared-memory segment): no copy.
  readSharedPayloads: () => false,
  // Calls without dependencies, straight from the head.
  onCommand(_connection, method, args, payloads, rejected) {
    if (method !== "call") return;
    const [tessera, task, name, bytes, refs, seq] = args as [number, number, string, Uint8Array, unknown[], number];
    if (rejected) {
      // Its arguments did not fit the worker's memory: it fails, and the calls after it still run.
      settle(task, true, undefined, describeFailure(rejected));
      return onOp([Op.Skip, tessera, seq]);
    }
    if (refs.length > 0) {
      // Dependencies are resolved by the worker's main thread: the head never sends those here.
      settle(task, true, undefined, describeFailure(new ProtocolError(`call #${task} with dependencies came straight to a tessera thread`)));
      return onOp([Op.Skip, tessera, seq]);
    }
    // The bytes are a view of a received chunk: the call may wait its turn, so it keeps a copy.
    onOp([Op.Call, tessera, task, name, [Uint8Array.prototype.slice.call(bytes), payloads], null, true, seq]);
  },
};

/** Dials the head; without it (no address, or it fails) everything goes through the main thread. */
async function dialHead(): Promise<void> {
  const target = threadData?.head;
  if (!target) return;
  try {
    const link = await connectTcp(target.address, target.port, {
      self: { uid: threadUid(workerUid, threadIndex), address: target.address, port: 0, pid: process.pid, machine: MACHINE_ID },
      secret: target.secret,
      handler: headHandler,
      log: () => {},
      expectedPeer: "head",
      // Arrays land in shared memory here too (the worker's main thread may serve them), within the worker's budget.
      allocate: (bytes) => receiveTarget(bytes) ?? new Uint8Array(new SharedArrayBuffer(bytes)),
      admit: (bytes) => threadData?.memoryLimit === undefined || fitsMemory(bytes, threadData.memoryLimit),
    });
    head = link;
    void link.closed.then(() => {
      if (head === link) head = undefined;
    });
  } catch {
    head = undefined;
  }
}

function toHead(task: number, result: Posted | undefined, error: ErrorDescription | undefined): void {
  if (doneTasks.length === 0 && headFailed.length === 0 && outbox.length === 0) queueMicrotask(flushReports);
  if (error) return void headFailed.push([task, error]);
  const [bytes, payloads] = result!;
  doneTasks.push(task);
  if (payloads.length > 0 || bytes.length > INLINE_RESULT_BYTES) return void doneSizes.push(-1);
  doneSizes.push(bytes.length);
  doneResults.push(bytes);
  doneBytes += bytes.length;
}

function flushHead(): void {
  if (!head) return;
  if (doneTasks.length > 0) {
    const results = new Uint8Array(doneBytes);
    let at = 0;
    for (const bytes of doneResults) {
      results.set(bytes, at);
      at += bytes.length;
    }
    head.command("done", [doneTasks, doneSizes, results]);
    doneTasks = [];
    doneSizes = [];
    doneResults = [];
    doneBytes = 0;
  }
  if (headFailed.length > 0) {
    head.command("failed", headFailed);
    headFailed = [];
  }
}

/** Reports a call's outcome: over the thread's link when the head made it, and always to the main thread. */
function settle(task: number, fromHead: boolean, result: Posted | undefined, error: ErrorDescription | undefined): void {
  const direct = fromHead && head?.isOpen === true;
  if (direct) toHead(task, result, error);
  if (error) report([Report.Failed, task, error, direct]);
  else report([Report.Done, task, result!, direct]);
}

/** Errors name the worker (what `runtime.getWorker()` knows); the thread goes in `data`. */
function describeFailure(error: unknown): ErrorDescription {
  const description = describeError(error, workerUid);
  return { ...description, data: { ...description.data, thread: threadIndex } };
}
const tesserae = new Map<number, ResidentTessera>();
let outbox: ThreadReport[] = [];

function report(message: ThreadReport): void {
  if (outbox.push(message) === 1) queueMicrotask(flushReports);
  // During a burst of synchronous calls, results leave in slices.
  else if (outbox.length >= 256) flushReports();
}

function flushReports(): void {
  flushHead();
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  postBatch(parentPort!, batch);
}

/** msgpack of [] : the arguments of most calls. */
const NO_ARGUMENTS = 0x90;

function decodeArgs(posted: Posted, deps: PostedDependencies): unknown[] {
  const [bytes, payloads] = materialize(posted);
  if (deps === null) return bytes.length === 1 && bytes[0] === NO_ARGUMENTS ? [] : (decodeValue(bytes, payloads) as unknown[]);
  const values = new Map<number, unknown>();
  let done = false;
  const resolve = (reference: TaskReference) => {
    if (reference.index === "done") {
      done = true;
      return DONE;
    }
    if (!values.has(reference.id)) {
      const [depBytes, depPayloads] = materialize(deps[reference.id]!);
      values.set(reference.id, decodeValue(depBytes, depPayloads));
    }
    const value = values.get(reference.id);
    return reference.index === undefined ? value : (value as unknown[])[reference.index];
  };
  const args = decodeValue(bytes, payloads, resolve) as unknown[];
  // `outputs.done` only orders the call: it is not an argument of the method.
  return done ? args.filter((arg) => arg !== DONE) : args;
}

async function runQueue(resident: ResidentTessera): Promise<void> {
  resident.running = true;
  while (resident.queue.length > 0) {
    const op = resident.queue.shift()!;
    if (op[0] === Op.Release) {
      tesserae.delete(op[1]);
      continue;
    }
    if (op[0] === Op.Create) {
      const [, tessera, key, args, deps] = op;
      try {
        // Arguments first: the segments they map go back once collected, whatever happens next.
        const values = decodeArgs(args, deps);
        const Class = findClass(key) as new (...args: unknown[]) => Record<string, unknown>;
        resident.instance = new Class(...values);
        report([Report.Created, tessera]);
      } catch (error) {
        resident.error = describeFailure(error);
        report([Report.CreateFailed, tessera, resident.error]);
      }
      continue;
    }
    const [, , task, name, args, deps, fromHead] = op as Extract<ThreadOp, [1, ...unknown[]]>;
    try {
      const values = decodeArgs(args, deps); // first, as for creations
      if (resident.error) throw new Error(`the tessera could not be created: ${resident.error.message}`);
      const method = resident.instance?.[name];
      if (typeof method !== "function") throw new UnknownTesseraMethodError(`${resident.className} has no method "${name}"`);
      let result = method.apply(resident.instance, values);
      // Only async methods pay for an await: synchronous ones run back to back.
      if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") result = await result;
      settle(task, fromHead, encodeResult(result), undefined);
    } catch (error) {
      settle(task, fromHead, undefined, describeFailure(error));
    }
  }
  resident.running = false;
}

function onOps(ops: ThreadOp[]): void {
  for (const op of ops) onOp(op);
}

function onOp(op: ThreadOp): void {
  if (op[0] === Op.CollectGarbage) {
    Bun.gc(true);
    report([Report.Collected, op[1]]);
    return;
  }
  if (op[0] === Op.SegmentFree) return returnSegment(op[1], MAIN_THREAD, op[2]);
  if (op[0] === Op.TrimPool) return void releaseFreeSegments(); // the worker's memory runs short
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

/** Takes the call (or skip) whose turn it is. */
function admit(resident: ResidentTessera, op: ThreadOp): void {
  resident.next++;
  if (op[0] === Op.Call) enqueue(resident, op);
}

function enqueue(resident: ResidentTessera, op: ThreadOp): void {
  resident.queue.push(op);
  if (!resident.running) void runQueue(resident);
}

/**
 * Console output of tessera methods travels with their completions, so the
 * head prints a method's lines before it learns that the method is done.
 */
function captureConsole(): void {
  // Sent at once (with what is queued before it): a method that then blocks must not hold its lines back.
  const capture = (stream: "stdout" | "stderr") => (...args: unknown[]) => {
    const text = format(...args);
    if (head?.isOpen) {
      flushHead(); // completions of earlier calls first: lines and completions keep their order
      head.command("log", [workerUid, stream, text.split("\n")]);
      head.flush();
    } else {
      outbox.push([Report.Log, stream, text]);
      flushReports();
    }
  };
  console.log = console.info = console.debug = capture("stdout");
  console.warn = console.error = capture("stderr");
}

/** Hands this thread over to the tessera loop. Never settles. */
export function startThread(): Promise<never> {
  if (!started) {
    started = true;
    captureConsole();
    parentPort!.on("message", onOps);
    // Ready once the head's link is up (or known to be unavailable): calls never race it.
    void dialHead().then(() => report([Report.Ready]));
  }
  return new Promise<never>(() => {});
}
