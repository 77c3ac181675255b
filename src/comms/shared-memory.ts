/**
 * Large payloads between runtimes on the same machine go through files in
 * /dev/shm instead of the socket: the sender writes the bytes once into a new
 * segment, the frame carries only its path, and the receiver maps it (a
 * private, copy-on-write mapping) and unlinks it at once, so nothing is left
 * in /dev/shm once it has arrived. Segments that never arrived are removed by
 * their sender when the connection closes or the process stops, and by the
 * other runtimes of the cluster when its head is gone.
 */
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Recent } from "../_util/recent.ts";

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
let counters = new BigInt64Array(new SharedArrayBuffer(4 * 8));
const WRITTEN = 0;
const WRITTEN_BYTES = 1;
const MAPPED = 2;
const MAPPED_BYTES = 3;

function count(index: number, by: number): void {
  Atomics.add(counters, index, BigInt(by));
}

/** The memory behind this process's counters, for threads to share. */
export function sharedMemoryCounters(): SharedArrayBuffer {
  return counters.buffer as SharedArrayBuffer;
}

export function adoptSharedMemoryCounters(buffer: SharedArrayBuffer): void {
  counters = new BigInt64Array(buffer);
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

/** A segment must be a regular file of ours, of the announced size (not a link, a FIFO, another user's file). */
function checkSegmentFile(path: string, size: number): void {
  const stat = lstatSync(path);
  if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) throw new Error(`${path} belongs to another user`);
  if (stat.size !== size) throw new Error(`${path} holds ${stat.size} bytes, ${size} expected`);
}

/** Checks a segment, takes its bytes with `take`, and removes its file whatever happens. */
function consumeSegment(path: string, size: number, take: () => Uint8Array): Uint8Array {
  checkSegmentPath(path);
  try {
    checkSegmentFile(path, size);
    const bytes = take();
    count(MAPPED, 1);
    count(MAPPED_BYTES, size);
    return bytes;
  } finally {
    try {
      unlinkSync(path);
    } catch {}
  }
}

/** Maps a segment that a peer wrote (copy-on-write) and removes its file. */
export function mapSegment(path: string, size: number): Uint8Array {
  return consumeSegment(path, size, () => (size === 0 ? new Uint8Array(0) : Bun.mmap(path, { shared: false })));
}

/**
 * Reads a segment into memory from `allocate` and removes its file: for
 * receivers that want the bytes in memory of their own kind (workers: shared
 * memory for their threads). The kernel's copy beats mapping and copying.
 */
export function readSegment(path: string, size: number, allocate: (bytes: number) => Uint8Array): Uint8Array {
  return consumeSegment(path, size, () => {
    const into = allocate(size);
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

/** Removes a segment that will not be read (its frame was refused). */
export function discardSegment(path: string): void {
  try {
    checkSegmentPath(path);
    unlinkSync(path);
  } catch {}
}

function checkSegmentPath(path: string): void {
  if (!path.startsWith(`${SHM_DIRECTORY}/mosaic-`) || path.includes("..") || path.includes("\0")) throw new Error(`not a mosaic segment: ${path}`);
}

/** Removes segments written here that nobody mapped (all of this process's, by default). */
export function removeSegments(paths: SegmentSet = created): void {
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

process.on("exit", () => removeSegments());
