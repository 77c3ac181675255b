/**
 * Values in and out of a tessera thread: arguments decoded from what the
 * main thread or the head posted (segments passed by name are mapped, not
 * copied), results encoded into memory the main thread can use as it is.
 */
import { decodeValue, DONE, encodeValue, scanValue, type TaskReference } from "../wire/value-codec.ts";
import { uintSize, writeUint } from "../wire/msgpack-bytes.ts";
import { DependencyError, InvalidArgumentError, OutOfMemoryError } from "../../errors.ts";
import { allowForcedCollection, fitsMemory } from "../../comms/memory-budget.ts";
import { threadData, workerUid } from "./thread-data.ts";
import {
  adoptSharedArray,
  handOverOrBytes,
  isSharedArrayPayload,
  lendCopy,
  mapSegment,
  whenContentsFreed,
  sharedMemoryAvailable,
  SHM_MIN_BYTES,
} from "../../comms/shared-memory/index.ts";
import { compact, sharePayload } from "./channel.ts";
import { sameBytes } from "../../_util/copy-bytes.ts";
import { decodePlainArguments, decodePlainValue, NOT_PLAIN_VALUE } from "../wire/argument-bytes.ts";
import { type ArrayRef, type InlineDependencies, type Posted, type PostedDependencies, Report, type SegmentRef, type Value } from "./protocol.ts";
import { report } from "./outbox.ts";
import { nestedLink } from "../nested-link.ts";

/** Encodings of the commonest results (nothing, small integers, booleans), made once. */
const SMALL_RESULTS = new Map<unknown, Posted>();
for (const value of [undefined, null, true, false, ...Array.from({ length: 128 }, (_, i) => i)]) {
  SMALL_RESULTS.set(value, [compact(encodeValue(value).bytes), []]);
}

/** Who this thread lends its pooled segments to: its worker's main thread (which gives them back with Op.SegmentFree). */
export const MAIN_THREAD = {};

/**
 * Large results go to a pooled shared-memory segment of this thread (one
 * memcpy into memory that is already there; the main thread maps it and
 * passes it on by name); smaller ones are copied into shared memory; shared
 * memory goes across as it is.
 */
function stagePayload(payload: Uint8Array): Uint8Array | SegmentRef | ArrayRef {
  if (isSharedArrayPayload(payload)) {
    const handed = handOverOrBytes(payload);
    if (!(handed instanceof Uint8Array)) return { array: handed.path, size: handed.size };
    payload = handed; // its file is gone: staged as any payload
  }
  if (payload.buffer instanceof SharedArrayBuffer) return payload;
  if (payload.byteLength >= SHM_MIN_BYTES && sharedMemoryAvailable()) {
    try {
      const lent = lendCopy(payload, MAIN_THREAD);
      if (lent) return { segment: lent.path, size: payload.byteLength, lending: lent.lending };
    } catch {} // /dev/shm full: shared memory of our own instead
  }
  return payload.byteLength >= SNAPSHOT_REUSE_BYTES ? snapshotOf(payload) : sharePayload(payload);
}

/**
 * Results of at least this size that come again unchanged from the same memory (a method returning an array
 * it keeps, fetched again and again) share the copy made the last time, while something still holds it.
 */
const SNAPSHOT_REUSE_BYTES = 4096;
/** The last copy made of each buffer's bytes (at that offset and length), held weakly: the store and its receivers decide how long it lives. */
const snapshots = new WeakMap<ArrayBufferLike, { offset: number; length: number; copy: WeakRef<Uint8Array> }>();

/**
 * The bytes of `payload` in shared memory, as they are now: the copy made of
 * the same memory last time when it still holds the same bytes (compared: a
 * fraction of the copy's cost), else a new one. A copy is never written once
 * made (threads that get it as a dependency take copies of their own), so
 * two results may share it. A new copy is fresh memory: on a VM with shadow
 * page tables a 64 KiB result cost its thread ~9 page faults each time.
 */
