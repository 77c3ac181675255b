/**
 * Helpers shared by the benchmarks: JSON-line output, statistics, /proc
 * readers, CPU affinity and latency measured against a raw baseline. The raw
 * baselines' sockets and peer processes are in _raw.ts.
 *
 * Benchmarks print JSON lines only on stdout (one object per measurement);
 * commentary goes to stderr through `note()`.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface Measurement {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  /** The same quantity measured for a raw baseline in the same run. */
  baseline?: number;
  /** value / baseline. */
  ratio?: number;
  /** The goal, e.g. "< 150" (in `unit`), or for a ratio "ratio <= 2". */
  target?: string;
  /** Whether the target was met (absent when there is no target). */
  ok?: boolean;
  [extra: string]: unknown;
}

export function emit(measurement: Measurement): void {
  process.stdout.write(`${JSON.stringify(measurement)}\n`);
}

/** Human-readable commentary: stderr only. */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function sorted(samples: readonly number[]): number[] {
  if (samples.length === 0) throw new Error("no samples");
  return [...samples].sort((a, b) => a - b);
}

export function median(samples: readonly number[]): number {
  const s = sorted(samples);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile, p in (0, 100]. */
export function percentile(samples: readonly number[], p: number): number {
  const s = sorted(samples);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function min(samples: readonly number[]): number {
  return sorted(samples)[0]!;
}

export function max(samples: readonly number[]): number {
  const s = sorted(samples);
  return s[s.length - 1]!;
}

// ---------------------------------------------------------------- /proc

/** VmRSS of a process in KiB, or undefined if it is gone. */
export function rssKiB(pid: number): number | undefined {
  return procKiB(pid, "VmRSS");
}

/** One "Name:  <n> kB" field of /proc/<pid>/status (or smaps_rollup) in KiB. */
export function procKiB(pid: number, field: string, file = "status"): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(readFileSync(`/proc/${pid}/${file}`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the "(comm)" field, 0-based from field 3 (state). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** utime + stime of a process in clock ticks, or undefined if it is gone. */
export function cpuTicks(pid: number): number | undefined {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the state field (3).
  return fields ? Number(fields[11]) + Number(fields[12]) : undefined;
}

/** Minor page faults of a process so far (stat's minflt), or undefined if it is gone. */
export function minorFaults(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[7]) : undefined;
}

/**
 * CPU time of all threads of a process (or of those whose name `threads` matches) in nanoseconds, from schedstat
 * (scheduler-exact, unlike the tick-sampled utime/stime). Undefined if gone
 * or the kernel has no schedstat.
 */
export function cpuNanos(pid: number, threads?: RegExp): number | undefined {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        if (threads && !threads.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8"))) continue;
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // thread exited between readdir and read
      }
    }
    return total;
  } catch {
    return undefined;
  }
}

/** JSC's compiler threads (DFG and FTL compile there), by their names in /proc. */
export const JIT_THREADS = /^JITWorker/;

/**
 * The share of the CPU time of `pids` (all their threads) that their JIT
 * compiler threads took while `body` ran: near 0 once the code it runs is
 * compiled (a steady state), undefined where schedstat cannot be read.
 */
export async function jitShare(pids: readonly number[], body: () => Promise<unknown>): Promise<number | undefined> {
  const sum = (threads?: RegExp) => pids.reduce((total, pid) => total + (cpuNanos(pid, threads) ?? 0), 0);
  const [cpu0, jit0] = [sum(), sum(JIT_THREADS)];
  await body();
  const cpu = sum() - cpu0;
  return cpu > 0 ? (sum(JIT_THREADS) - jit0) / cpu : undefined;
}

/** "alive", "zombie" (exited, not reaped yet) or "gone". */
export function processState(pid: number): "alive" | "zombie" | "gone" {
  const fields = statFields(pid);
  if (!fields) return "gone";
  return fields[0] === "Z" || fields[0] === "X" ? "zombie" : "alive";
}

let clockTicks: number | undefined;

/** sysconf(_SC_CLK_TCK), normally 100. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    clockTicks = 100;
    try {
      const result = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" });
      const value = Number(result.stdout.toString().trim());
      if (result.exitCode === 0 && Number.isInteger(value) && value > 0) clockTicks = value;
    } catch {}
  }
  return clockTicks;
}

// ---------------------------------------------------------------- CPU affinity

/** Whether `taskset` (util-linux) can be used to place processes on CPUs. */
export function canSetAffinity(): boolean {
  return Bun.which("taskset") !== null;
}

/** "0-2,4" -> [0, 1, 2, 4] */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.split(",")) {
    const [from, to] = part.trim().split("-").map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    for (let cpu = from; cpu <= (to ?? from); cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPU list a process may run on, e.g. "0,1" (undefined without taskset). */
export function getAffinity(pid: number): string | undefined {
  const result = Bun.spawnSync(["taskset", "-c", "-p", String(pid)], { stdout: "pipe", stderr: "ignore" });
  if (result.exitCode !== 0) return undefined;
  const text = result.stdout.toString().trim();
  return text.slice(text.lastIndexOf(":") + 1).trim();
}

/** Pins every thread of a process to the CPUs in `list`; false if that failed. */
export function setAffinity(pid: number, list: string): boolean {
  const result = Bun.spawnSync(["taskset", "-a", "-c", "-p", list, String(pid)], { stdout: "ignore", stderr: "ignore" });
  return result.exitCode === 0;
}

/** The CPUs this process may run on; none without taskset. */
export function ownCpus(): number[] {
  return canSetAffinity() ? parseCpuList(getAffinity(process.pid) ?? "") : [];
}

/** Runs `body`, then gives each of `pids` back the CPU list it had before (where taskset could read it). */
export async function keepingAffinity<T>(pids: readonly number[], body: () => Promise<T>): Promise<T> {
  const original = new Map(pids.map((pid) => [pid, canSetAffinity() ? getAffinity(pid) : undefined]));
  try {
    return await body();
  } finally {
    for (const [pid, list] of original) if (list) setAffinity(pid, list);
  }
}

// ---------------------------------------------------------------- latency against a raw baseline

export interface LatencySamples {
  /** Microseconds per round trip. */
  raw: number[];
  mosaic: number[];
}

/**
 * `warmup` unmeasured, then `count` measured sequential round trips,
 * alternating raw / mosaic so that both see the same machine state, and
 * swapping which goes first every time: unpinned, the one that follows the
 * other was measured 6x slower here whichever it was (where the scheduler
 * puts the second peer decides whether its wake-up crosses vCPUs).
 */
export async function alternate(warmup: number, count: number, raw: () => Promise<unknown>, mosaicCall: () => Promise<unknown>): Promise<LatencySamples> {
  const samples: LatencySamples = { raw: [], mosaic: [] };
  for (let i = 0; i < warmup + count; i++) {
    const rawFirst = i % 2 === 0;
    const t0 = Bun.nanoseconds();
    await (rawFirst ? raw() : mosaicCall());
    const t1 = Bun.nanoseconds();
    await (rawFirst ? mosaicCall() : raw());
    const t2 = Bun.nanoseconds();
    if (i < warmup) continue;
    samples.raw.push((rawFirst ? t1 - t0 : t2 - t1) / 1000);
    samples.mosaic.push((rawFirst ? t2 - t1 : t1 - t0) / 1000);
  }
  return samples;
}

export interface LatencyReport {
  bench: string;
  /** Metrics `<name>_median<suffix>` and `<name>_p99<suffix>`. */
  name: string;
  suffix: string;
  /** What the commentary line calls the pair. */
  label: string;
  samples: LatencySamples;
  /** Fields of both measurements... */
  fields: Record<string, unknown>;
  /** ...and of the median alone. */
  medianFields?: Record<string, unknown>;
  /** Target on the median's ratio, if any. */
  maxRatio?: number;
}

/** Notes the medians and emits the median and p99 of the mosaic samples (us) with the raw ones as baseline. */
export function emitLatency({ bench, name, suffix, label, samples, fields, medianFields, maxRatio }: LatencyReport): void {
  const mosaicMedian = median(samples.mosaic);
  const rawMedian = median(samples.raw);
  const ratio = mosaicMedian / rawMedian;
  note(`${bench}: ${label}: mosaic median ${round(mosaicMedian, 1)} us, raw ${round(rawMedian, 1)} us`);
  emit({
    bench,
    metric: `${name}_median${suffix}`,
    value: round(mosaicMedian, 2),
    unit: "us",
    baseline: round(rawMedian, 2),
    ratio: round(ratio, 2),
    samples: samples.mosaic.length,
    ...fields,
    ...medianFields,
    ...(maxRatio === undefined ? {} : { target: `ratio <= ${maxRatio}`, ok: ratio <= maxRatio }),
  });
  const mosaicP99 = percentile(samples.mosaic, 99);
  const rawP99 = percentile(samples.raw, 99);
  emit({
    bench,
    metric: `${name}_p99${suffix}`,
    value: round(mosaicP99, 2),
    unit: "us",
    baseline: round(rawP99, 2),
    ratio: round(mosaicP99 / rawP99, 2),
    samples: samples.mosaic.length,
    ...fields,
  });
}

/**
 * After the benchmark's own cleanup the event loop should be empty and the
 * process exit by itself; if something still holds it open, fail loudly.
 */
export function exitGuard(name: string, ms = 5000): void {
  setTimeout(() => {
    note(`${name}: something kept the process alive ${ms} ms after the benchmark finished (leaked socket, timer or child?)`);
    process.exit(1);
  }, ms).unref();
}
