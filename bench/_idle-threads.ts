/**
 * Who wakes in an idle tree, and why: starts a runtime of 2 workers as the
 * runtime bench does (samples on, at their default rate), lets it settle, then
 * prints for every process and every thread of it the run time (schedstat,
 * ns) and the wake-ups (voluntary context switches) over a
 * window. Not a benchmark (run.ts does not run it): a tool to find the cost
 * before changing anything.
 *
 *   bun bench/_idle-threads.ts [window seconds, default 30]
 */
import { readdirSync, readFileSync } from "node:fs";
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";

/** IDLE_TESSERAE=1: one tessera per worker, called once, so that each worker has an idle tessera thread. */
const Noop = tessera(
  class Noop {
    noop() {
      return 1;
    }
  },
);

if (mosaic.role !== "head") await mosaic.init();

const WINDOW_S = Number(process.argv[2] ?? 30);
const SETTLE_MS = 5000;

interface ThreadFigures {
  name: string;
  ns: number;
  switches: number;
}

function threads(pid: number): Map<string, ThreadFigures> {
  const out = new Map<string, ThreadFigures>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const dir = `/proc/${pid}/task/${tid}`;
      const name = readFileSync(`${dir}/comm`, "utf8").trim();
      const ns = Number(readFileSync(`${dir}/schedstat`, "utf8").split(" ")[0]);
      const status = readFileSync(`${dir}/status`, "utf8");
      // Voluntary only: a thread that sleeps and is woken. Involuntary switches count preemptions (other load).
      const switches = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]);
      out.set(tid, { name, ns, switches });
    } catch {} // a thread that ended meanwhile
  }
  return out;
}

function memory(pid: number): string {
  const field = (file: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/${file}`, "utf8"))?.[1]) / 1024;
  const mib = (n: number) => n.toFixed(1);
  return `MiB: RSS ${mib(field("status", "VmRSS"))} (anon ${mib(field("status", "RssAnon"))}, file ${mib(field("status", "RssFile"))}), PSS ${mib(field("smaps_rollup", "Pss"))}`;
}

const runtime = await mosaic.init({ numWorkers: 2, logLevel: "error", monitorInterval: Number(process.env.IDLE_MONITOR_INTERVAL ?? 1000) });
try {
  await Promise.all(runtime.workers.map((worker) => worker.ping(5000)));
  if (process.env.IDLE_TESSERAE) {
    const held = runtime.workers.map((worker) => Noop.options({ worker: worker.uid }).remote());
    await Promise.all(held.map((proxy) => proxy.noop().result()));
    (globalThis as Record<string, unknown>).held = held;
  }
  await Bun.sleep(SETTLE_MS);
  const names = new Map<number, string>([[process.pid, "head"]]);
  if (runtime.monitor) names.set(runtime.monitor.pid, "monitor");
  for (const node of runtime.nodes) names.set(node.pid, node.uid);
  for (const worker of runtime.workers) names.set(worker.pid, worker.uid);
  console.error(`pids: ${[...names].map(([pid, name]) => `${name}=${pid}`).join(" ")}`);
  const before = new Map([...names.keys()].map((pid) => [pid, threads(pid)]));
  await Bun.sleep(WINDOW_S * 1000);
  const after = new Map([...names.keys()].map((pid) => [pid, threads(pid)]));
  let total = 0;
  for (const [pid, name] of names) {
    const rows: string[] = [];
    let processNs = 0;
    let processSwitches = 0;
    for (const [tid, end] of after.get(pid)!) {
      const start = before.get(pid)!.get(tid) ?? { name: end.name, ns: 0, switches: 0 };
      const ns = end.ns - start.ns;
      const switches = end.switches - start.switches;
      processNs += ns;
      processSwitches += switches;
      if (ns > 0 || switches > 0) rows.push(`    ${end.name.padEnd(16)} ${tid.padStart(7)}  ${((100 * ns) / 1e9 / WINDOW_S).toFixed(3).padStart(7)} %  ${(switches / WINDOW_S).toFixed(2).padStart(6)} wake-ups/s`);
    }
    total += processNs;
    console.log(`${name.padEnd(12)} pid ${pid}: ${((100 * processNs) / 1e9 / WINDOW_S).toFixed(3)} % of a core, ${(processSwitches / WINDOW_S).toFixed(2)} wake-ups/s; ${memory(pid)}`);
    for (const row of rows) console.log(row);
  }
  console.log(`total: ${((100 * total) / 1e9 / WINDOW_S).toFixed(3)} % of a core over ${WINDOW_S} s`);
} finally {
  await mosaic.stop();
}
