/**
 * The Mosaic tutorial (the seed notebook), in TypeScript. Run: `bun run demo`.
 *
 * Every process of the runtime runs this same program: workers (and their
 * tessera threads) run it up to `mosaic.interactive("on")`, where they hand
 * over to the runtime. So: declare tessera classes at module level, before that
 * call, and keep side effects for the head (after it, or behind
 * `mosaic.role === "head"`).
 */
import * as mosaic from "../src/index.ts";
import { tessera, Tessera } from "../src/index.ts";

const SLEEP = Number(process.env.TUTORIAL_SLEEP_MS ?? 1000);

@tessera
class Solver1 extends Tessera {
  data: Float32Array;
  constructor(data: Float32Array) {
    super();
    this.data = data;
  }

  solve(data: Float32Array): Float32Array {
    console.log("Solve 1");
    this.data = this.data.map((value, i) => value + data[i]!);
    Bun.sleepSync(SLEEP);
    console.log("Done 1");
    return this.data;
  }

  solveMore(): void {
    console.log("Solve More 1");
    Bun.sleepSync(SLEEP / 2);
    console.log("Done More 1");
  }
}

@tessera
class Solver2 extends Tessera {
  data: Float32Array | number = 0;

  solve(data: Float32Array): Float32Array {
    console.log("Solve 2");
    this.data = data.map((value) => value * 2);
    Bun.sleepSync(SLEEP);
    console.log("Done 2");
    return this.data;
  }

  solveMore(): void {
    console.log("Solve More 2");
    Bun.sleepSync(SLEEP / 2);
    console.log("Done More 2");
  }
}

await mosaic.interactive("on", { numWorkers: 2 });

/** A short heading for each step, so the output reads as the tutorial's story. */
function step(title: string): void {
  console.log(`\n== ${title}`);
}

step("1. Two tesserae are created on the workers (their proxies come back at once)");
// These objects will be created remotely
const array = new Float32Array(1024 * 16);
const solver1 = Solver1.remote(array);
const solver2 = Solver2.remote();
console.log(solver1);

step("2. Calls on two tesserae run in parallel: each returns a task proxy at once");
// These will run in parallel: the calls return at once, as task proxies
let task1 = solver1.solve(array);
let task2 = solver2.solve(array);
console.log(task1);

step("3. `await task` waits until it has run; the result stays on its worker");
// Wait until the remote tasks are finished
await task1;
await task2;
console.log(task2);

step("4. `task.result()` fetches the value");
// The results stay in the remote worker until we request them
const result1 = await task1.result();
const result2 = await task2.result();
console.log(result1.length, result2.length);

step("5. Implicit dependency: a task passed as an argument runs first, its result goes worker to worker");
// These will wait for each other: solver2 takes task1's result as its input
task1 = solver1.solve(array);
task2 = solver2.solve(task1);
console.log(task1);
await task2;
console.log(task2);

step("6. Explicit dependency: outputs.done orders calls that pass no value");
// Explicit dependency: solveMore takes no argument, outputs.done only orders the calls
const more1 = solver1.solveMore();
const more2 = solver2.solveMore(more1.outputs.done);
console.log(more1);
await more2;
console.log(more2);

await mosaic.interactive("off");

step("Next");
console.log("Log files of this run are in ./mosaic-workspace/ (option workspace).");
console.log("Watch a run live: bun src/cli/main.ts run --dashboard examples/tutorial.ts (open the address the head prints: CPU, memory, tasks, errors, logs).");
console.log("Record a timeline: bun src/cli/main.ts run --profile out.json examples/tutorial.ts, then bun src/cli/main.ts profile out.json or open it at https://ui.perfetto.dev.");
