/**
 * Receivers' side of pooled segments: a mapping is used in place and its
 * segment handed back to its owner once the mapping is garbage collected (and
 * whoever it was passed on to by name let go of it). Mapped memory does not
 * count for the collector's heuristics, so collections are asked for here.
 */
import { countHeld, countMappedAhead, countMappedKept, countWarmKept } from "./accounting.ts";
import { lstatSync, type Stats } from "node:fs";
import { checkSegmentFile, checkSegmentPath, consumeSegment, isOwnPooledSegment, isPooledSegment, SHM_MIN_BYTES } from "./files.ts";
import { contentsWatch, discardCopiedPages, keepingMappingsUsable, nativeMemoryAvailable, populateReadable, stopKeeping } from "./native.ts";
import { nextTurn } from "./segment-pages.ts";

/**
 * Maps a segment that a peer wrote (copy-on-write); a one-shot segment's file is removed. `counted`: false for
 * one that this process's main thread maps and counts while this mapping lives (passed to a tessera thread by
 * name, with a lease).
 */
export function mapSegment(path: string, size: number, counted = true): Uint8Array {
  return consumeSegment(path, size, (file) => {
    if (size === 0) return new Uint8Array(0);
    const bytes = keptView(path, size, file) ?? takeMappedAhead(path, size) ?? Bun.mmap(path, { shared: false, size });
    // A segment of this process's pools (a thread's staged result, a receive target passed to a thread) is
    // counted once, by the pool that owns it; one of a peer's, once by the main thread that passed it on.
    if (counted && !isOwnPooledSegment(path)) countHeld(bytes);
    return bytes;
  });
}

/** Bytes mapped from pooled segments since the last collection this module asked for. */
let mappedSinceCollection = 0;
/** After this many, a garbage collection is run soon, so that segments no longer used go back to their senders. */
const COLLECT_AFTER_BYTES = 256 * 2 ** 20;
let collectionScheduled = false;

/**
 * Counts mapped bytes; after every COLLECT_AFTER_BYTES, a garbage collection
 * at the next turn of the event loop. Counted from the last collection, not
 * as what is still mapped: a program that keeps much mapped must not collect
 * on every arrival.
 */
export function noteMapped(bytes: number): void {
  mappedSinceCollection += bytes;
  if (mappedSinceCollection >= COLLECT_AFTER_BYTES) collectSoon();
}

/** A garbage collection at the next turn of the event loop (mappings let go of are unmapped then). */
export function collectSoon(): void {
  if (collectionScheduled) return;
  collectionScheduled = true;
  mappedSinceCollection = 0;
  setTimeout(() => {
    collectionScheduled = false;
    Bun.gc(true);
  }, 0);
}

/** A pooled segment mapped here: given back to its owner once nothing here holds it. */
interface MappedSegment {
  path: string;
  size: number;
  /** The mapping itself (until collected), and whoever it was passed on to (a peer, a thread). */
  holders: number;
  giveBack: () => void;
}

const mappings = new WeakMap<ArrayBufferLike, MappedSegment>();
const mappedSegments = new FinalizationRegistry<MappedSegment>((entry) => releaseMapping(entry));

function releaseMapping(entry: MappedSegment): void {
  if (--entry.holders > 0) return;
  entry.giveBack();
}

/**
 * Calls `giveBack` once `bytes` (a mapping of the pooled segment `path`) is
 * garbage collected and every hold on it (see holdMapping) is released.
 * Mapped memory does not count for the collector's heuristics, so after every
 * 256 MiB mapped a collection is run at the next turn of the event loop
 * (after the code that uses the bytes now).
 */
export function whenUnmapped(bytes: Uint8Array, path: string, giveBack: () => void, passable = false): void {
  const entry: MappedSegment = { path, size: bytes.byteLength, holders: 1, giveBack };
  // Only memory that no user code changes may be passed on by name: a copy-on-write mapping that
  // was written to no longer matches its file.
  if (passable) mappings.set(bytes.buffer, entry);
  // A buffer over a kept mapping goes back once its contents are freed (a transfer may take them elsewhere first).
  if (!whenContentsFreed(bytes, () => releaseMapping(entry))) mappedSegments.register(bytes.buffer, entry);
  noteMapped(bytes.byteLength);
  // A tessera thread's executor asks once its calls are done (collectYoungIfMapped). Not a main thread, right
  // after it maps: what it maps (a result the head fetched, a value a worker passes on) is alive then, and a
  // collection then makes it old, for a full collection to find.
  if (!Bun.isMainThread && ((mappedYoungBytes += bytes.byteLength) >= YOUNG_COLLECTION_TOTAL_BYTES || bytes.byteLength >= YOUNG_COLLECTION_MIN_BYTES)) mappedSinceYoung = true;
}

