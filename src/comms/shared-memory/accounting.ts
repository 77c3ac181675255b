/**
 * What shared memory this process holds, for memory budgets and status.
 *
 * Pooled bytes are not counted by hand: every state change of a pooled
 * segment goes through `accountSegment`, which adds what the segment's new
 * state contributes and takes away what its old one did, so each total is the
 * sum over the pool by construction. Each thread (realm) has a record of its
 * own pool's totals, and the process record sums them: a worker's tessera
 * threads have pools of their own (module state per thread), while its main
 * thread's budget must see their bytes. Mapped-held bytes (others' segments
 * mapped here until collected) follow the collector's events instead (see
 * countHeld).
 */
/** Where a pooled segment is: free in its pool, or lent to this thread, to another thread of this process, or to another runtime. */
export type SegmentState = "free" | "lent-here" | "lent-thread" | "lent-away";

// A realm's record (one per thread).
/** Bytes of pooled segments not lent to another runtime (the process holds them as its own). */
const OURS = 0;
const FREE = 1;
const LENT_AWAY = 2;
/** Pooled segments lent (to anyone). */
const LENT = 3;
/** Bytes of pooled segments lent to another thread of this process: they outlive their thread (see threadRealm). */
const LENT_THREAD = 4;
/** Bytes of others' segments mapped here and not collected yet. */
const MAPPED_HELD = 5;
const REALM_FIELDS = 6;

// The process record: events, the sum of the realms' records, and what exited threads left behind.
const WRITTEN = 0;
const WRITTEN_BYTES = 1;
const MAPPED = 2;
const MAPPED_BYTES = 3;
/** Segments of exited threads that their worker's main thread still maps (it removes them when done: see discardOrphan). */
const ORPHANED = 4;
/** Segments mapped ahead of their message (see mapAhead), and how many of those mappings a message took. */
const MAPPED_AHEAD = 5;
const MAPPED_AHEAD_TAKEN = 6;
/** Payloads that came in a peer's segment already mapped here, kept from an earlier payload (see keptView). */
const MAPPED_KEPT = 7;
/** Peers' segments prepared in idle time (warmPool) mapped here, every page touched, before any payload came in them (see warmKept). */
const WARMED_KEPT = 8;
const TOTALS = 9;

let processRecord = new BigInt64Array(new SharedArrayBuffer((TOTALS + REALM_FIELDS) * 8));
let realm = new BigInt64Array(new SharedArrayBuffer(REALM_FIELDS * 8));

function load(array: BigInt64Array, index: number): number {
  return Number(Atomics.load(array, index));
}

function add(field: number, by: number): void {
  Atomics.add(realm, field, BigInt(by));
  Atomics.add(processRecord, TOTALS + field, BigInt(by));
}

function contribute(state: SegmentState | undefined, capacity: number, sign: number): void {
  if (state === undefined) return;
  add(state === "lent-away" ? LENT_AWAY : OURS, sign * capacity);
  if (state === "free") add(FREE, sign * capacity);
  else add(LENT, sign);
  if (state === "lent-thread") add(LENT_THREAD, sign * capacity);
}

/** The one place a pooled segment's state changes are counted (undefined: not in the pool). */
export function accountSegment(capacity: number, from: SegmentState | undefined, to: SegmentState | undefined): void {
  if (from === to) return;
  contribute(from, capacity, -1);
  contribute(to, capacity, 1);
}

/** Bytes of this thread's pool (free and lent together). */
export function poolBytes(): number {
  return load(realm, OURS) + load(realm, LENT_AWAY);
}

export function countWritten(bytes: number): void {
  Atomics.add(processRecord, WRITTEN, 1n);
  Atomics.add(processRecord, WRITTEN_BYTES, BigInt(bytes));
}

export function countMapped(bytes: number): void {
  Atomics.add(processRecord, MAPPED, 1n);
  Atomics.add(processRecord, MAPPED_BYTES, BigInt(bytes));
}

/** A segment was mapped ahead of its message (`taken`: a message took such a mapping). */
export function countMappedAhead(taken: boolean): void {
  Atomics.add(processRecord, taken ? MAPPED_AHEAD_TAKEN : MAPPED_AHEAD, 1n);
}

/** A payload came in a segment whose mapping was kept here from an earlier one. */
export function countMappedKept(): void {
  Atomics.add(processRecord, MAPPED_KEPT, 1n);
}
/** A peer's segment prepared for its first large payloads is mapped here, every page touched (see warmKept). */
export function countWarmKept(): void {
  Atomics.add(processRecord, WARMED_KEPT, 1n);
}

/** Mappings of other processes' segments: counted as held until collected. */
const heldMappings = new FinalizationRegistry<number>((size) => add(MAPPED_HELD, -size));

/** Counts `mapping` (of a segment this thread's pool does not own) as held until it is collected. */
export function countHeld(mapping: Uint8Array): void {
  add(MAPPED_HELD, mapping.byteLength);
  heldMappings.register(mapping.buffer, mapping.byteLength);
}

/** Shared arrays' memory (arrays.ts): counted as held by each thread that names it, from its first mapping to its last. */
export function countArrayHeld(bytes: number): void {
  add(MAPPED_HELD, bytes);
}

