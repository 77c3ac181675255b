/**
 * This thread's pool of segments: a payload is copied into a free one
 * (memcpy into memory that is already there: fresh tmpfs pages cost 5-8x more
 * than the copy itself) and lent to its receiver until handed back; free ones
 * are removed after some idle seconds (segmentIdleTime). Every state change of
 * a segment goes through `move`, which is what the byte counts derive from.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { totalmem } from "node:os";
import { accountSegment, countWritten, poolBytes, type SegmentState } from "./accounting.ts";
import { created, freeSharedMemory, POOLED_SOCKET_MAX_BYTES, type SegmentSet, segmentPath, SHM_MIN_BYTES, sharedMemoryAvailable, unlinkQuietly } from "./files.ts";
import { collectSoon } from "./mappings.ts";
import { allocateFileRange, populateMapping } from "./native.ts";

export interface PooledSegment {
  readonly path: string;
  readonly capacity: number;
  /** The sender's mapping (shared): kept, so that its pages stay there for the next payload. */
  readonly mapping: Uint8Array;
  /** Who holds it now (a connection, a thread, a part of this one), or undefined when free. */
  borrower: object | undefined;
  /** Undefined once out of the pool. */
  state: SegmentState | undefined;
  /** The payload a new segment was made with (lendSegment copies nothing more), until lent. */
  written?: Uint8Array;
  /** Bytes from the start of `mapping` whose pages are mapped here already (see populateSoon). */
  populated: number;
  /** Counts its lendings: a late hand-back of an earlier one must not free the current one. */
  lending: number;
  freedAt: number;
}

/** Bytes of pooled segments a thread may keep (lent and free together); past it, payloads take one-shot segments. */
const POOL_LIMIT = Math.min(8 * 2 ** 30, Math.floor(totalmem() / 4));
/** Free segments are removed after this many milliseconds unused (the segmentIdleTime option). */
let poolIdleMs = 30_000;

/** Sets how long free pooled segments are kept (a runtime's segmentIdleTime option; its threads get the same). */
export function setSegmentIdleTime(ms: number): void {
  poolIdleMs = ms;
}

export function segmentIdleTime(): number {
  return poolIdleMs;
}

const segments: PooledSegment[] = [];
const byPath = new Map<string, PooledSegment>();

function move(segment: PooledSegment, to: SegmentState | undefined): void {
  accountSegment(segment.capacity, segment.state, to);
  segment.state = to;
}

/** Room for a payload of `size`: its size rounded up to a power of two, so that segments fit later payloads of about that size. */
function capacityFor(size: number): number {
  return Math.max(SHM_MIN_BYTES, 2 ** Math.ceil(Math.log2(size)));
}

/**
 * Copies `payload` into a free pooled segment (a new one if none fits),
 * lends it to `borrower`, and returns its path; undefined when the pool is
 * full (the caller writes a one-shot segment instead). `away`: the borrower
 * is another runtime, which budgets what it holds (not a thread of this
 * process). `exact`: the borrower may keep it long (an object put there), so
 * it gets a segment of about the payload's size (see takeSegment).
 */
export function lendSegment(payload: Uint8Array, borrower: object, away = true, exact = false): { path: string; lending: number } | undefined {
  const chosen = takeSegment(payload.byteLength, borrower, away ? "lent-away" : "lent-thread", exact, payload);
  if (!chosen) return undefined;
  if (chosen.written !== payload) {
    // Pages not mapped yet are mapped in one call (cheaper than a fault per page during the copy).
    if (chosen.populated < payload.byteLength) populate(chosen, payload.byteLength - chosen.populated);
    chosen.mapping.set(payload);
  }
  chosen.written = undefined;
  countWritten(payload.byteLength);
  return { path: chosen.path, lending: chosen.lending };
}

/**
 * A free pooled segment of at least `size` bytes (a new one if none fits),
 * now lent to `borrower`; undefined if the pool is full. `exact`: a new one
 * is sized to the payload (rounded to 1 MiB), for memory that may be kept long.
 * `payload`: what the caller will copy in; a new segment is made with it
 * written already (its `written`).
 */
