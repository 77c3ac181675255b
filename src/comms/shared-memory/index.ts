/**
 * Large payloads between runtimes on the same machine go through files in
 * /dev/shm instead of the socket; the frame carries only the path.
 *
 * Pooled segments (the common case): the sender keeps a few files mapped and
 * copies a payload into one (memcpy into memory that is already there: fresh
 * tmpfs pages cost 5-8x more than the copy itself); the receiver maps it
 * (private, copy-on-write, no copy) and uses the bytes in place; when the
 * receiver's memory is garbage collected it hands the segment back, and the
 * sender reuses it. Free segments are removed after some idle seconds
 * (segmentIdleTime).
 *
 * One-shot segments (pool full): written once, mapped or read by the receiver
 * and unlinked on arrival.
 *
 * Whatever was not handed back is removed by its sender when the connection
 * closes or the process stops, and by the cluster's other runtimes when its
 * head is gone.
 */
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { isMainThread } from "node:worker_threads";
import { hostname, totalmem } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Recent } from "../../_util/recent.ts";

export const SHM_DIRECTORY = "/dev/shm";
/** Payloads at least this big go through shared memory (when the peer is on this machine). */
export const SHM_MIN_BYTES = 1 << 20;
/** Bytes of the path field that replaces a shared payload's bytes in a frame. */
export const SHM_PATH_FIELD = 128;
/** Environment variable naming the cluster in segment names (the head's pid). */
export const CLUSTER_ENV = "MOSAIC_CLUSTER";

const available = process.platform === "linux" && existsSync(SHM_DIRECTORY);

/** Identifies this machine (and boot): peers with the same value share /dev/shm. */
export const MACHINE_ID = (() => {
  try {
    return `${hostname()}/${readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()}`;
  } catch {
    return hostname();
  }
})();

export function sharedMemoryAvailable(): boolean {
  return available;
}

export function clusterId(): string {
  return (process.env[CLUSTER_ENV] ??= String(process.pid));
}

/** Segments written here and maybe not mapped yet (the most recent ones: older ones have long arrived). */
export type SegmentSet = Recent<string, true>;

export function createSegmentSet(): SegmentSet {
  return new Recent<string, true>(4096);
}

const created = createSegmentSet();

/** Counters of the whole process: a worker's tessera threads adopt their main thread's (see adoptSharedMemoryCounters). */
let counters = new BigInt64Array(new SharedArrayBuffer(8 * 8));
const WRITTEN = 0;
const WRITTEN_BYTES = 1;
const MAPPED = 2;
const MAPPED_BYTES = 3;
const LENT = 4;
/** Bytes of this process's pooled segments that are not lent to another runtime (see ownedSharedBytes). */
const POOLED_OURS_BYTES = 5;
/** Bytes of segments mapped here by mapSegment and not collected yet (see ownedSharedBytes). */
const MAPPED_HELD_BYTES = 6;
const LENT_AWAY_BYTES = 7;

function count(index: number, by: number): void {
  Atomics.add(counters, index, BigInt(by));
  if (index === MAPPED_HELD_BYTES) Atomics.add(realm, REALM_MAPPED_HELD, BigInt(by));
}

/**
 * What this thread (realm) has of the process's counts, for its worker's main
 * thread: the mappings it holds (they go with it when it exits, its collector
 * never reports them) and the bytes of its free pooled segments (memory it
 * gives up when asked, see requestThreadTrim).
 */
let realm = new BigInt64Array(new SharedArrayBuffer(2 * 8));
const REALM_MAPPED_HELD = 0;
const REALM_FREE = 1;

function countFree(by: number): void {
  Atomics.add(realm, REALM_FREE, BigInt(by));
}

/** The memory behind this process's counters, for threads to share. */
export function sharedMemoryCounters(): SharedArrayBuffer {
  return counters.buffer as SharedArrayBuffer;
}

