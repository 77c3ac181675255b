/** Waiting for the first results, cancelling the rest. Run: `bun examples/wait-and-cancel.ts`. */
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";

const Search = tessera(
  class Search {
    /** An async method reads its cancel signal between steps. */
    async explore(depth: number): Promise<number> {
      const signal = mosaic.signal();
      for (let step = 0; step < depth; step++) {
        if (signal.aborted) throw signal.reason;
        await Bun.sleep(10);
      }
      return depth;
    }
  },
);

await mosaic.run(async () => {
  const searches = [5, 1000, 1000].map((depth) => Search.remote().explore(depth));
  const { ready, pending } = await mosaic.wait(searches, { numReturns: 1 });
  console.log("first done:", await ready[0]!.result(), "still running:", pending.length);
  for (const task of pending) task.cancel();
  const outcomes = await Promise.allSettled(pending);
  console.log("cancelled:", outcomes.map((o) => (o.status === "rejected" ? o.reason.name : "done")).join(", "));
}, { numWorkers: 2 });
