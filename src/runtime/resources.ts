/**
 * CPU and memory of this runtime process: what `cpuLoad()`, `memoryLimit()`
 * and `fitsInMemory()` report.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { releaseFreeSegments, requestThreadTrim, sharedMemoryStats } from "../comms/shared-memory.ts";

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
 * theirs (they do at their next turn, so they are not counted here).
 */
export function fitsMemory(bytes: number, limit: number): boolean {
  if (usedMemory() + bytes <= limit) return true;
  releaseFreeSegments();
  return usedMemory() - requestThreadTrim() + bytes <= limit;
}

/** The cgroup v2 limit when one is set, or the machine's memory. */
function machineMemory(): number {
  try {
    const text = readFileSync("/sys/fs/cgroup/memory.max", "utf8").trim();
    const limit = Number(text);
    if (Number.isFinite(limit) && limit > 0) return Math.min(limit, totalmem());
  } catch {}
  return totalmem();
}

export interface ResourceSample {
  /** Percent of one core used since the previous sample. */
  cpuLoad: number;
  rss: number;
  memoryLimit: number;
}

export class ResourceMonitor {
  readonly memoryLimit: number;
  /** Bytes promised to transfers in flight, counted before they land. */
  committedBytes = 0;
  #lastCpu = process.cpuUsage();
  #lastTime = performance.now();

  /** `bytes` when set, else a `share` of `fraction` of the machine (workers of a node share it). */
  constructor(fraction: number, bytes = 0, share = 1) {
    this.memoryLimit = bytes > 0 ? bytes : Math.floor((machineMemory() * fraction) / share);
  }

  cpuLoad(): number {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const used = (cpu.user - this.#lastCpu.user + cpu.system - this.#lastCpu.system) / 1000;
    const elapsed = now - this.#lastTime;
    this.#lastCpu = cpu;
    this.#lastTime = now;
    return elapsed > 0 ? (100 * used) / elapsed : 0;
  }

  fitsInMemory(bytes: number): boolean {
    return fitsMemory(this.committedBytes + bytes, this.memoryLimit);
  }

  sample(): ResourceSample {
    return { cpuLoad: this.cpuLoad(), rss: process.memoryUsage.rss(), memoryLimit: this.memoryLimit };
  }
}
