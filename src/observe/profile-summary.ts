/**
 * `mosaic profile out.json`: a profile's tasks summarised per method (count,
 * total, mean, p50 and p99 time, bytes moved) and the busiest workers, as a
 * table for the terminal. Reads any trace written by the profiler.
 */
import { InvalidArgumentError } from "../errors.ts";
import type { TraceEvent, TraceFile } from "./trace.ts";
import { formatBytes } from "./_format.ts";

export interface MethodSummary {
  /** `Class.method`. */
  name: string;
  count: number;
  failed: number;
  /** Milliseconds. */
  total: number;
  mean: number;
  p50: number;
  p99: number;
  /** Argument and inline result bytes. */
  bytes: number;
}

export interface WorkerSummary {
  worker: string;
  tasks: number;
  /** Milliseconds its threads spent in tasks. */
  busy: number;
}

export interface ProfileSummary {
  tasks: number;
  methods: MethodSummary[];
  workers: WorkerSummary[];
  /** Bytes moved between runtimes, by route. */
  transfers: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The summary of a parsed trace; refuses what is not one. */
export function summarizeTrace(trace: unknown): ProfileSummary {
  const events = (trace as Partial<TraceFile> | null)?.traceEvents;
  if (!Array.isArray(events)) throw new InvalidArgumentError("not a Chrome trace: it has no traceEvents array (write one with --profile)");
  const names = new Map<number, string>();
  const times = new Map<string, { durations: number[]; failed: number; bytes: number }>();
  const workers = new Map<number, WorkerSummary>();
  const transfers: Record<string, number> = {};
  let tasks = 0;
  for (const event of events as TraceEvent[]) {
    if (event.ph === "M" && event.name === "process_name") names.set(event.pid, String(event.args?.name));
    if (event.ph === "i" && event.cat === "transfer") {
      const route = String(event.args?.route);
      transfers[route] = (transfers[route] ?? 0) + Number(event.args?.bytes ?? 0);
    }
    if (event.ph !== "X" || !event.cat?.startsWith("task")) continue;
    tasks++;
    const ms = (event.dur ?? 0) / 1000;
    let method = times.get(event.name);
    if (!method) times.set(event.name, (method = { durations: [], failed: 0, bytes: 0 }));
    method.durations.push(ms);
    if (event.cat.includes("failed")) method.failed++;
    method.bytes += Number(event.args?.argumentBytes ?? 0) + Number(event.args?.resultBytes ?? 0);
    let worker = workers.get(event.pid);
    if (!worker) workers.set(event.pid, (worker = { worker: String(event.args?.worker ?? event.pid), tasks: 0, busy: 0 }));
    worker.tasks++;
    worker.busy += ms;
  }
  const methods = [...times].map(([name, { durations, failed, bytes }]) => {
    const sorted = durations.toSorted((a, b) => a - b);
    const total = sorted.reduce((sum, one) => sum + one, 0);
    return { name, count: sorted.length, failed, total, mean: total / sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), bytes };
  });
  methods.sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
  const busiest = [...workers.values()].map((one) => ({ ...one, worker: names.get([...workers].find(([, w]) => w === one)![0]) ?? one.worker }));
  busiest.sort((a, b) => b.busy - a.busy || b.tasks - a.tasks);
  return { tasks, methods, workers: busiest, transfers };
}

const bytes = formatBytes;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The summary as the terminal shows it. */
export function formatSummary(summary: ProfileSummary, busiest = 5): string {
  const ms = (n: number) => n.toFixed(2);
  const methods = table(
    ["method", "count", "failed", "total ms", "mean ms", "p50 ms", "p99 ms", "bytes"],
    summary.methods.map((m) => [m.name, String(m.count), String(m.failed), ms(m.total), ms(m.mean), ms(m.p50), ms(m.p99), bytes(m.bytes)]),
  );
  const workers = table(
    ["worker", "tasks", "busy ms"],
    summary.workers.slice(0, busiest).map((w) => [w.worker, String(w.tasks), ms(w.busy)]),
  );
  const moved = Object.entries(summary.transfers).map(([route, n]) => `${route} ${bytes(n)}`).join(", ") || "none";
  return `${summary.tasks} tasks\n\n${methods}\n\nbusiest workers\n${workers}\n\ntransfers: ${moved}\n`;
}
