/**
 * Receivers' side of pooled segments: a mapping is used in place and its
 * segment handed back to its owner once the mapping is garbage collected (and
 * whoever it was passed on to by name let go of it). Mapped memory does not
 * count for the collector's heuristics, so collections are asked for here.
 */
import { countHeld } from "./accounting.ts";
import { consumeSegment, isOwnPooledSegment } from "./files.ts";

/** Maps a segment that a peer wrote (copy-on-write); a one-shot segment's file is removed. */
export function mapSegment(path: string, size: number): Uint8Array {
  return consumeSegment(path, size, () => {
    if (size === 0) return new Uint8Array(0);
    const bytes = Bun.mmap(path, { shared: false, size });
    // A segment of this process's pools (a thread's staged result, a receive target passed to a thread) is
    // counted once, by the pool that owns it.
    if (!isOwnPooledSegment(path)) countHeld(bytes);
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
  mappedSegments.register(bytes.buffer, entry);
  noteMapped(bytes.byteLength);
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
