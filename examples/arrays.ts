/** Tessera arrays: one class, many instances over the workers, broadcast calls. Run: `bun examples/arrays.ts`. */
import * as mosaic from "../src/index.ts";
import { each, tessera } from "../src/index.ts";

const Shot = tessera(
  class Shot {
    constructor(readonly source: number) {}
    forward(scale: number): number {
      return this.source * scale;
    }
  },
);

await mosaic.run(async () => {
  const shots = Shot.array(4, each([10, 20, 30, 40])); // one constructor argument per element
  console.log("broadcast:", await shots.forward(2).result()); // [20, 40, 60, 80], in index order
  console.log("per element:", await shots.forward(each([1, 2, 3, 4])).result()); // [10, 40, 90, 160]
  console.log("element 2:", await shots[2]!.forward(1).result()); // 30
  console.log("on worker:0:0:", shots.onWorker("worker:0:0").length, "of", shots.length);
}, { numWorkers: 2 });
