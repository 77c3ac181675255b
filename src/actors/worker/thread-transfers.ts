/**
 * Values crossing between a worker's main thread and its tessera threads
 * without copies where it can: payloads in pooled shared-memory segments go
 * by name (the other thread maps them; a lease holds the segment until its
 * mapping there is collected), shared arrays by a name of their own, other shared memory as it is, anything else
 * copied once into shared memory.
 */
import {
  adoptSharedArray,
  discardSegment,
  handOverOrBytes,
  holdMapping,
  isSharedArrayPayload,
  mapSegment,
  whenUnmapped,
} from "../../comms/shared-memory/index.ts";
import { compact, sharePayload } from "../thread/channel.ts";
import { Op, type Posted, type Value } from "../thread/protocol.ts";
import type { TesseraThread } from "./thread-pool.ts";

/** Threads' segments mapped here as results, by path: how many results map each (see adopt). */
const adopted = new Map<string, number>();

/** Payloads a tessera thread copies before its method gets them (see CopyRef). */
const copiedByThread = new WeakSet<Uint8Array>();

/**
 * A value kept here, for a reader that may change it: the reader's thread
 * takes a copy of its shared memory (a copy here would stall this thread, a
 * gigabyte for a second). It holds the memory until then, whatever happens to
 * the record it came from.
 */
export function copiedByReader([bytes, payloads]: Value): Value {
  return [
    bytes,
    payloads.map((payload) => {
      const view = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
      copiedByThread.add(view);
      return view;
    }),
  ];
}

export class ThreadTransfers {
  /**
   * Holds on segments passed to tessera threads by name, by lease number, until the thread's mapping is
   * collected; with this thread's mapping, which counts the pages for the process's budget meanwhile (the
   * thread's does not: one count for the same pages, not one per mapping).
   */
  #leases = new Map<number, { thread: TesseraThread; release: () => void; payload: Uint8Array }>();
  #nextLease = 1;

  /**
   * A value ready to post to `thread`: its body in memory of its own (it may
   * be a view of a socket chunk, which posting would copy whole); payloads in
   * shared memory as they are, mapped pooled segments by name (the thread maps
   * them too), anything else copied into shared memory.
   */
  share([bytes, payloads]: Value, thread: TesseraThread): Posted {
    if (payloads.length === 0) return [compact(bytes), payloads];
    return [
      compact(bytes),
      payloads.map((payload) => {
        if (isSharedArrayPayload(payload)) {
          const handed = handOverOrBytes(payload);
          if (!(handed instanceof Uint8Array)) return { array: handed.path, size: handed.size };
          payload = handed; // its file is gone: shared as any payload
        }
        if (payload.buffer instanceof SharedArrayBuffer) return copiedByThread.has(payload) ? { copyOf: payload } : payload;
        // A mapping passed by name is mapped copy-on-write by the reader: its changes stay its own.
        const held = holdMapping(payload);
        if (!held) return sharePayload(payload);
        const lease = this.#nextLease++;
        this.#leases.set(lease, { thread, release: held.release, payload });
        return { segment: held.path, size: payload.byteLength, lease };
      }),
    ];
  }

  /** The thread's mapping of a segment passed by name was collected. */
  unmapped(lease: number): void {
    const held = this.#leases.get(lease);
    this.#leases.delete(lease);
    held?.release();
  }

  /**
   * A result from a thread: its segments mapped here. They go back to the
   * thread once nothing holds them: this mapping (let go of when the result's
   * record goes) and whoever it was passed on to. Throws when a segment is
   * gone (the thread exited meanwhile).
   */
  adopt([bytes, payloads]: Posted, thread: TesseraThread): Value {
    return [
      bytes,
      payloads.map((payload) => {
        if (payload instanceof Uint8Array) return payload;
        if ("copyOf" in payload) return payload.copyOf; // threads post results as memory or segments: not this
        // This thread holds it and passes it on by name, never to a program: one mapping while it holds the memory.
        if ("array" in payload) return adoptSharedArray(payload.array, payload.size, true);
        const { segment, size, lending } = payload;
        const mapped = mapSegment(segment, size);
        // A segment may hold several results at once (the same bytes returned again: pool.ts, lendCopy).
        adopted.set(segment, (adopted.get(segment) ?? 0) + 1);
        // Back to the thread once collected here and handed back by whoever it was passed on to; once the
        // thread has exited, the file is this thread's to remove, when no other result here still maps it.
        const giveBack = () => {
          const left = adopted.get(segment)! - 1;
          if (left > 0) adopted.set(segment, left);
          else adopted.delete(segment);
          if (!thread.exited) thread.post([Op.SegmentFree, segment, lending!]);
          else if (left === 0) discardSegment(segment, true);
        };
        whenUnmapped(mapped, segment, giveBack, true);
        return mapped;
      }),
    ];
  }

  /** A thread exited: its mappings are gone with it. */
  threadExited(thread: TesseraThread): void {
    for (const [id, lease] of this.#leases) {
      if (lease.thread !== thread) continue;
      this.#leases.delete(id);
      lease.release();
    }
  }
}