export function takeSegment(size: number, borrower: object, as: Exclude<SegmentState, "free">, exact = false, payload?: Uint8Array): PooledSegment | undefined {
  let chosen: PooledSegment | undefined;
  // Memory kept long is not to pin much more than it holds: at most an eighth (or 1 MiB) more.
  const largest = exact ? size + Math.max(SHM_MIN_BYTES, size / 8) : 2 * capacityFor(size);
  for (const segment of segments) {
    if (segment.borrower || segment.capacity < size || segment.capacity > largest) continue;
    if (!chosen || segment.capacity < chosen.capacity) chosen = segment;
  }
  if (!chosen) {
    const capacity = exact ? Math.ceil(size / SHM_MIN_BYTES) * SHM_MIN_BYTES : capacityFor(size);
    if (poolBytes() + capacity > POOL_LIMIT || capacity > freeSharedMemory() / 2) return undefined;
    chosen = createPooled(capacity, payload);
  }
  chosen.borrower = borrower;
  chosen.lending++;
  move(chosen, as);
  return chosen;
}

const ZEROS = new Uint8Array(1 << 20);
/** Pages allocated or mapped per turn of the event loop when a segment is prepared in idle time (a few ms each). */
const IDLE_SLICE = 16 * ZEROS.length;

/** Gives [from, to) of the file `fd` its pages: in one call where native calls work, else by writing zeros. */
function allocatePages(fd: number, from: number, to: number): void {
  if (allocateFileRange(fd, from, to - from)) return;
  for (let at = from; at < to; ) at += writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, to - at), at);
}

/**
 * A new free segment of `capacity` bytes. Its pages are allocated here, not
 * at first touch, so that a full /dev/shm shows as ENOSPC (the caller falls
 * back to the socket), not later as SIGBUS inside a memcpy. With `payload`:
 * written into the file with the allocation (the kernel allocates and copies
 * in one pass, where allocating, then faulting every page of the mapping in
 * at the first copy costs about twice as much) and the mapping's pages
 * mapped in idle time after (populateSoon), for the next payload. Without:
 * mapped at once, for a caller about to write into it.
 */
function createPooled(capacity: number, payload?: Uint8Array): PooledSegment {
  const path = segmentPath(true);
  const fd = openSync(path, "wx", 0o600);
  created.set(path, true);
  try {
    let from = 0;
    if (payload) for (; from < payload.byteLength; ) from += writeSync(fd, payload, from, payload.byteLength - from, from);
    allocatePages(fd, from, capacity);
  } catch (error) {
    created.delete(path);
    unlinkQuietly(path);
    throw error;
  } finally {
    closeSync(fd);
  }
  const segment: PooledSegment = { path, capacity, mapping: Bun.mmap(path, { shared: true }), borrower: undefined, state: undefined, written: payload, populated: 0, lending: 0, freedAt: 0 };
  if (payload) populateSoon(segment);
  else populate(segment, capacity);
  segments.push(segment);
  byPath.set(path, segment);
  move(segment, "free");
  return segment;
}

/** Maps the next `length` bytes of `segment`'s pages here; false when that cannot be done natively (they fault in when touched). */
function populate(segment: PooledSegment, length: number): boolean {
  length = Math.min(length, segment.capacity - segment.populated);
  if (!populateMapping(segment.mapping, segment.populated, length)) return false;
  segment.populated += length;
  return true;
}

const toPopulate: PooledSegment[] = [];

/**
 * Maps a new segment's pages into this thread's mapping a slice per turn of
 * the event loop: the next payload copied into it then runs at memcpy speed
 * (write faults on a shared mapping cost about as much as the copy's
 * allocation did). Stops for segments that left the pool meanwhile.
 */
function populateSoon(segment: PooledSegment): void {
  toPopulate.push(segment);
  if (toPopulate.length > 1) return;
  const step = () => {
    const current = toPopulate[0];
    if (!current) return;
    if (byPath.get(current.path) !== current || !populate(current, IDLE_SLICE) || current.populated >= current.capacity) toPopulate.shift();
    if (toPopulate.length > 0) setImmediate(step);
  };
  setImmediate(step);
}

/**
 * Makes a free pooled segment for payloads of about `size` bytes ahead of
 * need, in idle time: its pages are allocated, then mapped here, a slice per
 * turn of the event loop, so the first large transfer finds memory already
 * there (fresh tmpfs pages are what makes a first transfer slow) and nothing
 * waits meanwhile. Returns false when the pool already has one or has no room for it.
 */
