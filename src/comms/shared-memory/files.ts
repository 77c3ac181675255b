/**
 * Segment files in /dev/shm: their names, the checks a received one must
 * pass, one-shot segments (written once, consumed on arrival), and removal of
 * what was left behind.
 */
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import type { Stats } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Recent } from "../../_util/recent.ts";
import { countMapped, countWritten, discardOrphan } from "./accounting.ts";

export const SHM_DIRECTORY = "/dev/shm";
/**
 * Payloads at least this big go through shared memory (when the peer is on this machine). From 256 KiB up
 * that beats the socket (its kernel copies, chunks and wake-ups; a fresh receiving buffer each time): 512 KiB
 * steady, an argument 0.31-0.39 -> 0.07-0.18 ms a call, a result fetched 0.71-0.96 -> 0.19-0.21; 64 of them at
 * once 25 -> 6.1-6.6 ms. At 1 MiB before.
 */
export const SHM_MIN_BYTES = 1 << 18;
/** Bytes of the path field that replaces a shared payload's bytes in a frame. */
export const SHM_PATH_FIELD = 128;
/**
 * Socket payloads larger than this are not received into (nor staged for
 * writing in) a pooled segment: making a segment writes all of its pages at
 * once (so that a full /dev/shm shows as an error, not as a crash later),
 * which for a gigabyte stalls the receiving thread for seconds, past its
 * heartbeats. Fresh memory is faulted in as the bytes arrive instead.
 */
export const POOLED_SOCKET_MAX_BYTES = 256 * 2 ** 20;
/** Environment variable naming the cluster in segment names: its head sets it, children inherit it. */
export const CLUSTER_ENV = "MOSAIC_CLUSTER";

const available = process.platform === "linux" && existsSync(SHM_DIRECTORY);

/**
 * Identifies this machine (its boot) and network namespace: peers with the
 * same value share /dev/shm. The boot id is random per machine and boot; the
 * network namespace tells apart hosts that share a kernel (containers, the
 * test hosts): a runtime there is reached over its own network, and is sent
 * payloads over TCP like any other host's, even when it could see our /dev/shm.
 */
