/**
 * The actor API beyond single method calls, each next to its baseline in the
 * same run (1 node, 2 workers):
 *
 * 1. remote function calls/s (`square(i)`, pipelined, then awaited), next to
 *    the same number of tessera method calls spread over two tesserae;
 * 2. a broadcast over a tessera array of 16 (`cells.add(1)`, results
 *    fetched), next to 16 single calls on 16 separate tesserae;
 * 3. calls on restartable tesserae (`maxRestarts`, `maxRetries`: arguments
 *    kept, each completion reported before the next call starts) next to the
 *    same calls on plain ones: what fault tolerance costs per call.
 *
 * Rounds alternate with their baseline; the median of the rounds is
 * reported. This file is also the program the runtime's children run.
 */
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";
import { emit, median, note, round } from "./_lib.ts";

const Cell = tessera(
  class Cell {
    add(x: number): number {
      return x + 1;
    }
  },
);

const square = mosaic.remote(function square(x: number): number {
  return x * x;
});

const BENCH = "api";
const CALLS = 20_000;
const ROUNDS = 5;
const BROADCASTS = 200;

const runtime = await mosaic.init({ numWorkers: 2, logLevel: "error" });

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

// 1. Remote functions against tessera calls.
const pair = [Cell.remote(), Cell.remote()];
await Promise.all(pair);
const functionRuns: number[] = [];
const methodRuns: number[] = [];
await Promise.all(Array.from({ length: 1000 }, (_, i) => square(i))); // hosts made, warm
for (let round_ = 0; round_ < ROUNDS; round_++) {
  functionRuns.push(await timed(() => Promise.all(Array.from({ length: CALLS }, (_, i) => square(i)))));
  methodRuns.push(await timed(() => Promise.all(Array.from({ length: CALLS }, (_, i) => pair[i % 2]!.add(i)))));
}
const functionRate = CALLS / (median(functionRuns) / 1000);
const methodRate = CALLS / (median(methodRuns) / 1000);
emit({ bench: BENCH, metric: "remote_function_calls_per_s", value: Math.round(functionRate), unit: "calls/s", baseline: Math.round(methodRate), ratio: round(functionRate / methodRate), baseline_kind: "tessera method calls on 2 tesserae, same count, same run", calls: CALLS });

// 2. A broadcast over 16 against 16 single calls.
const cells = Cell.array(16);
const singles = Array.from({ length: 16 }, () => Cell.remote());
await Promise.all([cells, ...singles]);
const broadcastRuns: number[] = [];
const singleRuns: number[] = [];
for (let round_ = 0; round_ < ROUNDS; round_++) {
  broadcastRuns.push(await timed(async () => {
    for (let i = 0; i < BROADCASTS; i++) await cells.add(i).result();
  }));
  singleRuns.push(await timed(async () => {
    for (let i = 0; i < BROADCASTS; i++) await Promise.all(singles.map((cell) => cell.add(i).result()));
  }));
}
const broadcastUs = (median(broadcastRuns) * 1000) / BROADCASTS;
const singleUs = (median(singleRuns) * 1000) / BROADCASTS;
emit({ bench: BENCH, metric: "broadcast_16_us", value: round(broadcastUs, 1), unit: "us", baseline: round(singleUs, 1), ratio: round(broadcastUs / singleUs), baseline_kind: "16 single calls on 16 tesserae, results fetched, same run" });
note(`api: remote functions ${Math.round(functionRate)}/s vs methods ${Math.round(methodRate)}/s; broadcast over 16 ${round(broadcastUs, 1)} us vs 16 singles ${round(singleUs, 1)} us`);

// 3. Restartable tesserae against plain ones.
const restartable = [Cell.options({ maxRestarts: -1, maxRetries: 1 }).remote(), Cell.options({ maxRestarts: -1, maxRetries: 1 }).remote()];
await Promise.all(restartable);
const restartableRuns: number[] = [];
const plainRuns: number[] = [];
for (let round_ = 0; round_ < ROUNDS; round_++) {
  restartableRuns.push(await timed(() => Promise.all(Array.from({ length: CALLS }, (_, i) => restartable[i % 2]!.add(i)))));
  plainRuns.push(await timed(() => Promise.all(Array.from({ length: CALLS }, (_, i) => pair[i % 2]!.add(i)))));
}
const restartableRate = CALLS / (median(restartableRuns) / 1000);
const plainRate = CALLS / (median(plainRuns) / 1000);
emit({ bench: BENCH, metric: "restartable_calls_per_s", value: Math.round(restartableRate), unit: "calls/s", baseline: Math.round(plainRate), ratio: round(restartableRate / plainRate), baseline_kind: "the same calls on plain tesserae, same run", calls: CALLS });

await mosaic.stop();
void runtime;