export async function warmSegment(size: number): Promise<boolean> {
  const capacity = capacityFor(size);
  if (segments.some((segment) => !segment.borrower && segment.capacity === capacity)) return false;
  if (poolBytes() + capacity > POOL_LIMIT || capacity > freeSharedMemory() / 2) return false;
  const path = segmentPath(true);
  const fd = openSync(path, "wx", 0o600);
  created.set(path, true);
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  try {
    for (let at = 0; at < capacity; at += IDLE_SLICE) {
      allocatePages(fd, at, Math.min(capacity, at + IDLE_SLICE));
      await nextTurn();
      if (!created.has(path)) return false; // the pool was removed meanwhile (its runtime stops)
    }
  } catch {
    created.delete(path);
    unlinkQuietly(path);
    return false;
  } finally {
    closeSync(fd);
  }
  const segment: PooledSegment = { path, capacity, mapping: Bun.mmap(path, { shared: true }), borrower: undefined, state: undefined, populated: 0, lending: 0, freedAt: performance.now() };
  while (segment.populated < capacity && populate(segment, IDLE_SLICE)) {
    await nextTurn();
    if (!created.has(path)) return false;
  }
  segments.push(segment);
  byPath.set(path, segment);
  move(segment, "free");
  scheduleTrim();
  return true;
}

/** `borrower` is done with the segment at `path` (only a segment lent to it, and only the `lending` given, if given). */
export function returnSegment(path: string, borrower: object, lending?: number): void {
  const segment = byPath.get(path);
  if (!segment || segment.borrower !== borrower || (lending !== undefined && lending !== segment.lending)) return;
  segment.borrower = undefined;
  segment.freedAt = performance.now();
  move(segment, "free");
  scheduleTrim();
}

let trimTimer: Timer | undefined;

/** Free segments are removed once idle: a timer armed when one is handed back (the only way a segment becomes free). */
function scheduleTrim(): void {
  if (trimTimer) return;
  trimTimer = setTimeout(() => {
    trimTimer = undefined;
    trimSegments();
    if (segments.some((segment) => !segment.borrower)) scheduleTrim();
  }, poolIdleMs + 100);
  trimTimer.unref();
}

/**
 * `borrower`'s connection closed: the segments lent to it leave the pool and
 * their files go. Not reused: a peer whose link closed may still be alive and
 * mapping them.
 */
export function forgetSegments(borrower: object): void {
  for (let i = segments.length - 1; i >= 0; i--) if (segments[i]!.borrower === borrower) dropSegment(i);
}

/** Takes segment `index` out of the pool and removes its file (mappings elsewhere keep their pages). */
function dropSegment(index: number): void {
  const segment = segments.splice(index, 1)[0]!;
  move(segment, undefined);
  byPath.delete(segment.path);
  created.delete(segment.path);
  unlinkQuietly(segment.path);
}

/** Removes free segments unused for `idleMs` (all free ones with 0): their memory goes back to the system. Returns their bytes. */
export function trimSegments(idleMs = poolIdleMs): number {
  const now = performance.now();
  let bytes = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    if (segment.borrower || now - segment.freedAt < idleMs) continue;
    bytes += segment.capacity;
    dropSegment(i);
  }
  return bytes;
}

/**
 * Memory is short: removes every free segment of this thread's pool now (not
 * after segmentIdleTime), their mappings collected soon after; returns their
 * bytes.
 */
export function releaseFreeSegments(): number {
  const bytes = trimSegments(0);
  if (bytes > 0) collectSoon();
  return bytes;
}

/** Removes segments written here that nobody mapped (all of this thread's, by default, the pool's too). */
export function removeSegments(paths: SegmentSet = created): void {
  if (paths === created) for (let i = segments.length - 1; i >= 0; i--) dropSegment(i);
  for (const path of paths.keys()) unlinkQuietly(path);
  paths.clear();
}

/** Segments used as scratch memory by this thread's socket writers. */
const SCRATCH = {};

/**
 * A copy of `bytes` in a free pooled segment (pages there already once the
 * pool is warm: a memcpy, not page faults), for a socket writer that must keep
 * what a caller may change; `release` when written. Undefined for small
 * payloads or when the pool cannot help (copy into fresh memory instead).
 */
export function scratchCopy(bytes: Uint8Array): { copy: Uint8Array; release: () => void } | undefined {
  if (!sharedMemoryAvailable() || bytes.byteLength < SHM_MIN_BYTES || bytes.byteLength > POOLED_SOCKET_MAX_BYTES) return undefined;
  let segment: PooledSegment | undefined;
  try {
    segment = takeSegment(bytes.byteLength, SCRATCH, "lent-here");
  } catch {
    return undefined;
  }
  if (!segment) return undefined;
  const copy = segment.mapping.subarray(0, bytes.byteLength);
  copy.set(bytes);
  const { path, lending } = segment;
  return { copy, release: () => returnSegment(path, SCRATCH, lending) };
}

// A thread that ends takes only its free segments with it: those it lent to its main thread are still
// mapped there, and that thread removes them once it is done with them.
process.on("exit", () => (Bun.isMainThread ? removeSegments() : trimSegments(0)));
