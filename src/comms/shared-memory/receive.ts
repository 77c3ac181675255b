/**
 * Large payloads arriving here: copied from a socket into warm pooled
 * segments (receive targets), or read from a peer's segment into memory of
 * the receiver's kind.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { countHeld } from "./accounting.ts";
import { consumeSegment, isPooledSegment, POOLED_SOCKET_MAX_BYTES, SHM_MIN_BYTES, sharedMemoryAvailable } from "./files.ts";
import { noteMapped, whenUnmapped } from "./mappings.ts";
import { type PooledSegment, returnSegment, takeSegment } from "./pool.ts";

/** Segments this thread receives socket payloads into: lent to itself until the payload's memory is collected. */
const RECEIVING = {};
const receiveTargets = new WeakMap<Uint8Array, (passable: boolean) => Uint8Array>();
/** A target never finished (its frame was cut off, its message undecodable) goes back once nothing can write it. */
const abandonedTargets = new FinalizationRegistry<[path: string, lending: number]>(([path, lending]) => returnSegment(path, RECEIVING, lending));

/**
 * Where a large payload arriving on a socket (from another machine, or with
 * shared memory off) is copied: this thread's own mapping of a free pooled
 * segment, whose pages are there already once the pool is warm, so the copy
 * runs as into a reused buffer instead of faulting in fresh memory.
 * `finishReceive` then gives the receiver a copy-on-write mapping of it.
 * Undefined for small payloads or when the pool cannot help.
 */
export function receiveTarget(size: number): Uint8Array | undefined {
  if (!sharedMemoryAvailable() || size < SHM_MIN_BYTES || size > POOLED_SOCKET_MAX_BYTES) return undefined;
  let segment: PooledSegment | undefined;
  try {
    segment = takeSegment(size, RECEIVING, "lent-here", true); // kept as long as the receiver keeps the value: sized to it
  } catch {
    return undefined; // /dev/shm full: fresh memory instead
  }
  if (!segment) return undefined;
  const target = segment.mapping.subarray(0, size);
  const { path, lending } = segment;
  abandonedTargets.register(target, [path, lending], target);
  receiveTargets.set(target, (passable) => {
    abandonedTargets.unregister(target);
    let bytes: Uint8Array;
    try {
      bytes = Bun.mmap(path, { shared: false, size });
    } catch (error) {
      returnSegment(path, RECEIVING, lending);
      throw error;
    }
    whenUnmapped(bytes, path, () => returnSegment(path, RECEIVING, lending), passable);
    return bytes;
  });
  return target;
}

/**
 * A payload as its receiver keeps it: a receive target becomes a mapping of
 * its own (`passable`: see whenUnmapped), anything else stays.
 */
export function finishReceive(payload: Uint8Array, passable = false): Uint8Array {
  const finish = receiveTargets.get(payload);
  if (!finish) return payload;
  receiveTargets.delete(payload);
  return finish(passable);
}

/**
 * Reads a segment into memory from `allocate` and removes its file: for
 * receivers that want the bytes in memory of their own kind (workers: shared
 * memory for their threads). Into a warm receive target, mapping and copying
 * is fastest (here 36 ms for 256 MiB, against 61 ms for read(2)); into fresh
 * memory the kernel's copy is (100 ms, against 168 ms), and for a one-shot
 * segment too (its pages go with the file, not when a mapping is collected).
 */
export function readSegment(path: string, size: number, allocate: (bytes: number) => Uint8Array): Uint8Array {
  return consumeSegment(path, size, () => {
    const into = allocate(size);
    if (receiveTargets.has(into) && isPooledSegment(path)) {
      // The mapping holds the source's pages in this process until it is collected (the source may be removed
      // before that): count it as held, and for a collection soon.
      const source = Bun.mmap(path, { shared: false, size });
      into.set(source);
      countHeld(source);
      noteMapped(size);
      return into;
    }
    const fd = openSync(path, "r");
    try {
      for (let at = 0; at < size; ) {
        const read = readSync(fd, into, at, size - at, at);
        if (read === 0) throw new Error(`segment ${path} ends after ${at} of ${size} bytes`);
        at += read;
      }
    } finally {
      closeSync(fd);
    }
    return into;
  });
}