/**
 * Smaller mappings do not make one each: a young collection
 * (~0.4-0.6 ms in a tessera thread here) costs more than the fresh segment of
 * 1 or 2 MiB it saves (a 1 MiB argument: 0.43 -> 1.1 ms a call; 2 MiB: 0.54-0.69
 * -> 0.99-1.08), less than one of 4 MiB, which payloads over 2 MiB take (3 MiB:
 * 1.70-1.85 -> 0.76-0.80 ms a call, and 3-4 new segments in 150 calls instead
 * of 79).
 */
const YOUNG_COLLECTION_MIN_BYTES = 2 * 2 ** 20 + 1;
/**
 * Smaller mappings are collected once they add up to this much since the last young collection: one
 * collection for a few calls with arguments of 256 KiB-2 MiB, so that their segments come back too, where the
 * collector's own schedule may not run for long (100 calls of a 1 MiB argument changed each time: 16-19 new
 * segments -> 6, the time a call the same within noise).
 */
const YOUNG_COLLECTION_TOTAL_BYTES = 4 * 2 ** 20;
/** Bytes a tessera thread mapped since its last young collection. */
let mappedYoungBytes = 0;
let youngCollectionScheduled = false;
/** A tessera thread mapped a large pooled segment since its last young collection. */
let mappedSinceYoung = false;

/**
 * A collection of the young generation once a tessera thread's calls that
 * mapped a large pooled segment are done (setImmediate: after them and their
 * microtasks). A mapping they let go of is young, so this mostly finds it,
 * and its segment goes back to its sender then; left to the collector's own
 * schedule (which may not run for long where little is allocated) segments
 * came back several transfers later, and each transfer meanwhile took a new
 * segment of fresh pages (~25 ms per 64 MiB). Not always: the collector also keeps what a
 * stale pointer on the stack points to, so the last mapping may stay until
 * the next call. A young collection costs a fraction of a millisecond where
 * little is young.
 */
function collectYoungSoon(): void {
  if (youngCollectionScheduled) return;
  youngCollectionScheduled = true;
  setImmediate(() => {
    youngCollectionScheduled = false;
    mappedSinceYoung = false;
    mappedYoungBytes = 0;
    (require("bun:jsc") as typeof import("bun:jsc")).edenGC();
  });
}

/** A tessera thread's calls are done for now: what they mapped and let go of goes back (see collectYoungSoon). */
export function collectYoungIfMapped(): void {
  if (mappedSinceYoung) collectYoungSoon();
}

/**
 * When `bytes` is a whole mapping of a pooled segment, it can be passed on by
 * name instead of copied: holds it (its owner does not get it back before
 * `release`) and returns its path.
 */
export function holdMapping(bytes: Uint8Array): { path: string; release: () => void } | undefined {
  const entry = mappings.get(bytes.buffer);
  if (!entry || entry.holders <= 0 || bytes.byteOffset !== 0 || bytes.byteLength !== entry.size) return undefined;
  entry.holders++;
  let released = false;
  return {
    path: entry.path,
    release: () => {
      if (released) return;
      released = true;
      releaseMapping(entry);
    },
  };
}

/**
 * Payloads of at least this many bytes are announced to their receiver
 * before the sender copies them into a pooled segment, so that it can map
 * them meanwhile (mapAhead).
 */
export const MAP_AHEAD_MIN_BYTES = 4 * 2 ** 20;
/** A mapping made ahead and not claimed within this many milliseconds is let go of (its message did not come). */
const AHEAD_KEEP_MS = 2_000;
/** At most this many mappings made ahead are kept unclaimed. */
const AHEAD_MAX = 8;

const mappedAhead = new Map<string, { bytes: Uint8Array; at: number }>();
let aheadSweep: Timer | undefined;

/**
 * A peer is about to copy `size` bytes into its pooled segment `path` and
 * send them here: maps the segment now and fills in the mapping's page
 * tables in one call (about 30 us per MiB, as much as reading it page by
 * page would cost later), while the peer copies, on another CPU. The message
 * that follows takes this mapping (mapSegment). The mapping is private and
 * nothing writes it before then, so it shows what the peer writes into the
 * file's pages meanwhile. Does nothing where pages cannot be mapped in one
 * call, or for a segment that is not a peer's pooled one of that size.
 */