export const MACHINE_ID = (() => {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}/${readlinkSync("/proc/self/ns/net")}`;
  } catch {
    return hostname();
  }
})();

export function sharedMemoryAvailable(): boolean {
  return available;
}

function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

/**
 * The cluster of a process that no head named (a program using comms on its
 * own): random, not its pid, which says nothing once runtimes live on several
 * machines. Made once; threads started later inherit it with the environment.
 */
const UNNAMED_CLUSTER = randomHex(6);

export function clusterId(): string {
  return (process.env[CLUSTER_ENV] ??= UNNAMED_CLUSTER);
}

/** Segments written here and maybe not mapped yet (the most recent ones: older ones have long arrived). */
export type SegmentSet = Recent<string, true>;

export function createSegmentSet(): SegmentSet {
  return new Recent<string, true>(4096);
}

/** Every segment file this thread created and has not removed (see removeSegments). */
export const created = createSegmentSet();

let sequence = 0;

/** Pooled segment names carry this mark (receivers hand them back instead of removing them). */
const POOLED_MARK = "-pool-";

/**
 * A new segment name of this process: `mosaic-<cluster>-<pid>-...`, with a
 * random part, so that nobody can prepare the file (or a link) for us to
 * write into (it is opened with O_EXCL).
 */
export function segmentPath(pooled: boolean): string {
  return join(SHM_DIRECTORY, `mosaic-${clusterId()}-${process.pid}${pooled ? POOLED_MARK : "-"}${sequence++}-${randomHex(6)}`);
}

/** Shared arrays' names carry this mark (arrays.ts): never pooled, never read, always mapped shared. */
const ARRAY_MARK = "-array-";

/** A new name for a shared array's file, of this process (so its node removes it if the process dies). */
export function arraySegmentPath(): string {
  return join(SHM_DIRECTORY, `mosaic-${clusterId()}-${process.pid}${ARRAY_MARK}${sequence++}-${randomHex(6)}`);
}

export function isArraySegment(path: string): boolean {
  return path.includes(ARRAY_MARK);
}

export function isPooledSegment(path: string): boolean {
  return path.includes(POOLED_MARK);
}

/** A pooled segment of this process (of any of its threads' pools): its owner counts it, not the mapping. */
export function isOwnPooledSegment(path: string): boolean {
  return path.includes(`-${process.pid}${POOLED_MARK}`);
}

/** A pooled segment of process `pid` of this cluster (a peer's, named by it). */
export function isPooledSegmentOf(path: string, pid: number): boolean {
  return path.startsWith(join(SHM_DIRECTORY, `mosaic-${clusterId()}-${pid}${POOLED_MARK}`));
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/** Writes `payload` into a new one-shot segment and returns its path (also noted in `owner`, if given). */
export function writeSegment(payload: Uint8Array, owner?: SegmentSet): string {
  const path = segmentPath(false);
  const fd = openSync(path, "wx", 0o600);
  created.set(path, true);
  owner?.set(path, true);
  try {
    for (let at = 0; at < payload.byteLength; ) at += writeSync(fd, payload, at, payload.byteLength - at);
  } catch (error) {
    // Typically ENOSPC (a small /dev/shm): leave nothing behind; the caller sends over the socket instead.
    unlinkQuietly(path);
    throw error;
  } finally {
    closeSync(fd);
  }
  countWritten(payload.byteLength);
  return path;
}

export function checkSegmentPath(path: string): void {
  if (!path.startsWith(`${SHM_DIRECTORY}/mosaic-`) || path.includes("..") || path.includes("\0")) throw new Error(`not a mosaic segment: ${path}`);
}

/** A segment must be a regular file of ours, of the announced size (not a link, a FIFO, another user's file); pooled ones may be larger. */
export function checkSegmentFile(path: string, size: number, pooled: boolean): Stats {
  const stat = lstatSync(path);
  if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) throw new Error(`${path} belongs to another user`);
  if (pooled ? stat.size < size : stat.size !== size) throw new Error(`${path} holds ${stat.size} bytes, ${size} expected`);
  return stat;
}

/** Checks a segment, takes its bytes with `take`, and removes its file whatever happens (a pooled one is left to its owner). */
export function consumeSegment(path: string, size: number, take: (file: Stats) => Uint8Array): Uint8Array {
  checkSegmentPath(path);
  const pooled = isPooledSegment(path);
  try {
    const bytes = take(checkSegmentFile(path, size, pooled));
    countMapped(size);
    return bytes;
  } finally {
    if (!pooled) unlinkQuietly(path);
  }
}

/**
 * Removes a one-shot segment that will not be read (its frame was refused); a
 * pooled one is for its owner to take back, unless `owned`: its owner is gone
 * (a thread that exited) and the caller removes it in its place.
 */
export function discardSegment(path: string, owned = false): void {
  try {
    checkSegmentPath(path);
    if (owned && isPooledSegment(path)) discardOrphan(lstatSync(path).size);
    if (owned || !isPooledSegment(path)) unlinkSync(path);
  } catch {}
}

/** Removes every segment of the cluster (when its head is gone, nobody will map them). */
/** Removes the segments a process of this cluster wrote (its pools too): for its parent, once it died. */
export function removeProcessSegments(pid: number): void {
  if (!available) return;
  const prefix = `mosaic-${clusterId()}-${pid}-`;
  for (const name of readdirSync(SHM_DIRECTORY)) if (name.startsWith(prefix)) unlinkQuietly(join(SHM_DIRECTORY, name));
}

export function removeClusterSegments(cluster = clusterId()): void {
  if (!available) return;
  const prefix = `mosaic-${cluster}-`;
  for (const name of readdirSync(SHM_DIRECTORY)) if (name.startsWith(prefix)) unlinkQuietly(join(SHM_DIRECTORY, name));
}

export function freeSharedMemory(): number {
  try {
    const stats = statfsSync(SHM_DIRECTORY);
    return stats.bavail * stats.bsize;
  } catch {
    return 0;
  }
}
