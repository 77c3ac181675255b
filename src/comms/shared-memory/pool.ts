/**
 * This thread's pool of segments: a payload is copied into a free one
 * (memcpy into memory that is already there: fresh tmpfs pages cost 5-8x more
 * than the copy itself) and lent to its receiver until handed back; free ones
 * are removed after some idle seconds (segmentIdleTime). Every state change of
 * a segment goes through `move`, which is what the byte counts derive from.
 */
import { totalmem } from "node:os";
import { accountSegment, countWritten, poolBytes, type SegmentState } from "./accounting.ts";
import { created, freeSharedMemory, POOLED_SOCKET_MAX_BYTES, type SegmentSet, segmentPath, SHM_MIN_BYTES, sharedMemoryAvailable, unlinkQuietly } from "./files.ts";
import { collectSoon, dropIdleKept, setKeptIdleTime } from "./mappings.ts";
import { nativeMemoryAvailable } from "./native.ts";
import { sameBytes } from "../../_util/copy-bytes.ts";
import { nextTurn, populate, populateInTurns, type SegmentPages, writeSegmentFile, writeSegmentFileAt, writeSegmentFileInTurns } from "./segment-pages.ts";

export interface PooledSegment extends SegmentPages {
  readonly path: string;
  readonly capacity: number;
  /** The sender's mapping (shared): kept, so that its pages stay there for the next payload. */
  readonly mapping: Uint8Array;
  /** Who holds it now (a connection, a thread, a part of this one), or undefined when free. */
  borrower: object | undefined;
  /** Undefined once out of the pool. */
  state: SegmentState | undefined;
  /** Counts its lendings: a late hand-back of an earlier one must not free the current one. */
  lending: number;
  /** The lendings not yet handed back while it is lent more than once at a time (see lendCopy); undefined when lent once. */
  lendings: Set<number> | undefined;
  /** Where its bytes were copied from by lendCopy (in `copiedFrom`'s buffer), until anything else takes it. */
  copyOf: { offset: number; length: number } | undefined;
  freedAt: number;
}

/** Bytes of pooled segments a thread may keep (lent and free together); past it, payloads take one-shot segments. */
const POOL_LIMIT = Math.min(8 * 2 ** 30, Math.floor(totalmem() / 4));
/** Free segments are removed after this many milliseconds unused (the segmentIdleTime option). */
let poolIdleMs = 30_000;