export function mapAhead(path: string, size: number): void {
  // Without madvise, a mapping made here would only be made again (and pin the file until collected).
  if (size < MAP_AHEAD_MIN_BYTES || !isPooledSegment(path) || isOwnPooledSegment(path) || !nativeMemoryAvailable()) return;
  // One made before and never taken (its message did not come) is replaced.
  forgetMappedAhead(path);
  let bytes: Uint8Array;
  try {
    checkSegmentPath(path);
    // A mapping of it kept here (keptView) is used again: nothing to map, unless warmKept is still at it (it stops
    // once the payload takes the mapping): then its page tables are filled in now, in one call.
    const idle = idleKept(path, size, checkSegmentFile(path, size, true).ino);
    if (idle) {
      if (idle.warm === "warming" && populateReadable(idle.mapping)) idle.warm = "warm";
      return;
    }
    bytes = Bun.mmap(path, { shared: false, size });
  } catch {
    return; // the message that follows says what is wrong with it
  }
  if (!populateReadable(bytes)) return;
  if (mappedAhead.size >= AHEAD_MAX) {
    mappedAhead.delete(mappedAhead.keys().next().value!);
    collectSoon(); // its pages stay mapped until collected
  }
  mappedAhead.set(path, { bytes, at: performance.now() });
  countMappedAhead(false);
  aheadSweep ??= setTimeout(sweepAhead, AHEAD_KEEP_MS).unref();
}

/** The mapping of `path` made ahead, if there is one of `size` bytes: claimed, so only once. */
function takeMappedAhead(path: string, size: number): Uint8Array | undefined {
  if (mappedAhead.size === 0) return undefined;
  const entry = mappedAhead.get(path);
  if (!entry) return undefined;
  mappedAhead.delete(path);
  if (entry.bytes.byteLength !== size) return undefined;
  countMappedAhead(true);
  return entry.bytes;
}

/**
 * The segment `path` goes back to its sender without its mapping made ahead
 * being taken (its message was refused for memory, read into memory, or
 * unreadable): let go of now, not after AHEAD_KEEP_MS. The sender may remove
 * the file (it is short of memory, say), and this mapping, counted by nobody,
 * would keep its pages meanwhile.
 */
export function forgetMappedAhead(path: string): void {
  if (mappedAhead.size === 0 || !mappedAhead.delete(path)) return;
  collectSoon();
}

function sweepAhead(): void {
  aheadSweep = undefined;
  const now = performance.now();
  let dropped = false;
  for (const [path, entry] of mappedAhead) {
    if (now - entry.at < AHEAD_KEEP_MS) continue;
    mappedAhead.delete(path);
    dropped = true;
  }
  // Their pages stay mapped until collected, even once their segment's file is gone.
  if (dropped) collectSoon();
  if (mappedAhead.size > 0) aheadSweep = setTimeout(sweepAhead, AHEAD_KEEP_MS).unref();
}

/**
 * Kept mappings. Mapping a peer's segment afresh for each payload pays for
 * its page tables each time: where the machine is a virtual one that keeps
 * page tables of its own (shadow paging), the first touch of each page of a
 * new mapping traps to the hypervisor (~1-5 us a page here: reading a fresh
 * mapping of 256 MiB page by page took 120-137 ms, against 1.6-2.4 ms through
 * a mapping kept from before); elsewhere the madvise and the unmapping cost
 * a few milliseconds per 256 MiB. So a peer's pooled segment of at least
 * MAP_AHEAD_MIN_BYTES stays mapped here between its payloads: each payload
 * gets an ArrayBuffer of its own over that mapping (native.ts's contents
 * watch: toArrayBuffer with a deallocator that only says when its contents
 * are freed, wherever a transfer took them). When they are freed, the pages a
 * write copied are dropped (discardCopiedPages), so the mapping shows the
 * file again for the next payload its sender copies into the segment. Until
 * then the mapping is in use, and neither used again nor let go of (a buffer
 * moved to another thread still points into it). A segment sent again while
 * its payload is still held here (the same bytes, lent twice) gets a second
 * mapping, kept as well. A kept mapping idle for segmentIdleTime (when its
 * sender removes a free segment), one whose file is gone or replaced, the
 * oldest idle one past KEPT_MAX, and all idle ones when memory is short, are
 * let go of.
 */
