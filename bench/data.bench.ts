/**
 * Data-transfer benchmarks on a local runtime of 1 node and 2 workers:
 * Float32Arrays of 1, 16 and 256 MiB moved by the runtime, in GB/s
 * (bytes / seconds / 1e9, median of a few repetitions), each next to
 * baselines measured in the same run, alternating with them so that both see
 * the same machine state:
 *
 * - head -> worker: the array as an argument, `await summer.sum(array).result()`
 *   (the method reads every 4096th element and returns a number);
 * - worker -> head: `await maker.get().result()`, where `get()` returns an array
 *   the tessera prepared once (`prepare(n)`): timed from the call, so it
 *   includes the one copy of the result into its thread's pooled segment;
 * - both change one element of their array before each transfer, so that each
 *   is copied (an array sent again unchanged shares the segment it was copied
 *   into: usage.bench measures that, as a program repeating a fetch meets it);
 * - worker -> worker (same node): `await summer.sum(maker.get()).result()`, maker
 *   on worker:0:0 holding the result of `get()` already, summer on worker:0:1;
 *   timed from submitting `sum` to its result (the result went to shared memory
 *   when it was made: the transfer itself copies nothing, which is why it can
 *   beat memcpy);
 * - `await mosaic.put(array)`, and `await mosaic.get(ref)` (then `drop`, untimed);
 *   a put object stays in the head's pooled segment it came in, lent to the
 *   worker for as long as it keeps the object (it budgets and spills it);
 * - diagnostic, no target: worker -> head with the tessera's array in a
 *   SharedArrayBuffer (`getShared()`): the result needs no staging copy on the
 *   worker; the worker's main thread copies it into a segment of its own pool.
 *
 * Two transports: this file runs with shared memory (same node: payloads
 * through /dev/shm, targets against memcpy), and again under data-tcp.bench.ts
 * with MOSAIC_SHARED_MEMORY=0, as between nodes (every payload over the
 * sockets, targets against raw TCP). Metrics of the second carry a `tcp_`
 * prefix and `"transport": "tcp"`.
 *
 * Baselines: in-process `dst.set(src)` into touched memory and into a fresh
 * allocation of the same size; raw Bun TCP bulk transfer of the same bytes to
 * a child Bun process (data-sink.ts: 8-byte header + payload, copied into a
 * reused pre-sized buffer, one byte back when complete; partial writes resumed
 * on drain), and the same into a fresh buffer per message. Each mosaic figure
 * is reported twice: against raw TCP bulk (target over TCP at 256 MiB: ratio
 * >= 0.7) and against memcpy into touched memory (target with shared memory at
 * 256 MiB: ratio >= 0.5), with the fresh allocation figure beside it
 * (`baseline_fresh`, `ratio_fresh`).
 *
 * Between transfers (untimed) the head collects garbage and results are
 * released on the workers, so that memory stays at a few times the largest
 * size per process. About 20 s on a 2-core machine; each size stops starting
 * repetitions once it has used its time budget.
 *
 * This file is also the program the runtime's children run (`bun <this file>
 * --role ...`) and that their tessera threads load: the tessera class is
 * declared before `mosaic.init()`, which hands those over and never returns,
 * so nothing below it runs there.
 */
import type { Socket, Subprocess } from "bun";
import * as mosaic from "../src/index.ts";
import { tessera, type HeadRuntime } from "../src/index.ts";
import { emit, exitGuard, type Measurement, max, median, min, note, round, rssKiB } from "./_lib.ts";
import { connectWithWriter, type SocketWriter, spawnPeer, stopPeers } from "./_raw.ts";

/** Methods read every STRIDE-th element (and the last): the data must be there, reading it costs nothing. */
const STRIDE = 4096;
/** The last element of every array carries this marker (its last byte, 0x40, is what the raw sink echoes). */
const MARKER = 3;

function sparseSum(values: Float32Array): number {
  let total = 0;
  for (let i = 0; i < values.length; i += STRIDE) total += values[i]!;
  return total + values[values.length - 1]!;
}

/** Ones, with MARKER at the end; every page touched. */
function filled(n: number): Float32Array {
  const values = new Float32Array(n).fill(1);
  values[n - 1] = MARKER;
  return values;
}

