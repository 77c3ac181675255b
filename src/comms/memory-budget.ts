/**
 * What a process's memory budget counts, and whether more bytes fit in it:
 * received payloads are only admitted when they do (see Connection's `admit`).
 */
import { readFileSync } from "node:fs";
import { releaseFreeSegments, requestThreadTrim, sharedMemoryStats } from "./shared-memory/index.ts";

const PAGE_BYTES = 4096;

/**
 * Bytes this process uses, as memory budgets count them: its resident memory
 * that is not shared pages (its heap, SharedArrayBuffers, written copy-on-write
 * pages), plus the shared memory it holds as its own (its pooled /dev/shm
 * segments except those lent to another runtime, and the segments of others
 * it maps: see sharedMemoryStats.ownedSharedBytes). Shared pages in the
 * resident set are left out: they are either counted that way or not this
 * runtime's (the program's code, a segment holding an object put on a worker).
 */
export function usedMemory(): number {
  let resident = 0;
  let shared = 0;
  try {
    // statm: size resident shared text lib data dt, in pages; "shared" is resident file and shmem pages.
    const fields = readFileSync("/proc/self/statm", "latin1").split(" ");
    resident = Number(fields[1]) * PAGE_BYTES;
    shared = Number(fields[2]) * PAGE_BYTES;
  } catch {
    return process.memoryUsage.rss();
  }
  return resident - shared + sharedMemoryStats.ownedSharedBytes;
}

/**
 * Whether `bytes` more fit in `limit`. When they do not, free pooled segments
 * go first (kept for reuse, they are the first memory to give up): this
 * thread's at once, and a worker's tessera threads are asked to give up
 * theirs (they do at their next turn, so they are not counted here). Then
 * garbage is collected (at most every FORCED_GC_MS): a value refused or
 * released a moment ago (a result too large to send, say) still holds its
 * memory until then, and idle runtimes collect rarely.
 */
export function fitsMemory(bytes: number, limit: number): boolean {
  const now = performance.now();
  if (now - readAt < READING_FRESH_MS && reading + admittedSince + bytes <= limit) {
    admittedSince += bytes;
    return true;
  }
  reading = usedMemory();
  readAt = now;
  admittedSince = 0;
  if (reading + bytes <= limit) {
    admittedSince = bytes;
    return true;
  }
  readAt = -Infinity; // what follows frees memory: the next admission reads again
  releaseFreeSegments();
  const trimming = requestThreadTrim();
  if (usedMemory() - trimming + bytes <= limit) return true;
  if (now - lastForcedGc < FORCED_GC_MS) return false;
  lastForcedGc = now;
  Bun.gc(true);
  return usedMemory() - trimming + bytes <= limit;
}

/**
 * An admission is decided by a reading of usedMemory() at most this old plus
 * the bytes admitted since; an older reading, or one that would refuse, is
 * taken again. Reading /proc/self/statm cost ~5 us, on every call with a
 * payload of 1 KiB or more (a tessera thread's arguments, the head's results).
 */
const READING_FRESH_MS = 5;
let reading = 0;
let readAt = -Infinity;
let admittedSince = 0;

/** Forced collections on a refusal are at least this far apart: a full collection costs milliseconds. */
const FORCED_GC_MS = 100;
let lastForcedGc = -Infinity;

/** Much memory just became garbage (a refused value): the next refusal collects at once, whenever the last one ran. */
export function allowForcedCollection(): void {
  lastForcedGc = -Infinity;
}