interface KeptMapping {
  readonly path: string;
  readonly mapping: Uint8Array;
  readonly address: number;
  /** The file's inode: a file of the same name made later is another segment. */
  readonly ino: number;
  /** The contents-watch slot of the buffer of the payload using it (-1: idle). */
  slot: number;
  /** That buffer's object was collected: its contents are freed, or soon will be (or live on, moved elsewhere). */
  collected: boolean;
  idleSince: number;
  /** What to do once that buffer's contents are freed (whenContentsFreed: the segment goes back to its sender). */
  onFreed: (() => void)[];
  /** Made by warmKept for a segment announced ahead: "warming" while its pages are mapped and read in idle turns, "warm" once done; undefined once a payload used it (or not made so). */
  warm?: "warming" | "warm";
}

/** The kept mapping under each buffer made over one. */
const keptBuffers = new WeakMap<ArrayBufferLike, KeptMapping>();

const kept: KeptMapping[] = [];
/**
 * At most this many mappings are kept, of at most KEPT_MAX_BYTES in all. 8 before: a program sending a changed
 * 512 KiB array call after call keeps ~11-19 segments going round (each comes back once the receiver's collector
 * frees its payload), so every payload was mapped afresh (its mapping made and removed, a fault per page read):
 * 540-1000 us a call, 280-400 with 32 (2026-12-04, alternated).
 */
const KEPT_MAX = 32;
/** As much as 8 mappings of 256 MiB, the most kept before. */
const KEPT_MAX_BYTES = 2 * 2 ** 30;
/** Mappings made ahead of any payload for segments announced warm (warmKept): guesses, each read page by page. */
const KEPT_GUESSES_MAX = 4;

/** Bytes of the kept mappings (`inUse`: of those a payload uses now). */
function keptBytes(inUse = false): number {
  let total = 0;
  for (const entry of kept) if (!inUse || entry.slot >= 0) total += entry.mapping.byteLength;
  return total;
}
/**
 * Every pooled segment's payloads go through kept mappings (pooled segments start at SHM_MIN_BYTES). From
 * 4 MiB before: a 512 KiB or 1 MiB argument mapped afresh each call paid a fault for each page its method
 * touched, and its mapping's creation and removal (`await a.sum(array).result()` 397-449 → 248-275 us at
 * 512 KiB, 645-772 → 293-309 us at 1 MiB, alternated).
 */
const KEPT_MIN_BYTES = SHM_MIN_BYTES;
/**
 * Under MAP_AHEAD_MIN_BYTES, a segment's first payload here is mapped afresh, and kept from its second: a
 * program moving one medium array does not pay for the contents watch (compiled once per thread, ~8-11 ms).
 */
const seenSegments = new Set<string>();
const SEEN_MAX = 64;

function seenBefore(path: string): boolean {
  if (seenSegments.has(path)) return true;
  if (seenSegments.size >= SEEN_MAX) seenSegments.delete(seenSegments.values().next().value!);
  seenSegments.add(path);
  return false;
}
/** Idle kept mappings are let go of after this long (segmentIdleTime: setKeptIdleTime). */
let keptIdleMs = 30_000;
const KEPT_SWEEP_MS = 1_000;
let keptSweep: Timer | undefined;
const keptViews = new FinalizationRegistry<KeptMapping>((entry) => {
  entry.collected = true;
  checkKept(entry);
});

export function setKeptIdleTime(ms: number): void {
  keptIdleMs = ms;
}

/** An idle kept mapping of the file `path` (inode `ino`) that holds `size` bytes. */
function idleKept(path: string, size: number, ino: number): KeptMapping | undefined {
  for (const entry of kept) if (entry.slot < 0 && entry.path === path && entry.ino === ino && entry.mapping.byteLength >= size) return entry;
  return undefined;
}