const DataStore = tessera(
  class DataStore {
    kept: Float32Array | undefined;
    shared: Float32Array | undefined;
    /** Makes the array that `get()` returns, once. */
    prepare(n: number): number {
      this.kept = filled(n);
      return sparseSum(this.kept);
    }
    /** The array, changed since the last get() (an element sparseSum does not read): copied each time, as a new one would be. */
    get(): Float32Array {
      if (!this.kept) throw new Error("get() before prepare(n)");
      this.kept[1] = this.kept[1]! + 1;
      return this.kept;
    }
    /** The same values in a SharedArrayBuffer (made once): the result leaves the tessera thread without a copy. */
    getShared(): Float32Array {
      if (!this.kept) throw new Error("getShared() before prepare(n)");
      if (!this.shared || this.shared.length !== this.kept.length) {
        this.shared = new Float32Array(new SharedArrayBuffer(this.kept.byteLength));
        this.shared.set(this.kept);
      }
      return this.shared;
    }
    sum(values: Float32Array): number {
      return sparseSum(values);
    }
    forget(): void {
      this.kept = undefined;
      this.shared = undefined;
    }
  },
);

const BENCH = "data";
/** Every payload over the sockets (data-tcp.bench.ts runs this file so): the TCP targets apply, not the memcpy one. */
const OVER_TCP = process.env.MOSAIC_SHARED_MEMORY === "0";
const TRANSPORT = OVER_TCP ? "tcp" : "shared-memory";
const PREFIX = OVER_TCP ? "tcp_" : "";
const OPTIONS = { numWorkers: 2, logLevel: "error" } as const;
const MiB = 1024 * 1024;

interface SizeCase {
  mib: number;
  warmup: number;
  reps: number;
  /** No new repetition starts once the size has taken this long (at least one is measured). */
  budgetMs: number;
}
/** Odd repetition counts: the median is one measured sample. */
const SIZES: SizeCase[] = [
  { mib: 1, warmup: 5, reps: 15, budgetMs: 8_000 },
  { mib: 16, warmup: 2, reps: 7, budgetMs: 12_000 },
  // Two warm-up transfers: the second finds the first one's pooled segment still held (the receiver's
  // collector lags one transfer behind), so pools reach their steady state (two segments) at the third. Seven:
  // now and then a transfer still takes a fresh segment (92-145 ms instead of ~25), and with three samples one
  // such took worker → head's median from 0.93 to 0.59 of memcpy between two runs of the same code (2026-12-04).
  { mib: 256, warmup: 2, reps: 7, budgetMs: 30_000 },
];
/** From this size on, the head collects garbage after every transfer (outside the timed windows), else after every repetition. */
const GC_EVERY_TRANSFER_BYTES = 16 * MiB;
const MAX_BYTES = Math.max(...SIZES.map((size) => size.mib * MiB));

const TCP_TARGET = 0.7;
const MEMCPY_TARGET = 0.5;
/**
 * The targets apply to this size (the issue's 256 MiB fields). Smaller sizes
 * are reported with their ratios and no target: at 1 MiB a transfer takes
 * about as long as the call around it (~0.4 ms after an idle gap).
 */
const TARGET_MIB = 256;

const runtime: HeadRuntime = await mosaic.init(OPTIONS);

/** Children spawned here, killed by their pids at the end; the raw client's socket, ended. */
const children: Subprocess[] = [];
let rawClient: BulkClient | undefined;

// ------------------------------------------------------------- raw TCP bulk

/** Sends length-prefixed blobs to data-sink.ts and waits for its one-byte acknowledgement. */
class BulkClient {
  socket!: Socket<undefined>;
  #writer!: SocketWriter;
  #waiting: ((byte: number) => void) | undefined;

  static async start(): Promise<BulkClient> {
    const { port } = await spawnPeer(children, "data-sink.ts", String(MAX_BYTES));
    const client = new BulkClient();
    const { socket, writer } = await connectWithWriter(port, (chunk) => {
      for (const byte of chunk) {
        const wake = client.#waiting;
        if (!wake) throw new Error("data-sink.ts sent an acknowledgement nobody waited for");
        client.#waiting = undefined;
        wake(byte);
      }
    });
    client.socket = socket;
    client.#writer = writer;
    return client;
  }

