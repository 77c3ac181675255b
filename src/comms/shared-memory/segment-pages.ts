/**
 * A new segment's pages: allocated in its file when it is made (so that a
 * full /dev/shm shows as ENOSPC, never later as SIGBUS inside a memcpy), and
 * mapped into its owner's mapping before a payload is copied there (one
 * madvise call instead of a page fault per 4 KiB page during the copy). Both
 * go through libc where it can be reached (native.ts), through writes and
 * faults where not; either can be spread over turns of the event loop, for
 * segments made in idle time (warmSegment).
 *
 * Measured here for a fresh 256 MiB segment and its first payload (tmpfs of
 * 4 KiB pages, memcpy into touched memory ~15 ms): zeros written 95 ms + a
 * copy that faults every page in 95-107 ms; fallocate 73 ms + madvise 69 ms +
 * the copy 14 ms. A payload written into a segment whose mapping is not
 * mapped in yet goes through the file instead (pool.ts's writePayload), and
 * the mapping is mapped in idle time after it.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { unlinkQuietly } from "./files.ts";
import { allocateFileRange, populateMapping, populateReadable } from "./native.ts";

/** A segment's mapping, and how much of it is mapped here already (from its start). */
export interface SegmentPages {
  readonly capacity: number;
  readonly mapping: Uint8Array;
  populated: number;
}

const ZEROS_BYTES = 1 << 20;
/** The zeros written where fallocate cannot be called: made on first use (1 MiB resident in every process and thread that imports this, else). */
let zeros: Uint8Array | undefined;
/** Bytes allocated or mapped per turn of the event loop in idle time (a few milliseconds each). */
const IDLE_SLICE = 16 * ZEROS_BYTES;

export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Gives [from, to) of the file `fd` its pages: in one call where native calls work, else by writing zeros. */
function allocatePages(fd: number, from: number, to: number): void {
  if (allocateFileRange(fd, from, to - from)) return;
  zeros ??= new Uint8Array(ZEROS_BYTES);
  for (let at = from; at < to; ) at += writeSync(fd, zeros, 0, Math.min(ZEROS_BYTES, to - at), at);
}

/**
 * Creates the file of a new segment (O_EXCL) with every page of `capacity`
 * allocated. Nothing is left behind on failure (ENOSPC: the caller falls
 * back to the socket).
 */
export function writeSegmentFile(path: string, capacity: number): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    allocatePages(fd, 0, capacity);
  } catch (error) {
    unlinkQuietly(path);
    throw error;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `payload` at the start of the file at `path` (pwrite; see pool.ts's writePayload); false when that
 * failed (its pages were allocated when the file was made: no ENOSPC here, but a process may have no file
 * descriptor left).
 */
export function writeSegmentFileAt(path: string, payload: Uint8Array): boolean {
  let fd: number;
  try {
    fd = openSync(path, "r+");
  } catch {
    return false;
  }
  try {
    for (let at = 0; at < payload.byteLength; ) at += writeSync(fd, payload, at, payload.byteLength - at, at);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** The same in idle time, a slice per turn; false when `wanted()` turns false meanwhile or the pages are not there. */
export async function writeSegmentFileInTurns(path: string, capacity: number, wanted: () => boolean): Promise<boolean> {
  const fd = openSync(path, "wx", 0o600);
  try {
    for (let at = 0; at < capacity; at += IDLE_SLICE) {
      allocatePages(fd, at, Math.min(capacity, at + IDLE_SLICE));
      await nextTurn();
      if (!wanted()) return false;
    }
    return true;
  } catch {
    unlinkQuietly(path);
    return false;
  } finally {
    closeSync(fd);
  }
}

const PAGE = 4096;

/**
 * Maps the next `length` bytes of `pages` here (whole pages); false when that
 * cannot be done natively (they fault in as touched). `written`: the file's
 * pages were written already (through the file), so mapping them in for
 * reading maps them writable as well (a shared mapping of tmpfs keeps no
 * track of writes), in about half the time (256 MiB ~30 against ~55-80 ms);
 * pages only allocated are zeroed by their first touch, which that way took
 * longer.
 */
export function populate(pages: SegmentPages, length: number, written = false): boolean {
  length = Math.min(Math.ceil(length / PAGE) * PAGE, pages.capacity - pages.populated);
  if (length <= 0) return true;
  if (!(written ? populateReadable : populateMapping)(pages.mapping, pages.populated, length)) return false;
  pages.populated += length;
  return true;
}

/**
 * Maps all of `pages` a slice per turn, then writes a zero into each of its
 * pages (they hold zeros: nothing changes), a slice per turn; false when
 * `wanted()` turns false meanwhile. Where the machine is a virtual one that
 * keeps page tables of its own beside the guest's (shadow paging), the
 * madvise fills in only the guest's: the first write to each page still traps
 * to the hypervisor (here ~4-5 us a page, 256 MiB ~280-330 ms, against a copy
 * of ~20 ms). Made in idle time, those writes take that cost off the first
 * payload's copy. They come after the whole mapping is mapped: the guest's
 * page tables changed for a later slice took the hypervisor's entries of the
 * earlier ones with them (slice by slice, mapped then written, the first
 * 256 MiB copy took 23-80 ms and reading each page first 13-17 ms; mapped
 * first, 15-22 ms and 2-3 ms, against ~14 ms for the next copy). Elsewhere
 * the writes cost ~3-5 ms per 256 MiB.
 */
export async function populateInTurns(pages: SegmentPages, wanted: () => boolean): Promise<boolean> {
  const mapping = pages.mapping;
  const capacity = pages.capacity;
  while (pages.populated < capacity) {
    const from = pages.populated;
    // Without native calls, the pages are faulted in here instead (their writes follow all the same).
    if (!populate(pages, IDLE_SLICE)) {
      const to = Math.min(capacity, from + IDLE_SLICE);
      for (let at = from; at < to; at += PAGE) mapping[at] = 0;
      pages.populated = to;
    }
    await nextTurn();
    if (!wanted()) return false;
  }
  for (let from = 0; from < capacity; from += IDLE_SLICE) {
    const to = Math.min(capacity, from + IDLE_SLICE);
    for (let at = from; at < to; at += PAGE) mapping[at] = 0;
    await nextTurn();
    if (!wanted()) return false;
  }
  return true;
}