/** A tessera thread counts into its main thread's counters, and its own part into `realmBuffer` (see threadRealm). */
export function adoptSharedMemoryCounters(buffer: SharedArrayBuffer, realmBuffer?: SharedArrayBuffer): void {
  counters = new BigInt64Array(buffer);
  if (realmBuffer) realm = new BigInt64Array(realmBuffer);
}

/** The tessera threads' parts, seen from their worker's main thread. */
const threadRealms = new Set<BigInt64Array>();
let trimThreads: (() => void) | undefined;

/**
 * For a tessera thread about to start: the memory its part of the counts goes
 * to, and `end` for when it has exited (the mappings it held are gone; its
 * free segments, if its exit did not remove them, no longer count).
 */
export function threadRealm(): { buffer: SharedArrayBuffer; end: () => void } {
  const part = new BigInt64Array(new SharedArrayBuffer(2 * 8));
  threadRealms.add(part);
  return {
    buffer: part.buffer as SharedArrayBuffer,
    end: () => {
      if (!threadRealms.delete(part)) return;
      count(MAPPED_HELD_BYTES, -Number(Atomics.exchange(part, REALM_MAPPED_HELD, 0n)));
      count(POOLED_OURS_BYTES, -Number(Atomics.exchange(part, REALM_FREE, 0n)));
    },
  };
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
  for (const part of threadRealms) free += Number(Atomics.load(part, REALM_FREE));
  if (free > 0) trimThreads?.();
  return free;
}

/** What went through shared memory in this process, all threads (for status and tests). */
export const sharedMemoryStats = {
  get written(): number {
    return Number(Atomics.load(counters, WRITTEN));
  },
  get writtenBytes(): number {
    return Number(Atomics.load(counters, WRITTEN_BYTES));
  },
  get mapped(): number {
    return Number(Atomics.load(counters, MAPPED));
  },
  get mappedBytes(): number {
    return Number(Atomics.load(counters, MAPPED_BYTES));
  },
  /** Pooled segments of this process that a receiver holds now. */
  get lent(): number {
    return Number(Atomics.load(counters, LENT));
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
    return Number(Atomics.load(counters, POOLED_OURS_BYTES)) + Number(Atomics.load(counters, MAPPED_HELD_BYTES));
  },
  /** Bytes of this process's pooled segments lent to other runtimes. */
  get lentAwayBytes(): number {
    return Number(Atomics.load(counters, LENT_AWAY_BYTES));
  },
};
let sequence = 0;

function remember(set: SegmentSet, path: string): void {
  set.set(path, true);
}

/** Writes `payload` into a new segment and returns its path (also noted in `owner`, if given). */
export function writeSegment(payload: Uint8Array, owner?: SegmentSet): string {
  // A random part, and O_EXCL ("wx"): nobody can prepare the file (or a link) for us to write into.
  const path = join(SHM_DIRECTORY, `mosaic-${clusterId()}-${process.pid}-${sequence++}-${randomSuffix()}`);
  const fd = openSync(path, "wx", 0o600);
  remember(created, path);
  if (owner) remember(owner, path);
  try {
    for (let at = 0; at < payload.byteLength; ) at += writeSync(fd, payload, at, payload.byteLength - at);
  } catch (error) {
    // Typically ENOSPC (a small /dev/shm): leave nothing behind; the caller sends over the socket instead.
    try {
      unlinkSync(path);
    } catch {}
    throw error;
  } finally {
    closeSync(fd);
  }
  count(WRITTEN, 1);
  count(WRITTEN_BYTES, payload.byteLength);
  return path;
}

function randomSuffix(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex");
}

/** A segment must be a regular file of ours, of the announced size (not a link, a FIFO, another user's file); pooled ones may be larger. */
function checkSegmentFile(path: string, size: number, pooled: boolean): void {
  const stat = lstatSync(path);
  if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) throw new Error(`${path} belongs to another user`);
  if (pooled ? stat.size < size : stat.size !== size) throw new Error(`${path} holds ${stat.size} bytes, ${size} expected`);
}