/** The memory behind this process's record, for its threads to share. */
export function sharedMemoryCounters(): SharedArrayBuffer {
  return processRecord.buffer as SharedArrayBuffer;
}

/** A tessera thread counts into its main thread's process record, and its own pool into `realmBuffer` (see threadRealm). */
export function adoptSharedMemoryCounters(buffer: SharedArrayBuffer, realmBuffer?: SharedArrayBuffer): void {
  // What it counted before (its program's top-level code may make shared memory) goes into the shared records.
  processRecord = mergedInto(new BigInt64Array(buffer), processRecord);
  if (realmBuffer) realm = mergedInto(new BigInt64Array(realmBuffer), realm);
}

function mergedInto(target: BigInt64Array<SharedArrayBuffer>, own: BigInt64Array<SharedArrayBuffer>): BigInt64Array<SharedArrayBuffer> {
  if (target.buffer === own.buffer) return own;
  for (let field = 0; field < own.length; field++) {
    const value = Atomics.load(own, field);
    if (value !== 0n) Atomics.add(target, field, value);
  }
  return target;
}

/** The tessera threads' records, seen from their worker's main thread. */
const threadRealms = new Set<BigInt64Array>();
let trimThreads: (() => void) | undefined;

/**
 * For a tessera thread about to start: the record its pool counts into, and
 * `end` for when it has exited. Its mappings and its pool go with it, except
 * the segments it lent to the main thread: those are still mapped there and
 * count until the main thread removes them (discardOrphan).
 */
export function threadRealm(): { buffer: SharedArrayBuffer; end: () => void } {
  const part = new BigInt64Array(new SharedArrayBuffer(REALM_FIELDS * 8));
  threadRealms.add(part);
  return {
    buffer: part.buffer as SharedArrayBuffer,
    end: () => {
      if (!threadRealms.delete(part)) return;
      Atomics.add(processRecord, ORPHANED, Atomics.load(part, LENT_THREAD));
      for (let field = 0; field < REALM_FIELDS; field++) Atomics.sub(processRecord, TOTALS + field, Atomics.exchange(part, field, 0n));
    },
  };
}

/** The main thread removed a segment of `bytes` that an exited thread lent it. */
export function discardOrphan(bytes: number): void {
  Atomics.sub(processRecord, ORPHANED, BigInt(Math.min(bytes, load(processRecord, ORPHANED))));
}

/** How the main thread asks its tessera threads to give up their free segments (they hold them in pools of their own). */
export function onThreadTrimRequest(ask: () => void): void {
  trimThreads = ask;
}

/**
 * Bytes of free segments in the pools of this process's tessera threads, and
 * asks them to give those up (they do at their next turn of the event loop).
 */
export function requestThreadTrim(): number {
  let free = 0;
  for (const part of threadRealms) free += load(part, FREE);
  if (free > 0) trimThreads?.();
  return free;
}

/** What went through shared memory in this process, all threads (for status and tests). */
export const sharedMemoryStats = {
  get written(): number {
    return load(processRecord, WRITTEN);
  },
  get writtenBytes(): number {
    return load(processRecord, WRITTEN_BYTES);
  },
  get mapped(): number {
    return load(processRecord, MAPPED);
  },
  get mappedBytes(): number {
    return load(processRecord, MAPPED_BYTES);
  },
  /** Large payloads whose segment was mapped while their sender copied them (see mapAhead). */
  get mappedAhead(): number {
    return load(processRecord, MAPPED_AHEAD);
  },
  /** Of those, the ones whose message came and took the mapping. */
  get mappedAheadTaken(): number {
    return load(processRecord, MAPPED_AHEAD_TAKEN);
  },
  /** Large payloads that came in a peer's segment whose mapping was kept here from an earlier payload (no new mapping). */
  get mappedKept(): number {
    return load(processRecord, MAPPED_KEPT);
  },
  /** Peers' segments prepared in idle time for their first large payloads (warmPool) that are mapped here, every page touched, ahead of any payload. */
  get mappedWarm(): number {
    return load(processRecord, WARMED_KEPT);
  },
  /** Pooled segments of this process that a receiver holds now. */
  get lent(): number {
    return load(processRecord, TOTALS + LENT);
  },
  /**
   * Shared memory (/dev/shm) that this process (all threads) holds as its
   * own: its pooled segments, free or in use here, except those lent to
   * another runtime (which holds and budgets what is in them, like a worker
   * holding an object put there), and the segments of others it maps (counted
   * whole, read or not, until the mapping is collected). Memory budgets count
   * this instead of shared pages in the resident set.
   */
  get ownedSharedBytes(): number {
    return load(processRecord, TOTALS + OURS) + load(processRecord, ORPHANED) + load(processRecord, TOTALS + MAPPED_HELD);
  },
  /** Bytes of this process's pooled segments lent to other runtimes. */
  get lentAwayBytes(): number {
    return load(processRecord, TOTALS + LENT_AWAY);
  },
  /** Bytes of this process's pooled segments that are free, ready for its next large transfers (warmPool's, once prepared). */
  get freeBytes(): number {
    return load(processRecord, TOTALS + FREE);
  },
};
