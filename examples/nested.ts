/** Tesserae that use the runtime: a coordinator creates workers, hands them a shared table, and collects. Run: `bun examples/nested.ts`. */
import * as mosaic from "../src/index.ts";
import { tessera, type TesseraProxy } from "../src/index.ts";

const Scaler = tessera(
  class Scaler {
    constructor(private factor: number) {}
    scale(values: Float64Array): number {
      return values.reduce((total, value) => total + value * this.factor, 0);
    }
  },
);

const Coordinator = tessera(
  class Coordinator {
    async run(size: number): Promise<{ table: mosaic.ObjectRef<Float64Array>; totals: number[]; helper: TesseraProxy<InstanceType<typeof Scaler>> }> {
      // Stored on this worker, not shipped to the head; the Scalers read it from here.
      const table = await mosaic.put(Float64Array.from({ length: size }, (_, i) => i));
      const scalers = [Scaler.remote(1), Scaler.remote(2)];
      const totals = await Promise.all(scalers.map((scaler) => scaler.scale(table).result()));
      return { table, totals, helper: scalers[1]! }; // a proxy goes back in an object (a bare one would be awaited)
    }
  },
);

await mosaic.run(async () => {
  const { table, totals, helper } = await Coordinator.remote().run(100).result();
  console.log("totals:", totals); // [ 4950, 9900 ]
  console.log("table held by a worker:", table.holder.startsWith("worker:"), (await mosaic.get(table)).length); // true 100
  console.log("helper from the head:", await helper.scale(new Float64Array([1, 2])).result()); // 6
  await mosaic.drop(table);
}, { numWorkers: 2 });