/** Checks a segment, takes its bytes with `take`, and removes its file whatever happens (a pooled one is left to its owner). */
function consumeSegment(path: string, size: number, take: () => Uint8Array): Uint8Array {
  checkSegmentPath(path);
  const pooled = isPooledSegment(path);
  try {
    checkSegmentFile(path, size, pooled);
    const bytes = take();
    count(MAPPED, 1);
    count(MAPPED_BYTES, size);
    return bytes;
  } finally {
    if (!pooled) {
      try {
        unlinkSync(path);
      } catch {}
    }
  }
}

/** Mappings of other processes' segments: counted as held (see ownedSharedBytes) until collected. */
const heldMappings = new FinalizationRegistry<number>((size) => count(MAPPED_HELD_BYTES, -size));

function countHeld(mapping: Uint8Array): void {
  count(MAPPED_HELD_BYTES, mapping.byteLength);
  heldMappings.register(mapping.buffer, mapping.byteLength);
}

/** Maps a segment that a peer wrote (copy-on-write); a one-shot segment's file is removed. */
export function mapSegment(path: string, size: number): Uint8Array {
  return consumeSegment(path, size, () => {
    if (size === 0) return new Uint8Array(0);
    const bytes = Bun.mmap(path, { shared: false, size });
    // A segment of this process's pools (a thread's staged result, a receive target passed to a thread) is
    // counted once, by the pool that owns it.
    if (!path.startsWith(ownPoolPrefix())) countHeld(bytes);
    return bytes;
  });
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

/**
 * Removes a one-shot segment that will not be read (its frame was refused); a
 * pooled one is for its owner to take back, unless `owned`: its owner is gone
 * (a tessera thread that exited) and the caller removes it in its place.
 */
export function discardSegment(path: string, owned = false): void {
  try {
    checkSegmentPath(path);
    if (owned && isPooledSegment(path)) count(POOLED_OURS_BYTES, -lstatSync(path).size); // counted by the pool of the thread that is gone
    if (owned || !isPooledSegment(path)) unlinkSync(path);
  } catch {}
}

// ------------------------------------------------------------------ the pool

/** Pooled segment names carry this mark (receivers hand them back instead of removing them). */
const POOLED_MARK = "-pool-";

function ownPoolPrefix(): string {
  return join(SHM_DIRECTORY, `mosaic-${clusterId()}-${process.pid}${POOLED_MARK}`);
}

export function isPooledSegment(path: string): boolean {
  return path.includes(POOLED_MARK);
}

interface PooledSegment {
  path: string;
  capacity: number;
  /** The sender's mapping (shared): kept, so that its pages stay there for the next payload. */
  mapping: Uint8Array;
  /** Who holds it now (a connection), or undefined when free. */
  borrower: object | undefined;
  /** Lent to another runtime (see lendSegment), not to a part of this process. */
  lentAway: boolean;
  /** Counts its lendings: a late hand-back of an earlier one must not free the current one. */
  lending: number;
  freedAt: number;
}

/** Bytes of pooled segments a process may keep (lent and free together); past it, payloads take one-shot segments. */
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
let pooledBytes = 0;

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
  const chosen = takeSegment(payload.byteLength, borrower, exact);
  if (!chosen) return undefined;
  if (away) {
    chosen.lentAway = true;
    count(POOLED_OURS_BYTES, -chosen.capacity);
    count(LENT_AWAY_BYTES, chosen.capacity);
  }
  chosen.mapping.set(payload);
  count(WRITTEN, 1);
  count(WRITTEN_BYTES, payload.byteLength);
  return { path: chosen.path, lending: chosen.lending };
}

/**
 * A free pooled segment of at least `size` bytes (a new one if none fits),
 * now lent to `borrower`; undefined if the pool is full. `exact`: a new one
 * is sized to the payload (rounded to 1 MiB), for memory that may be kept long.
 */
