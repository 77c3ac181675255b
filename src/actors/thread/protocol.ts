/**
 * What a worker's main thread and its tessera threads say to each other
 * (types and the two op tables only; behaviour lives in executor.ts,
 * head-link.ts and the worker's thread-pool.ts). Messages are tuples: cheaper
 * to clone than objects.
 */
import type { ErrorDescription } from "../../errors.ts";
import type { RuntimeEventType, WireEvent } from "../../observe/events.ts";
import type { LogStream } from "../../logging/logger.ts";

/** An encoded value as it crosses threads: body and raw payloads (SharedArrayBuffer-backed where they can be). */
export type Value = [bytes: Uint8Array, payloads: Uint8Array[]];
/**
 * Dependency values by task (or object) uid; null when the call has none (the
 * common, fast case). By uid, not wire id: a retried task runs under a new id,
 * while the arguments of a call made before the retry name it by the old one.
 * Pairs, not an object keyed by uid: a fresh key per call made the engine
 * build a new object shape for every call (a tenth of the main thread's time).
 */
export type Dependencies = [uid: string, value: Value][] | null;

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
/**
 * A payload of a value the worker keeps (a stored result, a cached object),
 * shared with the tessera thread, which copies it before the method may
 * change it: the copy costs the tessera thread, not the main thread, which
 * must keep answering heartbeats.
 */
export interface CopyRef {
  copyOf: Uint8Array;
}
/** A shared array's memory, handed to the other thread under a name of its own (which that thread adopts). */
export interface ArrayRef {
  array: string;
  size: number;
}
/** A value as posted between a worker's threads: payloads in shared memory, named segments, or shared memory to copy. */
export type Posted = [bytes: Uint8Array, payloads: (Uint8Array | SegmentRef | CopyRef | ArrayRef)[]];
export type PostedDependencies = [uid: string, value: Posted][] | InlineDependencies | null;
/**
 * Dependencies without payloads (most of them), posted inline: their bodies
 * follow the arguments' body in the same bytes, at `[start, end)` each.
 * Structured clone pays per object (a few hundred ns each, on both threads):
 * one buffer and one flat array instead of a buffer and two arrays per value
 * halved a dependent call's posting.
 */
export type InlineDependencies = [argsLength: number, ...places: (string | number)[]];

/**
 * What a worker's main thread shares with a tessera thread, as shared memory
 * (a thread adopts it before it says it is ready; until then it counts into
 * records of its own, added in then: see thread-data.ts).
 */
export interface SharedRecords {
  /** The worker's shared memory record (see shared-memory/accounting.ts), and the thread's part of it. */
  sharedMemoryCounters: SharedArrayBuffer;
  realmCounters: SharedArrayBuffer;
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
}

/**
 * Main thread → tessera thread. Calls come this way or straight from the
 * head; `seq` orders them either way (Create `strict`: a tessera that may be
 * restarted elsewhere, whose completions leave before its next call starts,
 * so the head knows which calls had not started; Skip: a call the main thread failed
 * itself; Release: after `calls` calls; Observe: the worker-side event types
 * the head wants now; SendReports: a dependent waits here, so completions the
 * thread holds back from the main thread go now, see outbox.ts; Adopt: the
 * memory the main thread shares with it, the answer to its Hello).
 */
export const Op = { Create: 0, Call: 1, Release: 2, CollectGarbage: 3, Skip: 4, SegmentFree: 5, TrimPool: 6, Observe: 7, Cancel: 8, SendReports: 9, Adopt: 10 } as const;
export type ThreadOp =
  | [op: 0, tessera: number, key: string, args: Posted, deps: PostedDependencies, strict: boolean, concurrency: number]
  | [op: 1, tessera: number, task: number, method: string, args: Posted, deps: PostedDependencies, fromHead: boolean, seq: number]
  | [op: 2, tessera: number, calls: number]
  | [op: 3, request: number]
  | [op: 4, tessera: number, seq: number]
  | [op: 5, segment: string, lending: number]
  | [op: 6]
  | [op: 7, types: RuntimeEventType[]]
  | [op: 8, tessera: number, task: number]
  | [op: 9]
  | [op: 10, records: SharedRecords];

/** Where a thread dials the head, and the secret it proves. */
export interface HeadAddress {
  address: string;
  port: number;
  secret: string;
  /** The head's Unix socket and machine: a thread of the head's machine dials that socket (transports/unix-socket.ts). */
  socket: string | undefined;
  machine: string | undefined;
}

/**
 * Tessera thread → main thread. `reported`: the head has heard of it over the
 * thread's own link. Events: a thread without a link of its own sends its
 * events up through the main thread. Put: an object `mosaic.put` made in a
 * method, kept in the worker's store (where it was made). Ending: an error no
 * method caught ends the thread, and why (its last report). LoadFailed: the
 * program threw while the thread loaded it (the thread ends), as it was thrown.
 * Hello: the thread listens, and asks for the memory it shares (Op.Adopt).
 */
export const Report = { Ready: 0, Created: 1, CreateFailed: 2, Done: 3, Failed: 4, Log: 5, Collected: 6, Unmapped: 7, Events: 8, Put: 9, DoneMany: 10, Ending: 11, LoadFailed: 12, Hello: 13 } as const;
export type DoneReport = [op: 3, task: number, result: Posted, reported?: boolean];
/**
 * Completions the head has already with their results (see outbox.ts's
 * heldBack: small ones, and those sent to it when asked): ids, each result's
 * size (under 64 KiB), the results end to end, and the payloads of those that
 * have some, by place.
 */
export type DoneManyReport = [op: 10, tasks: Int32Array | Float64Array, sizes: Uint16Array, results: Uint8Array, payloads?: [at: number, payloads: Uint8Array[]][]];
export type FailedReport = [op: 4, task: number, error: ErrorDescription, reported?: boolean];
export type ThreadReport =
  | [op: 0]
  | [op: 1, tessera: number]
  | [op: 2, tessera: number, error: ErrorDescription]
  | DoneReport
  | FailedReport
  | [op: 5, stream: LogStream, text: string]
  | [op: 6, request: number]
  | [op: 7, lease: number]
  | [op: 8, events: WireEvent[]]
  | [op: 9, object: number, value: Posted]
  | DoneManyReport
  | [op: 11, reason: string]
  | [op: 12, error: ErrorDescription]
  | [op: 13];
