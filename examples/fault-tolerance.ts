/** Restarts and retries: a tessera that survives its worker's death. Run: `bun examples/fault-tolerance.ts`. */
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";

const Counter = tessera(
  class Counter {
    count: number;
    constructor(start: number) {
      this.count = start; // a restart runs the constructor again: state is rebuilt from here
    }
    add(k: number): number {
      return (this.count += k);
    }
    pid(): number {
      return process.pid;
    }
  },
);

await mosaic.run(async (runtime) => {
  const counter = Counter.options({ maxRestarts: 2, maxRetries: 1 }).remote(100);
  const pid = await counter.pid().result();
  console.log("before:", await counter.add(1).result(), "on", counter.runtime);
  process.kill(pid, "SIGKILL"); // the worker dies
  console.log("after:", await counter.add(1).result(), "on", counter.runtime, "(made again: 100 + 1)");
  const { failedCount } = await runtime.barrier();
  console.log("failed since the last barrier:", failedCount);
}, { numWorkers: 2 });