function snapshotOf(payload: Uint8Array): Uint8Array {
  const last = snapshots.get(payload.buffer);
  if (last !== undefined && last.offset === payload.byteOffset && last.length === payload.byteLength) {
    const copy = last.copy.deref();
    if (copy !== undefined && sameBytes(copy, payload)) return copy;
  }
  const copy = sharePayload(payload);
  snapshots.set(payload.buffer, { offset: payload.byteOffset, length: payload.byteLength, copy: new WeakRef(copy) });
  return copy;
}

/** `task`: the call whose result it is (its tessera proxies are held while the result lives; PUT_VALUE: an object a thread puts). */
export function encodeResult(result: unknown, task = 0): Posted {
  // -0 is a key of 0 in a Map: it takes the general path.
  const small = result === 0 && 1 / result < 0 ? undefined : SMALL_RESULTS.get(result);
  if (small) return small;
  // Whole numbers from 128 up to 2^32 (counts, sums, ids): msgpack uint 16/32 written here, without the
  // encoder and the copy out of its buffer. (Never a positive fixint: msgpackr reads 0x40-0x7f as records.)
  if (typeof result === "number" && result >= 128 && result < 0x1_0000_0000 && Number.isInteger(result)) {
    const bytes = new Uint8Array(uintSize(result));
    writeUint(bytes, 0, result);
    return [bytes, []];
  }
  // Results follow the rule of arguments: what cannot travel fails the call, with its path (never arrives changed).
  const scan = scanValue(result, "result");
  if (scan.problem) throw new InvalidArgumentError(`the method's result cannot be sent: ${scan.problem}`);
  const encoded = encodeValue(result, false, "result", scan.exact);
  // Tessera proxies and objects a result names are held while the result lives (see head/nested-client.ts).
  if (encoded.handles || encoded.references.length > 0) nestedLink.resultHolds?.(task, encoded.handles, encoded.references);
  // Kept on this worker until released, a large result must fit its budget (a copy of it is staged here).
  // A shared array is not copied: it needs no room of its own.
  const size = encoded.payloads.reduce((total, payload) => total + (isSharedArrayPayload(payload) ? 0 : payload.byteLength), 0);
  const limit = threadData?.memoryLimit;
  if (size >= SHM_MIN_BYTES && limit !== undefined && !fitsMemory(size, limit)) {
    // The result goes (it is garbage once this call fails): the next refusal may collect at once.
    allowForcedCollection();
    throw new OutOfMemoryError(`the method's result (${(size / 2 ** 20).toFixed(1)} MiB) does not fit the memory budget of ${workerUid} (${(limit / 2 ** 20).toFixed(1)} MiB): return less, or give the workers more memory (memoryLimit, memoryFraction)`);
  }
  return [compact(encoded.bytes), encoded.payloads.map(stagePayload)];
}

/** Bytes of a posted value (its body and payloads). */
export function postedSize([bytes, payloads]: Posted): number {
  let size = bytes.byteLength;
  for (const payload of payloads) size += payload instanceof Uint8Array ? payload.byteLength : "copyOf" in payload ? payload.copyOf.byteLength : payload.size;
  return size;
}

/** The main thread's holds on segments it passed here by name: released when this thread's mapping is collected. */
const leases = new FinalizationRegistry<number>((lease) => report([Report.Unmapped, lease]));

/** A call that will not run: the segments passed to it by name go back (once these mappings are collected). */
export function letGo(args: Posted, deps: PostedDependencies): void {
  materialize(args);
  if (deps && !isInline(deps)) for (const [, value] of deps) materialize(value);
}