/** A buffer over a kept mapping of `path` (made now if none is idle), or undefined where none is kept. */
function keptView(path: string, size: number, file: Stats): Uint8Array | undefined {
  if (size < KEPT_MIN_BYTES || !isPooledSegment(path) || isOwnPooledSegment(path)) return undefined;
  if (size < MAP_AHEAD_MIN_BYTES && !seenBefore(path)) return undefined;
  const watch = keepingMappingsUsable();
  if (!watch) return undefined;
  // Buffers collected since: their contents may be freed by now.
  for (const entry of [...kept]) if (entry.collected && entry.slot >= 0) checkKept(entry, RECHECK_MS.length);
  let entry = idleKept(path, size, file.ino);
  const reused = entry !== undefined;
  if (reused) forgetMappedAhead(path); // one made ahead while this was still in use
  else {
    // Idle ones make room, oldest first; none is dropped when those in use leave no room whatever goes.
    if (kept.length > 0 && keptBytes(true) + file.size > KEPT_MAX_BYTES) return undefined;
    while (kept.length >= KEPT_MAX || (kept.length > 0 && keptBytes() + file.size > KEPT_MAX_BYTES)) if (!dropOldestIdle()) return undefined;
    entry = keepMapping(path, takeMappedAhead(path, size) ?? Bun.mmap(path, { shared: false, size: file.size }), file.ino);
  }
  const made = watch.buffer(entry!.address, size);
  if (!made) {
    // Every slot in use (buffers moved elsewhere and still alive): a mapping of its own, as before.
    dropKept(entry!);
    return undefined;
  }
  if (reused) countMappedKept();
  entry!.warm = undefined;
  entry!.slot = made.slot;
  entry!.collected = false;
  keptViews.register(made.buffer, entry!);
  keptBuffers.set(made.buffer, entry!);
  return new Uint8Array(made.buffer);
}

/** A new kept mapping of the file `path` (inode `ino`), idle. */
function keepMapping(path: string, mapping: Uint8Array, ino: number): KeptMapping {
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  const entry: KeptMapping = { path, mapping, address: ffi.ptr(mapping), ino, slot: -1, collected: false, idleSince: performance.now(), onFreed: [] };
  kept.push(entry);
  return entry;
}

/**
 * Calls `freed` once the memory of `bytes` (a whole buffer) is freed, wherever
 * a transfer took it, where it is a buffer over a kept mapping; false for any
 * other (the caller then waits for its object's collection, as before).
 */
export function whenContentsFreed(bytes: Uint8Array, freed: () => void): boolean {
  const entry = kept.length === 0 ? undefined : keptBuffers.get(bytes.buffer);
  if (!entry) return false;
  entry.onFreed.push(freed);
  return true;
}

/** Rechecks of a collected buffer's contents before the sweep's (the collector frees them when it sweeps, soon after). */
const RECHECK_MS = [5, 20, 100];

/** The buffer of `entry` was collected: once its contents are freed too, the mapping is idle. */
function checkKept(entry: KeptMapping, recheck = 0): void {
  // The watch that made its buffer, even once keeping stopped.
  const watch = contentsWatch();
  if (entry.slot < 0 || !entry.collected || !watch) return;
  if (!watch.freed(entry.slot)) {
    // Freed a little later by the collector's sweep, or moved elsewhere by a transfer (then the sweep's).
    if (recheck < RECHECK_MS.length) setTimeout(() => checkKept(entry, recheck + 1), RECHECK_MS[recheck]).unref();
    else keptSweep ??= setTimeout(sweepKept, KEPT_SWEEP_MS).unref();
    return;
  }
  entry.slot = -1;
  entry.idleSince = performance.now();
  const onFreed = entry.onFreed.splice(0);
  if (!keepingMappingsUsable() || fileReplaced(entry)) dropKept(entry);
  else if (!discardCopiedPages(entry.mapping)) {
    stopKeeping();
    dropIdleKept();
  } else keptSweep ??= setTimeout(sweepKept, KEPT_SWEEP_MS).unref();
  // Its pages show the file again (or the mapping is let go of) before the sender may use the segment again.
  for (const freed of onFreed) freed();
}

function dropKept(entry: KeptMapping): void {
  const index = kept.indexOf(entry);
  if (index >= 0) kept.splice(index, 1);
  collectSoon(); // its pages stay mapped until the mapping is collected
}

function dropOldestIdle(): boolean {
  let oldest: KeptMapping | undefined;
  for (const entry of kept) if (entry.slot < 0 && (!oldest || entry.idleSince < oldest.idleSince)) oldest = entry;
  if (oldest) dropKept(oldest);
  return oldest !== undefined;
}

function fileReplaced(entry: KeptMapping): boolean {
  try {
    return lstatSync(entry.path).ino !== entry.ino;
  } catch {
    return true;
  }
}