  /** Sends `payload` (into a fresh buffer on the sink if `fresh`); resolves with the sink's echo of its last byte. */
  send(payload: Uint8Array, fresh: boolean, collect = false): Promise<number> {
    const { promise, resolve } = Promise.withResolvers<number>();
    this.#waiting = resolve;
    const header = new Uint8Array(8);
    const view = new DataView(header.buffer);
    view.setUint32(0, payload.byteLength, true);
    view.setUint32(4, (fresh ? 1 : 0) | (collect ? 2 : 0), true);
    this.#writer.write(header);
    this.#writer.write(payload);
    return promise;
  }
}

// ------------------------------------------------------------- one repetition of each path

type Path =
  | "raw_tcp_bulk"
  | "raw_tcp_bulk_fresh"
  | "memcpy_touched"
  | "memcpy_fresh"
  | "head_to_worker"
  | "worker_to_head"
  | "worker_to_head_shared"
  | "worker_to_worker"
  | "put"
  | "get";

const maker = DataStore.options({ worker: "worker:0:0" }).remote();
const summer = DataStore.options({ worker: "worker:0:1" }).remote();

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`${BENCH}: wrong result: ${what}`);
}

/** Milliseconds of one transfer per path (`src` and `dst` are the head's arrays of this size). */
async function measureOnce(path: Path, src: Float32Array, dst: Float32Array, raw: BulkClient, expected: number): Promise<number> {
  const n = src.length;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  switch (path) {
    case "raw_tcp_bulk":
    case "raw_tcp_bulk_fresh": {
      const t0 = performance.now();
      const last = await raw.send(bytes, path === "raw_tcp_bulk_fresh");
      const ms = performance.now() - t0;
      check(last === bytes[bytes.length - 1], `raw sink echoed byte ${last}`);
      return ms;
    }
    case "memcpy_touched": {
      const t0 = performance.now();
      dst.set(src);
      const ms = performance.now() - t0;
      check(dst[n - 1] === MARKER, "memcpy");
      return ms;
    }
    case "memcpy_fresh": {
      const t0 = performance.now();
      const fresh = new Float32Array(n);
      fresh.set(src);
      const ms = performance.now() - t0;
      check(fresh[n - 1] === MARKER, "memcpy into fresh memory");
      return ms;
    }
    case "head_to_worker": {
      // Changed since the last time (an element sparseSum does not read): copied, as a new array would be.
      // The same bytes again would share the segment they were copied into (pool.ts, lendCopy; usage.bench).
      src[1] = src[1]! + 1;
      const t0 = performance.now();
      const task = summer.sum(src);
      const total = await task.result();
      const ms = performance.now() - t0;
      task.release();
      check(total === expected, `summer.sum(array) returned ${total}, expected ${expected}`);
      return ms;
    }
    case "worker_to_head":
    case "worker_to_head_shared": {
      const t0 = performance.now();
      const task = path === "worker_to_head" ? maker.get() : maker.getShared();
      const back = await task.result();
      const ms = performance.now() - t0;
      task.release();
      check(back instanceof Float32Array && back.length === n && back[0] === 1 && back[n - 1] === MARKER, `maker.${task.method}() came back wrong`);
      return ms;
    }
    case "worker_to_worker": {
      const made = maker.get();
      await made; // maker holds the result: only the transfer to summer's worker is timed
      const t0 = performance.now();
      const task = summer.sum(made);
      const total = await task.result();
      const ms = performance.now() - t0;
      made.release();
      task.release();
      check(total === expected, `summer.sum(maker.get()) returned ${total}, expected ${expected}`);
      return ms;
    }
    case "put": {
      const t0 = performance.now();
      const ref = await mosaic.put(src);
      const ms = performance.now() - t0;
      await mosaic.drop(ref);
      return ms;
    }
    case "get": {
      const ref = await mosaic.put(src);
      const t0 = performance.now();
      const back = await mosaic.get(ref);
      const ms = performance.now() - t0;
      await mosaic.drop(ref);
      check(back instanceof Float32Array && back.length === n && back[n - 1] === MARKER, "mosaic.get(ref) came back wrong");
      return ms;
    }
  }
}

