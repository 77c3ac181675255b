/**
 * A tessera thread reading a 64 MiB object held by another worker: through
 * its own `mosaic.get(ref)` (relayed by the head today: the bytes pass through
 * the head), next to the same object passed as an argument (a dependency the
 * thread's worker fetches worker to worker). A fresh object each round (a
 * dependency read is cached on the reader's worker); rounds alternate. Prints
 * one JSON line with the medians.
 *
 * Also the program of the runtime's children (classes before init()).
 */
import * as mosaic from "../src/index.ts";
import { type ObjectRef, tessera } from "../src/index.ts";
import { emit, round } from "./_lib.ts";

const BYTES = 64 * 2 ** 20;
const ROUNDS = Number(process.env.ROUNDS ?? 7);

export const Reader = tessera(
  class Reader {
    /** Reads the object named in the value it was given (its own get: the relay). */
    async viaGet(box: { ref: ObjectRef<Float64Array> }): Promise<number> {
      return (await mosaic.get(box.ref)).length;
    }

    /** The object as an argument: fetched by this worker before the call. */
    viaArgument(values: Float64Array): number {
      return values.length;
    }
  },
);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

await mosaic.init({ numNodes: 1, numWorkers: 2, logLevel: "error", workspace: "" });
const reader = Reader.options({ worker: "worker:0:0" }).remote();
await reader;
const relay: number[] = [];
const dependency: number[] = [];
const fresh = () => mosaic.put(new Float64Array(BYTES / 8).fill(1), { worker: "worker:0:1" });
for (let round = 0; round < ROUNDS; round++) {
  const a = await fresh();
  const box = await mosaic.put({ ref: a }, { worker: "worker:0:0" });
  await reader.viaArgument(new Float64Array(0)).result(); // the reader is idle
  let start = performance.now();
  await reader.viaGet(box).result();
  relay.push(performance.now() - start);
  await mosaic.drop(a);
  await mosaic.drop(box);
  const b = await fresh();
  start = performance.now();
  await reader.viaArgument(b).result();
  dependency.push(performance.now() - start);
  await mosaic.drop(b);
}
emit({
  bench: "nested-read",
  metric: "nested_read_64mib_relay_ms",
  value: round(median(relay), 1),
  unit: "ms",
  baseline: round(median(dependency), 1),
  ratio: round(median(relay) / median(dependency)),
  baseline_kind: "the same 64 MiB passed as an argument (fetched worker to worker), same run",
  relay_gb_s: round(BYTES / median(relay) / 1e6),
  dependency_gb_s: round(BYTES / median(dependency) / 1e6),
  rounds: ROUNDS,
});
await mosaic.stop();
