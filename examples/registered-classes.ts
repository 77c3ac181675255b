/** Instances of your own classes as arguments and results. Run: `bun examples/registered-classes.ts`. */
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";

// Registered at module level in every process; instances arrive as Points (their constructor is not run on arrival).
const Point = mosaic.register(
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
    norm(): number {
      return Math.hypot(this.x, this.y);
    }
  },
);

const Mover = tessera(
  class Mover {
    move(points: InstanceType<typeof Point>[], dx: number) {
      return points.map((p) => new Point(p.x + dx, p.y));
    }
  },
);

await mosaic.run(async () => {
  const moved = await Mover.remote().move([new Point(3, 4), new Point(0, 1)], 1).result();
  console.log("moved:", moved.map((p) => `${p.constructor.name}(${p.x}, ${p.y}) norm ${p.norm().toFixed(2)}`).join("; "));
}, { numWorkers: 2 });