function takeSegment(size: number, borrower: object, exact = false): PooledSegment | undefined {
  let chosen: PooledSegment | undefined;
  // Memory kept long is not to pin much more than it holds: at most an eighth (or 1 MiB) more.
  const largest = exact ? size + Math.max(SHM_MIN_BYTES, size / 8) : 2 * capacityFor(size);
  for (const segment of segments) {
    if (segment.borrower || segment.capacity < size || segment.capacity > largest) continue;
    if (!chosen || segment.capacity < chosen.capacity) chosen = segment;
  }
  if (!chosen) {
    const capacity = exact ? Math.ceil(size / SHM_MIN_BYTES) * SHM_MIN_BYTES : capacityFor(size);
    if (pooledBytes + capacity > POOL_LIMIT || capacity > freeSharedMemory() / 2) return undefined;
    chosen = createPooled(capacity);
  }
  chosen.borrower = borrower;
  chosen.lending++;
  count(LENT, 1);
  countFree(-chosen.capacity);
  return chosen;
}

// ------------------------------------------- scratch copies for socket writers

/** Segments used as scratch memory by this process's socket writers. */
const SCRATCH = {};

/**
 * A copy of `bytes` in a free pooled segment (pages there already once the
 * pool is warm: a memcpy, not page faults), for a socket writer that must keep
 * what a caller may change; `release` when written. Undefined for small
 * payloads or when the pool cannot help (copy into fresh memory instead).
 */
export function scratchCopy(bytes: Uint8Array): { copy: Uint8Array; release: () => void } | undefined {
  if (!available || bytes.byteLength < SHM_MIN_BYTES) return undefined;
  let segment: PooledSegment | undefined;
  try {
    segment = takeSegment(bytes.byteLength, SCRATCH);
  } catch {
    return undefined;
  }
  if (!segment) return undefined;
  const copy = segment.mapping.subarray(0, bytes.byteLength);
  copy.set(bytes);
  const { path, lending } = segment;
  return { copy, release: () => returnSegment(path, SCRATCH, lending) };
}

// ------------------------------------------- receiving from a socket into the pool

/** Segments this process receives socket payloads into: lent to itself until the payload's memory is collected. */
const RECEIVING = {};
const receiveTargets = new WeakMap<Uint8Array, (passable: boolean) => Uint8Array>();
/** A target never finished (its frame was cut off, its message undecodable) goes back once nothing can write it. */
const abandonedTargets = new FinalizationRegistry<[path: string, lending: number]>(([path, lending]) => returnSegment(path, RECEIVING, lending));

/**
 * Where a large payload arriving on a socket (from another machine, or with
 * shared memory off) is copied: this process's own mapping of a free pooled
 * segment, whose pages are there already once the pool is warm, so the copy
 * runs as into a reused buffer instead of faulting in fresh memory.
 * `finishReceive` then gives the receiver a copy-on-write mapping of it.
 * Undefined for small payloads or when the pool cannot help.
 */
