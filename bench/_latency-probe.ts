// Temporary probe (not part of bench): pinned latency only.
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";
import { alternate, median, setAffinity, ownCpus } from "./_lib.ts";
import { connectPing, spawnPeer, stopPeers } from "./_raw.ts";
import type { Subprocess } from "bun";
const Noop = tessera(class Noop { noop() { return 1; } });
const runtime = await mosaic.init({ numWorkers: 2, logLevel: "error" });
const children: Subprocess[] = [];
const { port } = await spawnPeer(children, "echo-server.ts");
const { ping, socket } = await connectPing(port);
const a = Noop.options({ worker: "worker:0:0" }).remote();
await a;
await alternate(2000, 0, ping, () => a.noop().result());
const pin = process.env.PIN !== "0";
if (pin) for (const pid of [process.pid, runtime.getWorker("worker:0:0").pid, children[0]!.pid]) setAffinity(pid, String(ownCpus()[0]));
if (process.env.CROSS) { setAffinity(process.pid, "0"); setAffinity(runtime.getWorker("worker:0:0").pid, "1"); setAffinity(children[0]!.pid, "1"); }
for (let r = 0; r < 3; r++) {
  const s = await alternate(300, 5000, ping, () => a.noop().result());
  const s2 = await alternate(300, 5000, ping, async () => { await a.noop(); });
  console.log(`result ${median(s.mosaic).toFixed(1)} raw ${median(s.raw).toFixed(1)} ratio ${(median(s.mosaic) / median(s.raw)).toFixed(2)} | await ${median(s2.mosaic).toFixed(1)} ratio ${(median(s2.mosaic) / median(s2.raw)).toFixed(2)}`);
}
socket.end(); stopPeers(children); await mosaic.stop();