/**
 * Lets the head and the raw sink collect the previous transfers' memory (and
 * the workers get their releases) outside the timed windows: freeing a fresh
 * 256 MiB buffer of a baseline costs the next measurement up to 2x otherwise.
 */
async function settle(collect: boolean, raw: BulkClient): Promise<void> {
  if (collect) {
    Bun.gc(true);
    await raw.send(new Uint8Array(0), false, true);
  }
  await Bun.sleep(collect ? 5 : 0);
}

// ------------------------------------------------------------- report

const TCP_BASELINE_KIND = "raw Bun TCP bulk to a child Bun process: 8 B header + payload, copied into a reused pre-sized buffer, 1 B acknowledgement";
const WHAT: Record<string, string> = {
  head_to_worker: "await summer.sum(array).result(), summer on worker:0:1 (reads every 4096th element, returns a number)",
  worker_to_head: "await maker.get().result(), maker on worker:0:0 returning the array it prepared once",
  worker_to_head_shared:
    "diagnostic: the same with the array in a SharedArrayBuffer (maker.getShared()), so that the result leaves the tessera thread without the structured-clone copy",
  worker_to_worker: "await summer.sum(maker.get()).result() timed from submitting sum, maker.get() already done on worker:0:0, summer on worker:0:1",
  put: "await mosaic.put(array) (then drop, untimed)",
  get: "await mosaic.get(ref) of an array put before (then drop, untimed)",
};

function gbps(bytes: number, ms: number): number {
  return bytes / (ms / 1000) / 1e9;
}

function report(size: SizeCase, samples: Map<Path, number[]>): void {
  const bytes = size.mib * MiB;
  const suffix = `_${size.mib}MiB`;
  const bandwidth = (path: Path) => gbps(bytes, median(samples.get(path)!));
  const stats = (path: Path) => {
    const ms = samples.get(path)!;
    return {
      median_ms: round(median(ms), 3),
      min_ms: round(min(ms), 3),
      max_ms: round(max(ms), 3),
      best: round(gbps(bytes, min(ms)), 3),
      samples: ms.length,
      size_bytes: bytes,
    };
  };
  const line = (metric: string, fields: Pick<Measurement, "value" | "unit"> & Record<string, unknown>, tail = "") =>
    emit({ bench: BENCH, metric: `${PREFIX}${metric}${suffix}${tail}`, transport: TRANSPORT, ...fields });
  const tcp = bandwidth("raw_tcp_bulk");
  const touched = bandwidth("memcpy_touched");
  const fresh = bandwidth("memcpy_fresh");
  line("memcpy_touched", { value: round(touched, 3), unit: "GB/s", ...stats("memcpy_touched"), what: "dst.set(src) in this process, dst touched before" });
  line("memcpy_fresh", { value: round(fresh, 3), unit: "GB/s", ...stats("memcpy_fresh"), what: "new Float32Array(n).set(src) in this process" });
  line("raw_tcp_bulk", { value: round(tcp, 3), unit: "GB/s", ...stats("raw_tcp_bulk"), what: TCP_BASELINE_KIND });
  line("raw_tcp_bulk_fresh", {
    value: round(bandwidth("raw_tcp_bulk_fresh"), 3),
    unit: "GB/s",
    ...stats("raw_tcp_bulk_fresh"),
    what: "the same, into a fresh buffer per message on the sink",
  });
  for (const path of ["head_to_worker", "worker_to_head", "worker_to_head_shared", "worker_to_worker", "put", "get"] as const) {
    const value = bandwidth(path);
    const common = { ...stats(path), what: WHAT[path] };
    /** The diagnostic variant gets baselines and ratios, but the issue's targets are for the paths as a program writes them. */
    const targeted = path !== "worker_to_head_shared";
    const tcpRatio = value / tcp;
    line(path, {
      value: round(value, 3),
      unit: "GB/s",
      baseline: round(tcp, 3),
      ratio: round(tcpRatio, 3),
      baseline_kind: TCP_BASELINE_KIND,
      ...common,
      ...(targeted && OVER_TCP && size.mib === TARGET_MIB ? { target: `ratio >= ${TCP_TARGET}`, ok: tcpRatio >= TCP_TARGET } : {}),
    });
    const memcpyRatio = value / touched;
    line(
      path,
      {
        value: round(value, 3),
        unit: "GB/s",
        baseline: round(touched, 3),
        ratio: round(memcpyRatio, 3),
        baseline_kind: "in-process memcpy (dst.set(src)) into touched memory",
        baseline_fresh: round(fresh, 3),
        ratio_fresh: round(value / fresh, 3),
        ...common,
        ...(targeted && !OVER_TCP && size.mib === TARGET_MIB ? { target: `ratio >= ${MEMCPY_TARGET}`, ok: memcpyRatio >= MEMCPY_TARGET } : {}),
        // Drawn by run.ts (bench/out/transfers.svg) beside usage.bench.ts's cold and README-usage figures.
        ...(!OVER_TCP && (path === "head_to_worker" || path === "worker_to_head")
          ? { plot_series: `mosaic ${path === "head_to_worker" ? "head→worker" : "worker→head"} steady (released, pool warmed)` }
          : {}),
      },
      "_vs_memcpy",
    );
  }
}