function sweepKept(): void {
  keptSweep = undefined;
  const now = performance.now();
  let again = false;
  for (const entry of [...kept]) {
    if (entry.slot >= 0) {
      if (entry.collected) checkKept(entry, RECHECK_MS.length);
      again ||= entry.collected && entry.slot >= 0;
      if (entry.slot >= 0) continue;
    }
    if (now - entry.idleSince >= keptIdleMs || fileReplaced(entry)) dropKept(entry);
    else again = true;
  }
  if (again) keptSweep ??= setTimeout(sweepKept, KEPT_SWEEP_MS).unref();
}

/** Bytes mapped, then pages read, per turn of the event loop by warmKept (each ~1-2 ms where a first touch traps, far less elsewhere). */
const WARM_MAP_SLICE = 16 * 2 ** 20;
const WARM_TOUCH_SLICE = 4 * 2 ** 20;
const PAGE = 4096;
/** What warmKept's reads added up to: kept, so that they are not optimized away. */
let touched = 0;

/**
 * A peer prepared its pooled segment `path` (`size` bytes) in idle time for
 * its first large payloads (the warmPool option), which may come here: mapped
 * now as an idle kept mapping, then mapped in (madvise) and each of its pages
 * read once, a slice per turn of the event loop, so that the first payload in
 * it finds page tables filled in. Where the machine keeps page tables of its
 * own (shadow paging) the first touch of each page of a mapping traps: a
 * thread's reads of a fresh 256 MiB argument took ~70 ms of its first call
 * here, ~8-12 ms through a mapping touched before. The reads come after the
 * whole mapping is mapped (see populateInTurns). The mapping is private and
 * never written while idle, so it shows what the peer writes into the file
 * later. Let go of as other idle kept mappings are (segmentIdleTime; its
 * file gone; the oldest idle one when a payload needs the place). A payload
 * announced (mapAhead) while the reads are still going on has the rest of
 * the mapping mapped in at once, as any other.
 */
export function warmKept(path: string, size: number): void {
  if (size < MAP_AHEAD_MIN_BYTES || !isPooledSegment(path) || isOwnPooledSegment(path) || !keepingMappingsUsable()) return;
  let file: Stats;
  try {
    checkSegmentPath(path);
    file = checkSegmentFile(path, size, true);
  } catch {
    return; // removed since, or not a segment: nothing to prepare
  }
  // A prepared segment is as large as announced (its capacity); one of it mapped here already is enough.
  if (file.size !== size || kept.some((entry) => entry.path === path && entry.ino === file.ino)) return;
  // A guess at a payload to come takes no room from mappings that payloads used, nor from other guesses (a head with
  // many workers would drop one for the next): a free place, at most KEPT_GUESSES_MAX guesses.
  if (kept.length >= KEPT_MAX || keptBytes() + size > KEPT_MAX_BYTES || kept.filter((entry) => entry.warm !== undefined).length >= KEPT_GUESSES_MAX) return;
  let mapping: Uint8Array;
  try {
    mapping = Bun.mmap(path, { shared: false, size: file.size });
  } catch {
    return;
  }
  const entry = keepMapping(path, mapping, file.ino);
  entry.warm = "warming";
  keptSweep ??= setTimeout(sweepKept, KEPT_SWEEP_MS).unref();
  void warmInTurns(entry);
}

async function warmInTurns(entry: KeptMapping): Promise<void> {
  const mapping = entry.mapping;
  // Not in use (its payload came), not mapped in whole meanwhile (mapAhead), not let go of.
  const wanted = () => entry.slot < 0 && entry.warm === "warming" && kept.includes(entry);
  // Mapped in first (where the madvise fails, the reads below map the pages: read twice, the second time none changes the page tables).
  let mapped = true;
  for (let from = 0; from < mapping.byteLength && mapped; from += WARM_MAP_SLICE) {
    mapped = populateReadable(mapping, from, Math.min(WARM_MAP_SLICE, mapping.byteLength - from));
    await nextTurn();
    if (!wanted()) return;
  }
  for (let pass = mapped ? 1 : 0; pass < 2; pass++) {
    for (let from = 0; from < mapping.byteLength; from += WARM_TOUCH_SLICE) {
      const to = Math.min(mapping.byteLength, from + WARM_TOUCH_SLICE);
      let sum = 0;
      for (let at = from; at < to; at += PAGE) sum += mapping[at]!;
      touched += sum;
      await nextTurn();
      if (!wanted()) return;
    }
  }
  entry.warm = "warm";
  countWarmKept();
}

/** Memory is short: idle kept mappings are let go of now (their pages may be all that holds a removed segment). */
export function dropIdleKept(): void {
  for (const entry of [...kept]) if (entry.slot < 0) dropKept(entry);
}
