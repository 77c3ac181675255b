/** Stateless remote functions, as Ray's tasks. Run: `bun examples/remote-functions.ts`. */
import * as mosaic from "../src/index.ts";

// At module level: every process registers it.
const simulate = mosaic.remote(function simulate(x: Float64Array, steps: number): number {
  let total = 0;
  for (let s = 0; s < steps; s++) for (const v of x) total += v;
  return total;
});

await mosaic.run(async () => {
  const data = new Float64Array(1000).fill(0.5);
  const tasks = Array.from({ length: 100 }, (_, i) => simulate(data, i)); // any free worker thread
  const results = await Promise.all(tasks.map((task) => task.result()));
  console.log("sum of 100 simulations:", results.reduce((a, b) => a + b, 0)); // 2475000
  console.log("chained:", await simulate(data, simulate(new Float64Array([1, 1]), 1)).result()); // a task as an argument: 2 steps, 1000
}, { numWorkers: 2 });