// ------------------------------------------------------------- main

const ORDER: Path[] = [
  "raw_tcp_bulk",
  "head_to_worker",
  "memcpy_touched",
  "worker_to_head",
  "raw_tcp_bulk_fresh",
  "worker_to_worker",
  "memcpy_fresh",
  "put",
  "worker_to_head_shared",
  "get",
];

function workerRss(): string {
  return runtime.workers.map((worker) => `${worker.uid} ${Math.round((rssKiB(worker.pid) ?? NaN) / 1024)} MiB`).join(", ");
}

try {
  const started = performance.now();
  const [raw] = await Promise.all([BulkClient.start(), maker, summer]);
  rawClient = raw;
  for (const size of SIZES) {
    const n = (size.mib * MiB) / Float32Array.BYTES_PER_ELEMENT;
    const src = filled(n);
    const dst = new Float32Array(n).fill(0);
    const expected = sparseSum(src);
    const prepared = await maker.prepare(n).result();
    check(prepared === expected, `maker.prepare(n) returned ${prepared}, expected ${expected}`);
    const samples = new Map<Path, number[]>(ORDER.map((path) => [path, []]));
    const collectEach = size.mib * MiB >= GC_EVERY_TRANSFER_BYTES;
    const t0 = performance.now();
    let measured = 0;
    for (let rep = 0; rep < size.warmup + size.reps; rep++) {
      if (measured > 0 && performance.now() - t0 > size.budgetMs) {
        note(`${BENCH}: ${size.mib} MiB: ${measured} measured repetition(s) only, the size took longer than ${size.budgetMs} ms`);
        break;
      }
      for (const path of ORDER) {
        const ms = await measureOnce(path, src, dst, raw, expected);
        if (rep >= size.warmup) samples.get(path)!.push(ms);
        await settle(collectEach, raw);
      }
      if (rep >= size.warmup) measured++;
      if (!collectEach) await settle(true, raw);
    }
    const rss = `head ${Math.round(process.memoryUsage.rss() / MiB)} MiB, ${workerRss()}`;
    await maker.forget().result();
    note(`${BENCH} (${TRANSPORT}): ${size.mib} MiB: ${size.warmup} + ${measured} repetitions in ${Math.round(performance.now() - t0)} ms; RSS ${rss}`);
    note(`${BENCH} (${TRANSPORT}): ${size.mib} MiB medians (GB/s): ${ORDER.map((path) => `${path} ${round(gbps(size.mib * MiB, median(samples.get(path)!)), 2)}`).join(", ")}`);
    report(size, samples);
  }
  note(`${BENCH}: done in ${Math.round(performance.now() - started)} ms`);
} finally {
  try {
    rawClient?.socket.end();
    await mosaic.stop();
  } finally {
    await stopPeers(children);
    exitGuard(BENCH);
  }
}
