/**
 * A run's profile as Chrome Trace Event JSON (the "JSON Object Format" of
 * https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU,
 * which Perfetto and chrome://tracing open as they are): one process per
 * runtime (pid: its OS process id), one track per tessera thread (tid: the
 * thread's index + 1; tid 0 is the runtime's main thread, where transfers
 * land), an "X" complete event per task (from its start on its thread, or
 * its submission when the start was not learnt, to its end as the head saw
 * it), "C" counters for CPU and memory, "M" metadata naming processes and
 * threads. Timestamps are microseconds since the epoch.
 */
import type { ResourcesEvent, TransferEvent } from "./events.ts";

export interface ProfiledTask {
  task: string;
  tessera: string;
  method: string;
  worker: string | undefined;
  thread: number | undefined;
  submitted: number;
  started: number | undefined;
  ended: number;
  argumentBytes: number;
  /** undefined: it stayed on the worker (over 1 KiB), or the task failed. */
  resultBytes: number | undefined;
  error: string | undefined;
}

export interface Profile {
  runtimes: { uid: string; role: string; pid: number }[];
  tesserae: Map<string, { className: string; worker: string; thread: number }>;
  tasks: ProfiledTask[];
  transfers: TransferEvent[];
  samples: ResourcesEvent[];
}

export interface TraceEvent {
  name: string;
  ph: "X" | "C" | "M" | "i";
  pid: number;
  tid: number;
  /** Microseconds. */
  ts: number;
  dur?: number;
  cat?: string;
  /** Scope of an instant event: t = its thread. */
  s?: "t";
  args?: Record<string, unknown>;
}

export interface TraceFile {
  traceEvents: TraceEvent[];
  displayTimeUnit: "ms";
  otherData: Record<string, unknown>;
}

const US = 1000;

export function buildTrace(profile: Profile): TraceFile {
  const events: TraceEvent[] = [];
  const pids = new Map<string, number>();
  const threads = new Set<string>();
  // Runtimes that never announced their pid (joined before the profiler listened) get one above any real pid.
  let spare = 1 << 22;
  const pidOf = (uid: string): number => {
    let pid = pids.get(uid);
    if (pid === undefined) {
      pids.set(uid, (pid = spare++));
      events.push({ name: "process_name", ph: "M", pid, tid: 0, ts: 0, args: { name: uid } });
    }
    return pid;
  };
  const tidOf = (uid: string, thread: number | undefined): number => {
    const pid = pidOf(uid);
    const tid = thread === undefined ? 0 : thread + 1;
    const key = `${pid}/${tid}`;
    if (!threads.has(key)) {
      threads.add(key);
      events.push({ name: "thread_name", ph: "M", pid, tid, ts: 0, args: { name: tid === 0 ? "main" : `thread ${thread}` } });
    }
    return tid;
  };
  for (const { uid, pid } of profile.runtimes) {
    if (pids.has(uid)) continue;
    pids.set(uid, pid);
    events.push({ name: "process_name", ph: "M", pid, tid: 0, ts: 0, args: { name: uid } });
  }
  for (const task of profile.tasks) {
    const placed = profile.tesserae.get(task.tessera);
    const worker = task.worker ?? placed?.worker ?? "unplaced";
    const start = task.started ?? task.submitted;
    events.push({
      name: `${placed?.className ?? task.tessera}.${task.method}`,
      cat: task.error === undefined ? "task" : "task,failed",
      ph: "X",
      pid: pidOf(worker),
      tid: tidOf(worker, task.thread ?? placed?.thread),
      ts: start * US,
      dur: Math.max(0, task.ended - start) * US,
      args: {
        task: task.task,
        tessera: task.tessera,
        worker,
        submitted: task.submitted,
        started: task.started ?? null,
        ended: task.ended,
        argumentBytes: task.argumentBytes,
        resultBytes: task.resultBytes ?? null,
        ...(task.error === undefined ? {} : { error: task.error }),
      },
    });
  }
  for (const transfer of profile.transfers) {
    const pid = pidOf(transfer.to);
    events.push({
      name: `transfer ${transfer.route}`,
      cat: "transfer",
      ph: "i",
      s: "t",
      pid,
      tid: tidOf(transfer.to, undefined),
      ts: transfer.time * US,
      args: { from: transfer.from, to: transfer.to, bytes: transfer.bytes, route: transfer.route },
    });
  }
  for (const sample of profile.samples) {
    const pid = pidOf(sample.runtime);
    const ts = sample.time * US;
    events.push({ name: "cpu", ph: "C", pid, tid: 0, ts, args: { percent: sample.cpu } });
    events.push({ name: "memory", ph: "C", pid, tid: 0, ts, args: { rss: sample.rss, sharedMemory: sample.sharedMemory } });
    events.push({ name: "tasks", ph: "C", pid, tid: 0, ts, args: { queued: sample.tasksQueued, running: sample.tasksRunning } });
  }
  return { traceEvents: events, displayTimeUnit: "ms", otherData: { producer: "mosaic-bun", tasks: profile.tasks.length } };
}
