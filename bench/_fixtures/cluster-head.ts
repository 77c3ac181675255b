/**
 * The program cluster.bench.ts runs with `mosaic run` on test host h0, nodes
 * on h1 and h2, one worker each. Prints `bench <JSON>` lines:
 * - always: `ready`, milliseconds from the head process's start to a ready
 *   runtime (under `mosaic run` the runtime starts before the program's init());
 * - BENCH_MODE=latency: a no-op call with result to a tessera on h1, alternated
 *   with a raw Bun TCP ping to an echo server on h1 (BENCH_HOST:BENCH_ECHO_PORT);
 * - BENCH_MODE=bandwidth: 256 MiB arrays (BENCH_KINDS: smooth, random) made on
 *   h1 and taken as an argument on h2, worker to worker, seconds per move.
 */
import * as mosaic from "../../src/index.ts";
import { tessera, Tessera } from "../../src/index.ts";
import { alternate, keepingAffinity, ownCpus, setAffinity } from "../_lib.ts";
import { connectPing } from "../_raw.ts";

const SIZE = 256 * 2 ** 20;
const ROUNDS = 4;

@tessera
class Bench extends Tessera {
  make(bytes: number, kind: string): Uint8Array {
    const array = new Uint8Array(bytes);
    if (kind === "random") {
      for (let at = 0; at < bytes; at += 65536) crypto.getRandomValues(array.subarray(at, at + 65536));
    } else {
      // Smooth, quantised samples (as a simulated field): zstd takes most of it away.
      const values = new Float32Array(array.buffer);
      for (let i = 0; i < values.length; i++) values[i] = Math.round(Math.sin(i / 5000) * 1000) / 8;
    }
    return array;
  }

  take(array: Uint8Array): number {
    return array.byteLength;
  }

  noop(): number {
    return 1;
  }
}

const print = (value: Record<string, unknown>) => console.log(`bench ${JSON.stringify(value)}`);

const runtime = await mosaic.init();
// performance.now() counts from the process's start.
print({ ready: performance.now(), workers: runtime.workers.map((worker) => worker.uid) });
const mode = process.env.BENCH_MODE;
try {
  const [a, b] = runtime.workers.map((worker) => Bench.options({ worker: worker.uid }).remote());
  if (mode === "latency") {
    const { socket, ping } = await connectPing(Number(process.env.BENCH_ECHO_PORT));
    const samples = await alternate(200, 2000, ping, () => a!.noop().result());
    print({ latency: samples });
    // Like for like, as actors.bench.ts's `_cross_cpu` rows: unpinned, the raw ping's two processes tend to
    // share a CPU (one wake-up per hop) while the runtime's threads spread out. Here the head (and the ping's
    // client, this process) on one CPU, the tessera's worker and the echo peer (on h1) on the other.
    const cpus = ownCpus();
    const echoPid = Number(process.env.BENCH_ECHO_PID);
    const worker = runtime.getWorker(runtime.workers[0]!.uid);
    if (cpus.length >= 2 && echoPid > 0) {
      await keepingAffinity([process.pid, worker.pid!, echoPid], async () => {
        if (!(setAffinity(process.pid, String(cpus[0])) && setAffinity(worker.pid!, String(cpus[1])) && setAffinity(echoPid, String(cpus[1])))) return;
        print({ latencyCrossCpu: await alternate(200, 2000, ping, () => a!.noop().result()) });
      });
    }
    socket.end();
  } else if (mode === "bandwidth") {
    for (const kind of (process.env.BENCH_KINDS ?? "smooth").split(",")) {
      const seconds: number[] = [];
      for (let round = 0; round <= ROUNDS; round++) {
        const made = a!.make(SIZE, kind);
        await made;
        const t0 = performance.now();
        const taken = await b!.take(made).result();
        const elapsed = (performance.now() - t0) / 1000;
        if (taken !== SIZE) throw new Error(`took ${taken} bytes, not ${SIZE}`);
        made.release();
        // The first move pays for fresh receive memory on h2; the rest reuse it.
        if (round > 0) seconds.push(elapsed);
      }
      print({ kind, bytes: SIZE, seconds });
    }
  }
} finally {
  await mosaic.stop();
}