/** Maps the segments among a posted value's payloads (no copy). */
function materialize(posted: Posted): Value {
  const [bytes, payloads] = posted;
  // The common case: nothing to map (no payloads at all for most calls, and no closure made for those).
  if (payloads.length === 0 || payloads.every((payload) => payload instanceof Uint8Array)) return posted as Value;
  return [
    bytes,
    payloads.map((payload) => {
      if (payload instanceof Uint8Array) return payload;
      if ("array" in payload) return adoptSharedArray(payload.array, payload.size);
      if ("copyOf" in payload) {
        const copy = new Uint8Array(new SharedArrayBuffer(payload.copyOf.byteLength));
        copy.set(payload.copyOf);
        return copy;
      }
      // Leased: the main thread maps the same pages, and counts them for the process until the lease ends.
      const lease = payload.lease;
      let mapped: Uint8Array;
      try {
        mapped = mapSegment(payload.segment, payload.size, lease === undefined);
      } catch (error) {
        // Not mapped here (its file gone, say): the main thread's hold on it ends now, not with this thread.
        if (lease !== undefined) report([Report.Unmapped, lease]);
        throw error;
      }
      // Over a kept mapping, the lease ends when the memory is freed, wherever a transfer took it; else with the object.
      if (lease !== undefined && !whenContentsFreed(mapped, () => report([Report.Unmapped, lease]))) leases.register(mapped.buffer, lease);
      return mapped;
    }),
  ];
}

/** msgpack of [] : the arguments of most calls. */
const NO_ARGUMENTS = 0x90;

function isInline(deps: NonNullable<PostedDependencies>): deps is InlineDependencies {
  return typeof deps[0] === "number";
}

/**
 * Every dependency value, decoded: [key, value, key, value, ...] (see resolve). Before the
 * arguments, not at each reference while they are decoded: msgpackr saves and
 * restores its state around a decode nested in another (copying the outer
 * bytes and its record structures each time).
 */
function decodeDependencies(deps: NonNullable<PostedDependencies>, bytes: Uint8Array): unknown[] {
  const values: unknown[] = [];
  if (isInline(deps)) {
    for (let i = 1; i < deps.length; i += 3) {
      // Read in place first: a view of the bytes (a small typed array in the collector's heap) would move them.
      const start = deps[i + 1] as number;
      const end = deps[i + 2] as number;
      const plain = decodePlainValue(bytes, start, end);
      values.push(deps[i], plain !== NOT_PLAIN_VALUE ? plain : decodeValue(bytes.subarray(start, end), undefined, nestedLink.readReference));
    }
  } else {
    for (const [uid, posted] of deps) {
      const [depBytes, depPayloads] = materialize(posted);
      // An object named in the value becomes an ObjectRef this thread holds (head/nested-client.ts).
      values.push(uid, decodeValue(depBytes, depPayloads, nestedLink.readReference));
    }
  }
  return values;
}

export function decodeArgs(posted: Posted, deps: PostedDependencies): unknown[] {
  const [all, payloads] = materialize(posted);
  if (deps === null) return all.length === 1 && all[0] === NO_ARGUMENTS ? [] : (decodePlainArguments(all) ?? (decodeValue(all, payloads) as unknown[]));
  const values = decodeDependencies(deps, all);
  const end = isInline(deps) ? deps[0] : all.length;
  let done = false;
  const resolve = (reference: TaskReference) => {
    if (reference.index === "done") {
      done = true;
      return DONE;
    }
    // Values the head sent are named by task id (a retried task's by uid), those the worker resolved by uid.
    let at = 0;
    for (; at < values.length; at += 2) {
      const key = values[at];
      if (typeof key === "number" ? key === reference.id : key === reference.task) break;
    }
    if (at >= values.length) throw new DependencyError(`dependency ${reference.task || `#${reference.id}`} of this call did not arrive with it`);
    const value = values[at + 1];
    return reference.index === undefined ? value : (value as Record<string | number, unknown>)[reference.index];
  };
  // References naming values by uid take those strings (see decodePlainArguments).
  const args = decodePlainArguments(all, resolve, end, values) ?? (decodeValue(end === all.length ? all : all.subarray(0, end), payloads, resolve) as unknown[]);
  // `outputs.done` only orders the call: it is not an argument of the method.
  return done ? args.filter((arg) => arg !== DONE) : args;
}
