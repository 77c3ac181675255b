/**
 * The program cluster.bench.ts runs with `mosaic run` on test host h0, nodes
 * on h1 and h2, one worker each. Prints `bench <JSON>` lines:
 * - always: `ready`, milliseconds from the head process's start to a ready
 *   runtime (under `mosaic run` the runtime starts before the program's init());
 * - BENCH_MODE=latency: a no-op call with result to a tessera on h1, alternated
 *   with a raw Bun TCP ping to an echo server on h1 (BENCH_HOST:BENCH_ECHO_PORT);
 * - BENCH_MODE=bandwidth: 256 MiB arrays (BENCH_KINDS: smooth, random) made on
 *   h1 and taken as an argument on h2, worker to worker, seconds per move;
 *   with BENCH_SINK (host:port of a data-sink.ts on h2), each move alternates
 *   with a raw Bun TCP send of 256 MiB from the same worker thread on h1 to
 *   that sink (the baseline, like for like: same hosts, same sending thread,
 *   same moment's load), in ABBA order.
 */
import * as mosaic from "../../src/index.ts";
import { tessera, Tessera } from "../../src/index.ts";
import { alternate, cpuNanos, keepingAffinity, minorFaults, ownCpus, setAffinity } from "../_lib.ts";
import { connectPing, connectWithWriter, listenEcho, type SocketWriter } from "../_raw.ts";

const SIZE = 256 * 2 ** 20;
const ROUNDS = 6;
/** Alternated pairs before each latency row is measured (200 left the first row's calls colder than the later rows'). */
const LATENCY_WARMUP = 2000;

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

  #echo: { port: number; stop(closeActiveConnections?: boolean): void } | undefined;

  /** Starts a raw Bun TCP echo listener on `host` in this tessera's thread (the ping's far end, in the thread a call runs on); returns its port. */
  echo(host: string): number {
    this.#echo ??= listenEcho(host);
    return this.#echo.port;
  }

  #raws = new Map<string, { writer: SocketWriter; answered?: () => void; payload: Uint8Array }>();

  /** Seconds to send `bytes` over one raw Bun TCP connection to the data sink at `host`:`port` until it answers. */
  async rawSend(host: string, port: number, bytes: number): Promise<number> {
    const key = `${host}:${port}`;
    if (!this.#raws.has(key)) {
      const { writer } = await connectWithWriter(port, () => this.#raws.get(key)?.answered?.(), host);
      this.#raws.set(key, { writer, payload: new Uint8Array(bytes).fill(7) });
    }
    const state = this.#raws.get(key)!;
    const header = new Uint8Array(8);
    new DataView(header.buffer).setUint32(0, bytes, true);
    const { promise, resolve } = Promise.withResolvers<void>();
    state.answered = resolve;
    const start = performance.now();
    state.writer.write(header);
    state.writer.write(state.payload.subarray(0, bytes));
    await promise;
    return (performance.now() - start) / 1000;
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
    const samples = await alternate(LATENCY_WARMUP, 2000, ping, () => a!.noop().result());
    print({ latency: samples });
    // Like for like, unpinned: the ping's far end is an echo listener in the tessera's own thread on h1, so the
    // ping and the call wake the same two threads (this process's main thread, that worker thread) and meet
    // the same scheduling; what is left between them is the runtime's own work.
    const inThread = await connectPing(await a!.echo(process.env.BENCH_HOST!).result());
    print({ latencySameThreads: await alternate(LATENCY_WARMUP, 2000, inThread.ping, () => a!.noop().result()) });
    inThread.socket.end();
    // Like for like, as actors.bench.ts's `_cross_cpu` rows: unpinned, the raw ping's two processes tend to
    // share a CPU (one wake-up per hop) while the runtime's threads spread out. Here the head (and the ping's
    // client, this process) on one CPU, the tessera's worker and the echo peer (on h1) on the other.
    const cpus = ownCpus();
    const echoPid = Number(process.env.BENCH_ECHO_PID);
    const worker = runtime.getWorker(runtime.workers[0]!.uid);
    if (cpus.length >= 2 && echoPid > 0) {
      await keepingAffinity([process.pid, worker.pid!, echoPid], async () => {
        if (!(setAffinity(process.pid, String(cpus[0])) && setAffinity(worker.pid!, String(cpus[1])) && setAffinity(echoPid, String(cpus[1])))) return;
        print({ latencyCrossCpu: await alternate(LATENCY_WARMUP, 2000, ping, () => a!.noop().result()) });
      });
    }
    socket.end();
  } else if (mode === "bandwidth") {
    const [sinkHost, sinkPort] = (process.env.BENCH_SINK ?? "").split(":");
    const rawSend = async () => await a!.rawSend(sinkHost!, Number(sinkPort), SIZE).result();
    // A second sink that collects its young garbage as the runtime's readers do: shown beside, not the goal's baseline.
    const [collectingHost, collectingPort] = (process.env.BENCH_SINK_COLLECTING ?? "").split(":");
    const rawCollecting = collectingPort ? async () => await a!.rawSend(collectingHost!, Number(collectingPort), SIZE).result() : undefined;
    for (const kind of (process.env.BENCH_KINDS ?? "smooth").split(",")) {
      const seconds: number[] = [];
      const raw: number[] = [];
      const rawCollected: number[] = [];
      // Each pair of a round follows the same making of the array (a long computation on h1's thread for the
      // smooth kind): the raw send and the move meet the same aftermath of it, in ABBA order.
      // Wrapped: an async function returning a task would resolve to its value.
      const make = async () => {
        const made = a!.make(SIZE, kind);
        await made;
        return { made };
      };
      // The receiving worker's page faults and CPU per move (its host shares this machine's pid space).
      const receiver = runtime.getWorker(runtime.workers[1]!.uid).pid!;
      const faults: number[] = [];
      const cpuMs: number[] = [];
      const move = async ({ made }: { made: ReturnType<NonNullable<typeof a>["make"]> }) => {
        const f0 = minorFaults(receiver)!;
        const c0 = cpuNanos(receiver)!;
        const t0 = performance.now();
        const taken = await b!.take(made).result();
        const elapsed = (performance.now() - t0) / 1000;
        faults.push(minorFaults(receiver)! - f0);
        cpuMs.push((cpuNanos(receiver)! - c0) / 1e6);
        if (taken !== SIZE) throw new Error(`took ${taken} bytes, not ${SIZE}`);
        made.release();
        return elapsed;
      };
      // The first of each pays for fresh memory (receive buffers on h2, the send buffer on h1): not counted.
      await move(await make());
      faults.length = cpuMs.length = 0;
      if (sinkPort) await rawSend();
      if (rawCollecting) await rawCollecting();
      for (let round = 0; round < ROUNDS; round++) {
        const made = await make();
        if (sinkPort && round % 2 === 1) raw.push(await rawSend());
        seconds.push(await move(made));
        if (sinkPort && round % 2 === 0) raw.push(await rawSend());
        if (rawCollecting) rawCollected.push(await rawCollecting());
      }
      print({ kind, bytes: SIZE, seconds, ...(sinkPort ? { raw } : {}), ...(rawCollecting ? { rawCollected } : {}), faults, cpuMs });
    }
  }
} finally {
  await mosaic.stop();
}
