/** Reading and writing a tessera's fields in call order; passing one field of a result on. Run: `bun examples/fields-and-outputs.ts`. */
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";

const Model = tessera(
  class Model {
    learningRate = 0.1;
    fit(values: number[]): { loss: number; steps: number } {
      return { loss: values.reduce((a, b) => a + b, 0) * this.learningRate, steps: values.length };
    }
    report(loss: number): string {
      return `loss ${loss.toFixed(2)}`;
    }
  },
);

await mosaic.run(async () => {
  const model = Model.remote();
  model.$set("learningRate", 0.5); // ordered with the calls around it
  const fit = model.fit([1, 2, 3]);
  console.log("rate now:", await model.$get("learningRate").result()); // 0.5
  console.log(await Model.remote().report(fit.outputs.loss).result()); // "loss 3.00": one field, passed worker to worker
}, { numWorkers: 2 });
