/**
 * What observing a run costs per call: the same calls on a local runtime of
 * 1 node and 2 workers with observation off, with the profiler on (`profile`:
 * every call sends a task.started event up and is recorded), and with the
 * dashboard on (it counts task events), in the same run, alternating rounds
 * so that all three see the same machine state:
 *
 * 1. sequential `await a.noop()` round trips (median latency);
 * 2. pipelined calls to two tesserae on different workers, then barrier()
 *    (calls/s); the cost per call is 1/rate(on) - 1/rate(off).
 *
 * This file is also the program the runtime's children run: the tessera class
 * is declared before the guard's init(), which hands them over.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as mosaic from "../src/index.ts";
import { tessera, type InitOptions } from "../src/index.ts";
import { emit, exitGuard, median, note, round } from "./_lib.ts";

const Noop = tessera(
  class Noop {
    noop() {
      return 1;
    }
  },
);

if (mosaic.role !== "head") await mosaic.init();

const BENCH = "observe";
const BASE: InitOptions = { numNodes: 1, numWorkers: 2, logLevel: "error", workspace: "" };
const ROUNDS = 3;
const LATENCY_WARMUP = 500;
const LATENCY_COUNT = 2000;
const PIPELINED_WARMUP = 20_000;
const PIPELINED_CALLS = 60_000;

const dir = mkdtempSync(join(tmpdir(), "mosaic-observe-bench-"));
const MODES: Record<string, InitOptions> = { off: {}, profile: { profile: join(dir, "profile.json") }, dashboard: { dashboard: 0 } };

interface RoundResult {
  latencyUs: number;
  callsPerSecond: number;
}

async function pipelined(pair: ReturnType<typeof Noop.remote>[], calls: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < calls; i++) pair[i & 1]!.noop();
  const report = await mosaic.runtime().barrier();
  const seconds = (performance.now() - start) / 1000;
  if (report.failed.length > 0) throw new Error(`${report.failed.length} calls failed`);
  return calls / seconds;
}

async function measure(options: InitOptions): Promise<RoundResult> {
  await mosaic.init({ ...BASE, ...options });
  try {
    const pair = [Noop.remote(), Noop.remote()];
    await Promise.all(pair);
    const [a] = pair;
    for (let i = 0; i < LATENCY_WARMUP; i++) await a!.noop();
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_COUNT; i++) {
      const t0 = performance.now();
      await a!.noop();
      samples.push((performance.now() - t0) * 1000);
    }
    await pipelined(pair, PIPELINED_WARMUP);
    return { latencyUs: median(samples), callsPerSecond: await pipelined(pair, PIPELINED_CALLS) };
  } finally {
    await mosaic.stop();
  }
}

try {
  const results: Record<string, RoundResult[]> = Object.fromEntries(Object.keys(MODES).map((mode) => [mode, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mode, options] of Object.entries(MODES)) results[mode]!.push(await measure(options));
  }
  const latency = (mode: string) => median(results[mode]!.map((r) => r.latencyUs));
  const rate = (mode: string) => median(results[mode]!.map((r) => r.callsPerSecond));
  for (const mode of Object.keys(MODES)) {
    const on = mode !== "off";
    emit({
      bench: BENCH,
      metric: `call_latency_${mode}`,
      value: round(latency(mode), 1),
      unit: "us (median, await a.noop())",
      ...(on ? { baseline: round(latency("off"), 1), ratio: round(latency(mode) / latency("off"), 3), extra_us: round(latency(mode) - latency("off"), 1) } : {}),
    });
    emit({
      bench: BENCH,
      metric: `pipelined_${mode}`,
      value: Math.round(rate(mode)),
      unit: "calls/s (median of rounds)",
      ...(on ? { baseline: Math.round(rate("off")), ratio: round(rate(mode) / rate("off"), 3), cost_per_call_us: round(1e6 / rate(mode) - 1e6 / rate("off"), 2) } : {}),
    });
  }
  note(`${BENCH}: per-round latency (us) ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([m, r]) => [m, r.map((x) => round(x.latencyUs, 1))])))}`);
  note(`${BENCH}: per-round calls/s ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([m, r]) => [m, r.map((x) => Math.round(x.callsPerSecond))])))}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  exitGuard(BENCH);
}
