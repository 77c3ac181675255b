/**
 * Resource samples: what every node and worker reports to the head once per
 * `monitorInterval` (the `resources` event, `runtime.status()`), and the
 * sampler that takes them. A sample is a few numbers read from the process
 * (`process.cpuUsage`, the resident set, counters already kept): at the
 * default of one a second its cost does not show in an idle runtime's CPU
 * (see bench/runtime.bench.ts).
 */
import { hostname } from "node:os";

/** One runtime's resources at one time. Units are in the field names' docs; bytes are bytes. */
export interface RuntimeResources {
  /** The runtime's uid (`head`, `node:0`, `worker:0:1`). */
  runtime: string;
  role: string;
  pid: number;
  host: string;
  /**
   * CPU time the process used since its previous sample, in percent of one
   * core: 100 is one core busy all the time; a worker whose tessera threads
   * run in parallel can show more than 100.
   */
  cpu: number;
  /** Resident set size of the process, in bytes (shared-memory pages it touched included). */
  rss: number;
  /** Bytes the runtime may use (its memory budget, see `memoryLimit` and `memoryFraction`). */
  memoryLimit: number;
  /** Bytes of /dev/shm segments the process holds as its own (pooled, or mapped from others). */
  sharedMemory: number;
  /** Calls waiting on the runtime: for their dependencies, or behind their tessera's earlier calls (0 on a node). */
  tasksQueued: number;
  /** Calls running on the runtime's threads now (0 on a node). */
  tasksRunning: number;
  /** When the sample was taken (ms since the epoch). */
  time: number;
}

/** What a runtime sends the head: its sample, and the calls running on its threads as [task id, started at]. */
export type ResourceReport = [RuntimeResources, [number, number][]];

/** How a runtime measures itself (cluster/resources.ts and the actor host fill it in). */
export interface ResourceProbe {
  runtime: string;
  role: string;
  /** Percent of one core since the previous call. */
  cpu(): number;
  memoryLimit: number;
  sharedMemory(): number;
  /** Calls running ([task id, started at]) and queued; absent on runtimes without tesserae. */
  load?(): { running: [number, number][]; queued: number };
  /** No call running or queued, told without making garbage (an idle tick's check); absent: read from `load`. */
  idle?(): boolean;
}

const HOST = hostname();

/** Percent of one core this process used since the previous call (its own baseline: other readers do not shorten its window). */
export function cpuMeter(): () => number {
  let last = process.cpuUsage();
  let lastTime = performance.now();
  return () => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const used = (cpu.user - last.user + cpu.system - last.system) / 1000;
    const elapsed = now - lastTime;
    last = cpu;
    lastTime = now;
    return elapsed > 0 ? (100 * used) / elapsed : 0;
  };
}

/** One sample of `probe` now, with the calls running. */
export function sampleResources(probe: ResourceProbe): ResourceReport {
  const load = probe.load?.() ?? { running: [], queued: 0 };
  const sample: RuntimeResources = {
    runtime: probe.runtime,
    role: probe.role,
    pid: process.pid,
    host: HOST,
    cpu: Math.round(probe.cpu() * 10) / 10,
    rss: process.memoryUsage.rss(),
    memoryLimit: probe.memoryLimit,
    sharedMemory: probe.sharedMemory(),
    tasksQueued: load.queued,
    tasksRunning: load.running.length,
    time: Date.now(),
  };
  return [sample, load.running];
}

/**
 * An idle runtime's samples go to the head only every QUIET_EVERY intervals:
 * its numbers barely move, and every message wakes the head (and makes
 * garbage for a collection pass on both sides), the larger part of what
 * sampling costs an idle runtime.
 */
export const QUIET_EVERY = 10;

/** CPU (percent of one core) under which a runtime counts as idle. */
const IDLE_CPU = 2;

/**
 * Whether the runtime is as idle as its last sample sent said: no call
 * running or queued then or now, little CPU then, shared memory and RSS as
 * they were. Read without taking a sample: no CPU reading, no sample object,
 * so a quiet tick makes next to no garbage.
 */
export function stillQuiet(probe: ResourceProbe, last: RuntimeResources): boolean {
  if (last.tasksRunning || last.tasksQueued || last.cpu >= IDLE_CPU) return false;
  if (probe.sharedMemory() !== last.sharedMemory) return false;
  if (Math.abs(process.memoryUsage.rss() - last.rss) > last.rss / 50) return false;
  if (probe.idle) return probe.idle();
  const load = probe.load?.();
  return !load || (load.running.length === 0 && load.queued === 0);
}

/** Runs a function every `interval` ms until the returned function is called (a runtime's shared timer). */
export type Every = (interval: number, run: () => void) => () => void;

/** A timer of its own that does not keep the process alive: for a sampler outside a runtime. */
const ownTimer: Every = (interval, run) => {
  const timer = setInterval(run, interval);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Sends a sample every `interval` ms until the returned function is called
 * (0: never), or every QUIET_EVERY intervals while nothing moves (see
 * stillQuiet). `every` runs it on the runtime's one timer, so a sample and a
 * heartbeat due together wake the process once.
 */
export function startSampling(interval: number, probe: ResourceProbe, send: (report: ResourceReport) => void, every: Every = ownTimer): () => void {
  if (interval <= 0) return () => {};
  probe.cpu(); // the first sample's CPU figure covers one interval, not the start-up
  let last: RuntimeResources | undefined;
  let quiet = 0;
  return every(interval, () => {
    if (++quiet < QUIET_EVERY && last && stillQuiet(probe, last)) return;
    // After quiet ticks, its CPU figure is the average since the last sample sent.
    const report = sampleResources(probe);
    quiet = 0;
    last = report[0];
    send(report);
  });
}