export function receiveTarget(size: number): Uint8Array | undefined {
  if (!available || size < SHM_MIN_BYTES) return undefined;
  let segment: PooledSegment | undefined;
  try {
    segment = takeSegment(size, RECEIVING, true); // kept as long as the receiver keeps the value: sized to it
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

function freeSharedMemory(): number {
  try {
    const stats = statfsSync(SHM_DIRECTORY);
    return stats.bavail * stats.bsize;
  } catch {
    return 0;
  }
}

const ZEROS = new Uint8Array(1 << 20);

function createPooled(capacity: number): PooledSegment {
  const path = `${ownPoolPrefix()}${sequence++}-${randomSuffix()}`;
  const fd = openSync(path, "wx", 0o600);
  remember(created, path);
  try {
    // Written, not just sized: tmpfs allocates pages on first touch, and a full /dev/shm must show
    // here as ENOSPC (the caller falls back to the socket), not later as SIGBUS inside a memcpy.
    for (let at = 0; at < capacity; ) at += writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, capacity - at), at);
  } catch (error) {
    created.delete(path);
    unlinkQuietly(path);
    throw error;
  } finally {
    closeSync(fd);
  }
  const segment: PooledSegment = { path, capacity, mapping: Bun.mmap(path, { shared: true }), borrower: undefined, lentAway: false, lending: 0, freedAt: 0 };
  segments.push(segment);
  byPath.set(path, segment);
  pooledBytes += capacity;
  count(POOLED_OURS_BYTES, capacity);
  countFree(capacity);
  return segment;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/** `borrower` is done with the segment at `path` (only a segment lent to it, and only the `lending` given, if given). */
export function returnSegment(path: string, borrower: object, lending?: number): void {
  const segment = byPath.get(path);
  if (!segment || segment.borrower !== borrower || (lending !== undefined && lending !== segment.lending)) return;
  segment.borrower = undefined;
  segment.freedAt = performance.now();
  count(LENT, -1);
  countFree(segment.capacity);
  if (segment.lentAway) {
    count(POOLED_OURS_BYTES, segment.capacity);
    count(LENT_AWAY_BYTES, -segment.capacity);
  }
  segment.lentAway = false;
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
  if (segment.borrower) count(LENT, -1);
  else countFree(-segment.capacity);
  if (segment.lentAway) count(LENT_AWAY_BYTES, -segment.capacity);
  else count(POOLED_OURS_BYTES, -segment.capacity);
  byPath.delete(segment.path);
  pooledBytes -= segment.capacity;
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
 * Counts mapped bytes; after every COLLECT_AFTER_BYTES, a garbage collection
 * at the next turn of the event loop. Counted from the last collection, not
 * as what is still mapped: a program that keeps much mapped must not collect
 * on every arrival.
 */
function noteMapped(bytes: number): void {
  mappedSinceCollection += bytes;
  if (mappedSinceCollection >= COLLECT_AFTER_BYTES) collectSoon();
}

/** A garbage collection at the next turn of the event loop (mappings let go of are unmapped then). */
function collectSoon(): void {
  if (collectionScheduled) return;
  collectionScheduled = true;
  mappedSinceCollection = 0;
  setTimeout(() => {
    collectionScheduled = false;
    Bun.gc(true);
  }, 0);
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

// -------------------------------------- receivers: handing mapped segments back

/** Bytes mapped from pooled segments since the last collection this module asked for. */
let mappedSinceCollection = 0;
/** After this many, a garbage collection is run soon, so that segments no longer used go back to their senders. */
const COLLECT_AFTER_BYTES = 256 * 2 ** 20;
let collectionScheduled = false;

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

function checkSegmentPath(path: string): void {
  if (!path.startsWith(`${SHM_DIRECTORY}/mosaic-`) || path.includes("..") || path.includes("\0")) throw new Error(`not a mosaic segment: ${path}`);
}

/** Removes segments written here that nobody mapped (all of this process's, by default, the pool's too). */
export function removeSegments(paths: SegmentSet = created): void {
  if (paths === created) for (let i = segments.length - 1; i >= 0; i--) dropSegment(i);
  for (const path of paths.keys()) {
    try {
      unlinkSync(path);
    } catch {}
  }
  paths.clear();
}

/** Removes every segment of the cluster (when its head is gone, nobody will map them). */
export function removeClusterSegments(cluster = clusterId()): void {
  if (!available) return;
  const prefix = `mosaic-${cluster}-`;
  for (const name of readdirSync(SHM_DIRECTORY)) {
    if (!name.startsWith(prefix)) continue;
    try {
      unlinkSync(join(SHM_DIRECTORY, name));
    } catch {}
  }
}

// A tessera thread that ends takes only its free segments with it: those it lent to its worker's main
// thread are still mapped there, and that thread removes them once it is done with them.
process.on("exit", () => (isMainThread ? removeSegments() : trimSegments(0)));