/** Sets how long free pooled segments are kept (a runtime's segmentIdleTime option; its threads get the same). */
export function setSegmentIdleTime(ms: number): void {
  poolIdleMs = ms;
  setKeptIdleTime(ms);
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

/** Bytes of the pooled segment that holds `size` bytes (a power of two): what warmSegment(size) takes. */
export const segmentCapacity = capacityFor;

/**
 * Copies `payload` into a free pooled segment (a new one if none fits),
 * lends it to `borrower`, and returns its path; undefined when the pool is
 * full (the caller writes a one-shot segment instead). `away`: the borrower
 * is another runtime, which budgets what it holds (not a thread of this
 * process). `exact`: the borrower may keep it long (an object put there), so
 * it gets a segment of about the payload's size (see takeSegment).
 * `announce` is told the path before the copy (see mapAhead).
 */
export function lendSegment(
  payload: Uint8Array,
  borrower: object,
  away = true,
  exact = false,
  announce?: (path: string) => void,
): { path: string; lending: number } | undefined {
  const chosen = takeSegment(payload.byteLength, borrower, away ? "lent-away" : "lent-thread", exact, true);
  if (!chosen) return undefined;
  announce?.(chosen.path);
  writePayload(chosen, payload, !exact);
  countWritten(payload.byteLength);
  return { path: chosen.path, lending: chosen.lending };
}

/**
 * The path of the segment that lendCopy last copied (part of) a buffer into: it holds those bytes while its
 * copyOf says so. A path, not the segment: a segment removed from the pool must not stay mapped here for as
 * long as the buffer lives.
 */
const copiedFrom = new WeakMap<ArrayBufferLike, string>();

/**
 * lendSegment for a value that may be sent again unchanged: a tessera
 * thread's result (`get()` of an array it keeps, fetched as often as the
 * program asks), or a call's argument (the same array passed to call after
 * call). When the segment it was last copied into still holds the same bytes
 * (compared: about as fast as the copy itself) and is free or lent to the
 * same borrower, that segment is lent again, shared by both, instead of a
 * copy into another one: a new segment costs fresh pages (5-8x the copy), and
 * the last one is often still held (until the receiver collects that value).
 * Each lending is handed back on its own; the segment is free once all are.
 * `away` and `announce` are lendSegment's (nothing is announced when nothing
 * is copied).
 */
export function lendCopy(payload: Uint8Array, borrower: object, away = false, announce?: (path: string) => void): { path: string; lending: number } | undefined {
  const copied = copiedFrom.get(payload.buffer);
  const segment = copied === undefined ? undefined : byPath.get(copied);
  const copy = segment?.copyOf;
  if (
    segment !== undefined &&
    copy !== undefined &&
    copy.offset === payload.byteOffset &&
    copy.length === payload.byteLength &&
    (segment.borrower === undefined || segment.borrower === borrower) &&
    sameBytes(segment.mapping.subarray(0, copy.length), payload)
  ) {
    if (segment.borrower === undefined) {
      segment.borrower = borrower;
      segment.lending++;
      move(segment, away ? "lent-away" : "lent-thread");
    } else (segment.lendings ??= new Set([segment.lending])).add(++segment.lending);
    return { path: segment.path, lending: segment.lending };
  }
  const lent = lendSegment(payload, borrower, away, false, announce);
  if (!lent) return undefined;
  byPath.get(lent.path)!.copyOf = { offset: payload.byteOffset, length: payload.byteLength };
  copiedFrom.set(payload.buffer, lent.path);
  return lent;
}

/**
 * A free pooled segment of at least `size` bytes (a new one if none fits),
 * now lent to `borrower`; undefined if the pool is full. `exact`: a new one
 * is sized to the payload (rounded to SHM_MIN_BYTES), for memory that may be kept long.
 */
export function takeSegment(size: number, borrower: object, as: Exclude<SegmentState, "free">, exact = false, viaPayload = false): PooledSegment | undefined {
  let chosen: PooledSegment | undefined;
  // Memory kept long is not to pin much more than it holds: at most an eighth (or SHM_MIN_BYTES) more.
  const largest = exact ? size + Math.max(SHM_MIN_BYTES, size / 8) : 2 * capacityFor(size);
  for (const segment of segments) {
    if (segment.borrower || segment.capacity < size || segment.capacity > largest) continue;
    if (!chosen || segment.capacity < chosen.capacity) chosen = segment;
  }
  if (!chosen) {
    const capacity = exact ? Math.ceil(size / SHM_MIN_BYTES) * SHM_MIN_BYTES : capacityFor(size);
    if (poolBytes() + capacity > POOL_LIMIT || capacity > freeSharedMemory() / 2) return undefined;
    chosen = createPooled(capacity);
  }
  // Pages the caller will write and that are not mapped here yet: mapped in one call, not a fault per page
  // (`viaPayload`: it writes them with writePayload, which needs none mapped).
  if (!viaPayload && chosen.populated < size) populate(chosen, size - chosen.populated);
  chosen.borrower = borrower;
  chosen.lending++;
  // The caller writes it: what lendCopy copied into it is gone.
  chosen.copyOf = undefined;
  move(chosen, as);
  return chosen;
}

/**
 * Copies `payload` to the start of `segment` (taken with `viaPayload`):
 * through its mapping where that is mapped here as far as the payload goes,
 * else through its file, and its mapping is then mapped in idle time for the
 * payloads after it. Through the file, the kernel copies into the file's pages
 * without making page table entries here: a new 256 KiB to 256 MiB segment's
 * first payload took ~0.45 of the time of mapping its pages in (one madvise)
 * and copying (256 MiB: ~105 ms with the file's allocation against ~175, 16
 * MiB 2.3 against 5.0 ms, alternated, 2026-12-04); a mapped one is copied
 * into faster through its mapping (256 MiB ~23 ms against ~45-70 through the
 * file), and mapping in pages that exist takes ~45 ms per 256 MiB.
 * `mapLater` false: the payload is kept long by its receiver (an object put
 * there), whose pages this process need not map (nor show in its RSS).
 */
function writePayload(segment: PooledSegment, payload: Uint8Array, mapLater = true): void {
  const size = payload.byteLength;
  if (segment.populated < size) {
    // Without the native calls the mapping could never be mapped in ahead (populated stays 0), and every payload
    // would go through the file: there, the first copy faults its pages in and the next ones are a memcpy.
    if (throughFile && nativeMemoryAvailable() && writeSegmentFileAt(segment.path, payload)) {
      if (mapLater) populateWhenIdle(segment, size);
      else populating.delete(segment); // one still being mapped in from an earlier payload stops
      return;
    }
    // Through the mapping, as before (also where the file could not be written: no file descriptor left, say).
    populate(segment, size - segment.populated);
  }
  segment.mapping.set(payload);
}

/** Off once the written pages could not be mapped in natively (MADV_POPULATE_READ needs Linux 5.14): see writePayload. */
let throughFile = true;

/** Segments whose mapping populateWhenIdle maps in, a slice per turn of the event loop, and how far. */
const populating = new Map<PooledSegment, number>();

/** Maps in `segment`'s first `size` bytes (those written: the rest would count as resident for nothing). */
function populateWhenIdle(segment: PooledSegment, size: number): void {
  const going = populating.get(segment);
  populating.set(segment, Math.max(size, going ?? 0));
  if (going !== undefined) return;
  const step = () => {
    const upTo = populating.get(segment);
    // Removed from the pool meanwhile (its mapping may be gone), done, lent for long since, or not mapped natively here: stops.
    if (upTo === undefined || segment.state === undefined || segment.populated >= upTo) return void populating.delete(segment);
    if (!populate(segment, Math.min(IDLE_POPULATE_BYTES, upTo - segment.populated), true)) {
      throughFile = false;
      return void populating.delete(segment);
    }
    setImmediate(step);
  };
  setImmediate(step);
}

/** Bytes of a mapping mapped in per turn of the event loop by populateWhenIdle (~2-3 ms here). */
const IDLE_POPULATE_BYTES = 16 * 2 ** 20;

/** A pooled segment's record for the file at `path` (made, its pages allocated), mapped here, not in the pool yet. */
function mapPooled(path: string, capacity: number, freedAt: number): PooledSegment {
  return { path, capacity, mapping: Bun.mmap(path, { shared: true }), borrower: undefined, state: undefined, populated: 0, lending: 0, lendings: undefined, copyOf: undefined, freedAt };
}

/**
 * A new free segment of `capacity` bytes, every page allocated (see
 * writeSegmentFile); takeSegment maps the pages its caller will write.
 */
function createPooled(capacity: number): PooledSegment {
  const path = segmentPath(true);
  created.set(path, true);
  try {
    writeSegmentFile(path, capacity);
  } catch (error) {
    created.delete(path);
    throw error;
  }
  const segment = mapPooled(path, capacity, 0);
  segments.push(segment);
  byPath.set(path, segment);
  move(segment, "free");
  return segment;
}

/** Capacities of segments being prepared in idle time (one at a time each), and their files. */
const warming = new Set<number>();
const preparing = new Set<string>();

/**
 * Makes a free pooled segment for payloads of about `size` bytes ahead of
 * need, in idle time: its pages are allocated, then mapped here, a slice per
 * turn of the event loop, so the first large transfer finds memory already
 * there (fresh tmpfs pages are what makes a first transfer slow) and nothing
 * waits meanwhile. Returns false when the pool already has one or has no room for it.
 */
export async function warmSegment(size: number): Promise<boolean> {
  const capacity = capacityFor(size);
  if (warming.has(capacity) || segments.some((segment) => !segment.borrower && segment.capacity === capacity)) return false;
  if (poolBytes() + capacity > POOL_LIMIT || capacity > freeSharedMemory() / 2) return false;
  warming.add(capacity);
  await nextTurn(); // nothing on the caller's path
  const path = segmentPath(true);
  created.set(path, true);
  preparing.add(path);
  // Not wanted any more once the pool was removed (its runtime stops).
  const wanted = () => created.has(path);
  try {
    if (!(await writeSegmentFileInTurns(path, capacity, wanted))) {
      created.delete(path);
      unlinkQuietly(path);
      return false;
    }
    const segment = mapPooled(path, capacity, performance.now());
    if (!(await populateInTurns(segment, wanted))) return false;
    segments.push(segment);
    byPath.set(path, segment);
    move(segment, "free");
    scheduleTrim();
    warmed.add(segment);
    for (const announce of warmWatchers) announce(path, capacity);
    return true;
  } finally {
    warming.delete(capacity);
    preparing.delete(path);
  }
}

/** Segments warmSegment prepared, while in the pool, and who tells receivers of them (watchWarmSegments). */
const warmed = new Set<PooledSegment>();
const warmWatchers = new Set<(path: string, capacity: number) => void>();

/**
 * Tells `announce` each segment warmSegment prepared that is free now, and
 * each it prepares later, until the returned function is called: a link's
 * receiver (a thread that may get the head's first large argument, the head
 * that may get a thread's first large result) then maps it and touches its
 * pages in idle time (warmKept), as this side wrote them.
 */
export function watchWarmSegments(announce: (path: string, capacity: number) => void): () => void {
  for (const segment of warmed) if (!segment.borrower) announce(segment.path, segment.capacity);
  warmWatchers.add(announce);
  return () => warmWatchers.delete(announce);
}

/** Who holds the copies that waiting calls keep of their arguments (see keepInSegment). */
const KEPT = {};
const keptCopies = new WeakMap<Uint8Array, { path: string; lending: number }>();
/** A kept copy never sent (its call dropped, cancelled, or sent where there is no shared memory): its segment goes back. */
const unsentKept = new FinalizationRegistry<[path: string, lending: number]>(([path, lending]) => returnSegment(path, KEPT, lending));

/**
 * A copy of `payload` made now in a pooled segment (a call's argument as it is
 * when the call is made, for a call that waits before it is sent), or
 * undefined when the pool cannot take it. Sent to another runtime, the segment
 * is lent to that link (lendKept) instead of copied again; dropped unsent, it
 * goes back to the pool once collected. Only for a copy sent at most once.
 */
export function keepInSegment(payload: Uint8Array): Uint8Array | undefined {
  const size = payload.byteLength;
  if (size < SHM_MIN_BYTES || size > POOLED_SOCKET_MAX_BYTES || !sharedMemoryAvailable()) return undefined;
  let segment: PooledSegment | undefined;
  try {
    segment = takeSegment(size, KEPT, "lent-here", false, true);
  } catch {
    return undefined; // /dev/shm full: a copy of its own instead
  }
  if (!segment) return undefined;
  writePayload(segment, payload);
  countWritten(size);
  const copy = segment.mapping.subarray(0, size);
  keptCopies.set(copy, { path: segment.path, lending: segment.lending });
  unsentKept.register(copy, [segment.path, segment.lending], copy);
  return copy;
}

/**
 * Whether `payload` is a copy keepInSegment made and not yet lent: written
 * as bytes (a link without shared memory), it must be taken whole at once
 * (a snapshot), since its segment goes back to the pool once it is collected.
 */
export function isKeptCopy(payload: Uint8Array): boolean {
  return keptCopies.has(payload);
}

/**
 * The segment of a copy keepInSegment made, now lent to `borrower` (the
 * shared payloads of a link to another runtime, which hands it back or drops
 * it with the link, as any segment lent to it); undefined for anything else.
 */
export function lendKept(copy: Uint8Array, borrower: object): { path: string; size: number } | undefined {
  const kept = keptCopies.get(copy);
  if (!kept) return undefined;
  keptCopies.delete(copy);
  unsentKept.unregister(copy);
  const segment = byPath.get(kept.path);
  if (!segment || segment.borrower !== KEPT || segment.lending !== kept.lending) return undefined;
  segment.borrower = borrower;
  segment.lending++;
  move(segment, "lent-away");
  return { path: kept.path, size: copy.byteLength };
}

/** `borrower` is done with the segment at `path` (only a segment lent to it, and only the `lending` given, if given). */
export function returnSegment(path: string, borrower: object, lending?: number): void {
  const segment = byPath.get(path);
  if (!segment || segment.borrower !== borrower) return;
  if (segment.lendings) {
    // Lent more than once (lendCopy): free once every lending is back (a borrower that hands back by path
    // alone, a link, gives back one of them each time).
    if (!segment.lendings.delete(lending ?? segment.lendings.values().next().value!) || segment.lendings.size > 0) return;
  } else if (lending !== undefined && lending !== segment.lending) return;
  segment.lendings = undefined;
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
  warmed.delete(segment);
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
  dropIdleKept();
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
// A segment still being prepared is nobody's yet.
process.on("exit", () => {
  if (Bun.isMainThread) return removeSegments();
  trimSegments(0);
  for (const path of preparing) unlinkQuietly(path);
});
