/**
 * CPU time per dependent call, by process and thread: `b.add(a.add(i))` with
 * a on worker:0:0 and b on worker:0:1 (as actors.bench.ts's "dependent" row),
 * N pairs per round, then the barrier; CPU time read from
 * /proc/PID/task/TID/schedstat (nanoseconds on CPU) before and after each
 * round. CPU time is what load on a shared machine disturbs least.
 *
 *   bun bench/dependent-cpu.ts [pairs=50000] [rounds=5]
 *
 * Prints one JSON line per round: wall rate, and µs of CPU per pair for each
 * process (head, worker a, worker b), split into its main thread, its tessera
 * threads and the rest (collector, runtime helpers).
 */
import { readdirSync, readFileSync } from "node:fs";
import * as mosaic from "../src/index.ts";
import { tessera, type TaskProxy } from "../src/index.ts";

const Noop = tessera(
  class Noop {
    add(x: number) {
      return x + 1;
    }
  },
);

const pairs = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 5);
const runtime = await mosaic.init({ numWorkers: 2, logLevel: "error" });

type Sample = Map<number, { name: string; ns: number }>;

function threads(pid: number): Sample {
  const sample: Sample = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      sample.set(Number(tid), { name, ns });
    } catch {} // ended meanwhile
  }
  return sample;
}

/** µs per pair: main thread (tid = pid), tessera threads (named by Bun as workers), the rest. */
function split(pid: number, before: Sample, after: Sample, count: number): Record<string, number> {
  const out: Record<string, number> = { main: 0, threads: 0, other: 0 };
  for (const [tid, { name, ns }] of after) {
    const delta = ns - (before.get(tid)?.ns ?? 0);
    const key = tid === pid ? "main" : /^(WebWorker|Worker)/i.test(name) ? "threads" : "other";
    out[key]! += delta;
  }
  for (const key in out) out[key] = Math.round((out[key]! / 1000 / count) * 100) / 100;
  return out;
}

try {
  const a = Noop.options({ worker: "worker:0:0" }).remote();
  const b = Noop.options({ worker: "worker:0:1" }).remote();
  await Promise.all([a, b]);
  const check = await b.add(a.add(41)).result();
  if (check !== 43) throw new Error(`b.add(a.add(41)) returned ${check}`);
  const pids = { head: process.pid, a: runtime.getWorker("worker:0:0").pid, b: runtime.getWorker("worker:0:1").pid };
  for (let r = 0; r <= rounds; r++) {
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, threads(pid)]));
    const tasks: TaskProxy<number>[] = new Array(2 * pairs);
    const t0 = performance.now();
    for (let i = 0; i < pairs; i++) {
      const upstream = a.add(i);
      tasks[2 * i] = upstream;
      tasks[2 * i + 1] = b.add(upstream);
    }
    await runtime.barrier(60_000);
    const ms = performance.now() - t0;
    const after = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, threads(pid)]));
    const failed = tasks.filter((task) => task.state !== "done").length;
    for (const task of tasks) task.release();
    if (r === 0 && process.env.NAMES) console.log(JSON.stringify([...after.b!.values()].map((t) => t.name)));
    if (r === 0) continue; // warm-up
    const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, split(pid, before[k]!, after[k]!, pairs)]));
    console.log(JSON.stringify({ round: r, pairs, per_s: Math.round(pairs / (ms / 1000)), failed, us_per_pair: cpu }));
  }
} finally {
  await mosaic.stop();
}
