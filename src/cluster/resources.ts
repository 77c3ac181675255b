/**
 * CPU and memory of this runtime process: what `cpuLoad()`, `memoryLimit()`
 * and `fitsInMemory()` report.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { fitsMemory } from "../comms/memory-budget.ts";

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
