import { readdirSync, readFileSync } from "node:fs";
import * as mosaic from "./src/index.ts";
const MiB = 2 ** 20;
const Maker = mosaic.tessera(class Maker { make(n: number) { return new Float32Array(n).fill(3); } });
const segs = () => readdirSync("/dev/shm").filter((f) => f.startsWith("mosaic-") && !f.includes("-array-"));
const headMaps = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("/dev/shm/mosaic-")).length;
await mosaic.run(async (rt) => {
  const before = new Set(segs());
  await (async () => {
    const m = Maker.remote();
    const t = m.make((16 * MiB) / 4);
    const v = await t.result();
    console.log("got", v.length, v[5], "new segs", segs().filter((f) => !before.has(f)).length, "head maps", headMaps());
    t.release();
    m.release();
  })();
  for (let i = 0; i < 6; i++) { Bun.gc(true); await Bun.sleep(200); }
  console.log("after release+gc: new segs", segs().filter((f) => !before.has(f)), "head maps", headMaps());
  const st = await rt.getWorker("worker:0:0").status().catch(() => undefined);
  console.log("worker status threads", JSON.stringify((st as any)?.worker?.threads ?? (st as any)?.threads)?.slice(0, 200));
}, { numWorkers: 1, logLevel: "error" });
