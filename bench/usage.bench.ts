/**
 * The paths users meet, measured as the README shows them: a fresh runtime of
 * 1 node and 2 workers, results fetched with `await t.method().result()` and
 * never `release()`d, processes left where the OS puts them (not pinned).
 * Each figure is given cold (the first in this fresh runtime) and warm (once
 * the same path has run a few times), next to baselines of the same run:
 * in-process memcpy, a raw Bun TCP ping, and piscina (a worker-thread pool in
 * this process, the in-process peer) doing the same work:
 *
 * - start -> ready (piscina: 2 threads, until each has run a no-op);
 * - 20,000 pipelined no-op calls right after start, then warm rounds;
 * - a no-op call with its result, one at a time: the first 200, then warm;
 * - arrays of 64 KiB, 1, 16 and 256 MiB as an argument (`await t.sum(array).result()`)
 *   and as a result the tessera keeps (`await t.get().result()`), the first
 *   of each size, then warm repetitions; piscina moves the argument with a
 *   transfer list and copies the kept result (structured clone);
 * - the worker's pooled /dev/shm segments and RSS after repeated 256 MiB fetches;
 * - the first 256 MiB argument and the first 256 MiB result of another fresh
 *   runtime, started with `warmPool` of that size (the head's segment and the
 *   tessera thread's, prepared in idle time after start);
 * - the first 20,000 dependent pairs `b.add(a.add(i))` of another fresh
 *   runtime, then warm rounds (piscina: a promise chain per pair, fresh pool).
 *
 * Lines carrying `plot_series` and `size_bytes` are drawn by run.ts into
 * bench/out/transfers.svg.
 *
 * This file is also the program the runtime's children run: the tessera class
 * comes before `mosaic.init()`, which never returns there.
 */
import type { Subprocess } from "bun";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as mosaic from "../src/index.ts";
import { tessera } from "../src/index.ts";
import { sharedMemoryStats } from "../src/comms/shared-memory/index.ts";
import { alternate, emit, exitGuard, median, note, round, rssKiB } from "./_lib.ts";
import { connectPing, PING_BASELINE_KIND, spawnPeer, stopPeers } from "./_raw.ts";

const STRIDE = 4096;

function sparseSum(values: Float32Array): number {
  let total = 0;
  for (let i = 0; i < values.length; i += STRIDE) total += values[i]!;
  return total + values[values.length - 1]!;
}

const Store = tessera(
  class Store {
    kept: Float32Array | undefined;
    noop(): number {
      return 1;
    }
    add(x: number): number {
      return x + 1;
    }
    sum(values: Float32Array): number {
      return sparseSum(values);
    }
    prepare(n: number): number {
      this.kept = new Float32Array(n).fill(1);
      return n;
    }
    get(): Float32Array {
      return this.kept!;
    }
    /** The kept array, changed since the last call (an element sparseSum does not read). */
    getChanged(): Float32Array {
      this.kept![1] = this.kept![1]! + 1;
      return this.kept!;
    }
  },
);

const BENCH = "usage";
const OPTIONS = { numWorkers: 2, logLevel: "error" } as const;
const MiB = 2 ** 20;
/**
 * 64 KiB: a result of up to 64 KiB comes with its completion when awaited (below 256 KiB nothing goes through
 * /dev/shm); 512 KiB: the smallest through /dev/shm.
 */
const SIZES_MIB = [1 / 16, 1 / 2, 1, 16, 256];
/** A size's name in metric names: 64KiB, 1MiB, ... */
const sizeName = (mib: number) => (mib >= 1 ? `${mib}MiB` : `${mib * 1024}KiB`);
/**
 * Repetitions after the first (the cold one) of each transfer, whose median is the warm figure. Eight, not
 * four: a program fetching one 256 MiB result after another takes a third segment now and then (the release
 * of the result before last, sent when the head's collector finds its proxy, races the next call), and one
 * such fresh segment among four samples moved the median by 3x. `repeated_fetch_worker_segments` shows it.
 */
const WARM_REPS = 8;
/**
 * Repetitions for sizes under 16 MiB: each takes well under a millisecond to a few, and with eight of them
 * the median of a 64 KiB row moved by 1.5-2x between runs (so did piscina's).
 */
const SMALL_WARM_REPS = 100;
const repsFor = (mib: number) => (mib < 16 ? SMALL_WARM_REPS : WARM_REPS);
const FIRST_CALLS = 20_000;
const WARM_CALL_ROUNDS = 3;
/** Dependent pairs `b.add(a.add(i))` per round: the first ones of a fresh runtime, then warm rounds. */
const DEPENDENT_PAIRS = 20_000;
const FIRST_ROUND_TRIPS = 200;
const WARM_ROUND_TRIPS = 2000;
const PISCINA_KIND = "piscina 5 in this process, 2 worker threads (minThreads = maxThreads = 2)";

type Pool = { run(task: unknown, options?: { transferList?: ArrayBuffer[] }): Promise<any>; destroy(): Promise<void> };
type PiscinaClass = new (options: { filename: string; minThreads: number; maxThreads: number }) => Pool;

/** piscina is a devDependency: a checkout installed without it measures ours alone. */
async function loadPiscina(): Promise<PiscinaClass | undefined> {
  try {
    return ((await import("piscina")) as { default: PiscinaClass }).default;
  } catch {
    note(`${BENCH}: piscina is not installed (bun install): no piscina figures`);
    return undefined;
  }
}

function gbps(bytes: number, ms: number): number {
  return bytes / (ms / 1000) / 1e9;
}

async function timed(body: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await body();
  return performance.now() - t0;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`${BENCH}: wrong result: ${what}`);
}

// ------------------------------------------------------------- one side's figures

interface Side {
  readyMs: number;
  /** calls/s: the first FIRST_CALLS after start, and warm rounds. */
  firstCalls: number;
  warmCalls: number;
  /** us per call: the first FIRST_ROUND_TRIPS, and warm (alternating with the raw ping). */
  firstTrip: number;
  warmTrip: number;
  rawTrip: number;
  /** ms per transfer by path and size: the first, then warm repetitions. */
  transfers: Map<string, { cold: number; warm: number[] }>;
}

function newSide(): Side {
  return { readyMs: 0, firstCalls: 0, warmCalls: 0, firstTrip: 0, warmTrip: 0, rawTrip: 0, transfers: new Map() };
}

function record(side: Side, key: string, ms: number): void {
  const entry = side.transfers.get(key);
  if (!entry) side.transfers.set(key, { cold: ms, warm: [] });
  else entry.warm.push(ms);
}

/**
 * The call figures of one side, the same for ours and the peer: pipelined
 * rounds (the first right after start, then warm ones), then round trips (the
 * first ones, then warm ones alternating with the raw ping).
 */
async function measureCalls(side: Side, callRound: () => Promise<number>, trip: () => Promise<unknown>, ping: () => Promise<void>): Promise<void> {
  side.firstCalls = await callRound();
  const warm: number[] = [];
  for (let r = 0; r < WARM_CALL_ROUNDS; r++) warm.push(await callRound());
  side.warmCalls = median(warm);
  const first: number[] = [];
  for (let i = 0; i < FIRST_ROUND_TRIPS; i++) {
    const t = Bun.nanoseconds();
    await trip();
    first.push((Bun.nanoseconds() - t) / 1000);
  }
  side.firstTrip = median(first);
  const trips = await alternate(300, WARM_ROUND_TRIPS, ping, async () => {
    await trip();
  });
  side.warmTrip = median(trips.mosaic);
  side.rawTrip = median(trips.raw);
}

/** What the children of the fresh runtime started from. */
let childrenFrom = "";

/** Our side, in a fresh runtime. */
async function measureOurs(ping: () => Promise<void>): Promise<{ side: Side; fetchSegments: number[]; workerRss: number }> {
  const side = newSide();
  const t0 = performance.now();
  const runtime = await mosaic.init(OPTIONS);
  side.readyMs = performance.now() - t0;
  // Source, or a build of the library's bundles (src/cluster/child-bundle.ts: made after a start that found none fresh).
  childrenFrom = readFileSync(`/proc/${runtime.monitor!.pid}/cmdline`, "utf8").split("\0")[1]!.endsWith(".ts") ? "source" : "bundle";

  const callRound = async () => {
    const t = performance.now();
    const tasks = new Array(FIRST_CALLS);
    for (let i = 0; i < FIRST_CALLS; i++) tasks[i] = (i & 1 ? a : b).noop();
    await runtime.barrier(60_000);
    return (FIRST_CALLS * 1000) / (performance.now() - t);
  };
  // Right after start: the tesserae are made by the calls' program, as a user's would be.
  const a = Store.options({ worker: "worker:0:0" }).remote();
  const b = Store.options({ worker: "worker:0:1" }).remote();
  await measureCalls(side, callRound, async () => check((await a.noop().result()) === 1, "a.noop()"), ping);

  const fetchSegments: number[] = [];
  const worker = runtime.getWorker("worker:0:1");
  /** The worker's segments that can hold a 256 MiB result (smaller ones of the smaller sizes are left out). */
  const segments = () =>
    readdirSync("/dev/shm").filter((name) => {
      if (!name.startsWith(`mosaic-${process.env.MOSAIC_CLUSTER}-${worker.pid}-`)) return false;
      try {
        return statSync(join("/dev/shm", name)).size >= 256 * MiB;
      } catch {
        return false; // removed meanwhile
      }
    }).length;
  for (const mib of SIZES_MIB) {
    const n = (mib * MiB) / 4;
    const array = new Float32Array(n).fill(1);
    const expected = sparseSum(array);
    for (let rep = 0; rep <= repsFor(mib); rep++) {
      let total: number | undefined;
      record(side, `head_to_worker_${mib}`, await timed(async () => (total = await a.sum(array).result())));
      check(total === expected, `a.sum(array) returned ${total}`);
    }
    await b.prepare(n).result();
    for (let rep = 0; rep <= repsFor(mib); rep++) {
      let back: Float32Array | undefined;
      record(side, `worker_to_head_${mib}`, await timed(async () => (back = await b.get().result())));
      check(back?.length === n && back[n - 1] === 1, "b.get() came back wrong");
      if (mib === 256) fetchSegments.push(segments());
    }
    // The same, changed before each transfer (an unchanged array shares the segment it was copied into): each is
    // copied. Up to 16 MiB (data.bench measures 256 MiB changed, steady).
    if (mib > 16) continue;
    for (let rep = 0; rep <= repsFor(mib); rep++) {
      array[1] = array[1]! + 1;
      let total: number | undefined;
      record(side, `head_to_worker_changed_${mib}`, await timed(async () => (total = await a.sum(array).result())));
      check(total === expected, `a.sum(array) returned ${total}`);
    }
    for (let rep = 0; rep <= repsFor(mib); rep++) {
      let back: Float32Array | undefined;
      record(side, `worker_to_head_changed_${mib}`, await timed(async () => (back = await b.getChanged().result())));
      check(back?.length === n && back[n - 1] === 1 && back[1] === rep + 2, "b.getChanged() came back wrong");
    }
  }
  const workerRss = (rssKiB(worker.pid) ?? NaN) / 1024;
  return { side, fetchSegments, workerRss };
}

/** piscina's side, in a fresh pool of this process. */
async function measurePiscina(Piscina: PiscinaClass, ping: () => Promise<void>): Promise<Side> {
  const side = newSide();
  const filename = join(import.meta.dir, "_fixtures", "piscina-worker.ts");
  const t0 = performance.now();
  const pool = new Piscina({ filename, minThreads: 2, maxThreads: 2 });
  try {
    await Promise.all([pool.run({ op: "noop" }), pool.run({ op: "noop" })]);
    side.readyMs = performance.now() - t0;
    const callRound = async () => {
      const t = performance.now();
      const runs = new Array(FIRST_CALLS);
      for (let i = 0; i < FIRST_CALLS; i++) runs[i] = pool.run({ op: "noop" });
      await Promise.all(runs);
      return (FIRST_CALLS * 1000) / (performance.now() - t);
    };
    await measureCalls(side, callRound, () => pool.run({ op: "noop" }), ping);
    for (const mib of SIZES_MIB) {
      const n = (mib * MiB) / 4;
      for (let rep = 0; rep <= repsFor(mib); rep++) {
        // Moved, so made anew each time (untimed), as a program handing its buffer over would.
        const array = new Float32Array(n).fill(1);
        const expected = sparseSum(array);
        let total: number | undefined;
        record(side, `head_to_worker_${mib}`, await timed(async () => (total = await pool.run({ op: "sum", values: array }, { transferList: [array.buffer as ArrayBuffer] }))));
        check(total === expected, `piscina sum returned ${total}`);
      }
      // Both threads make the array they keep (untimed); each get() copies it.
      await Promise.all([pool.run({ op: "get", n }), pool.run({ op: "get", n })]);
      Bun.gc(true);
      for (let rep = 0; rep <= repsFor(mib); rep++) {
        let back: Float32Array | undefined;
        record(side, `worker_to_head_${mib}`, await timed(async () => (back = await pool.run({ op: "get", n }))));
        check(back?.length === n, "piscina get came back wrong");
      }
      Bun.gc(true);
    }
  } finally {
    await pool.destroy();
  }
  return side;
}

/**
 * The first 256 MiB argument of a fresh runtime started with `warmPool` of
 * that size, once the head has prepared the segment in idle time (a program
 * would be doing its own work meanwhile), and the first 256 MiB result fetched
 * from a tessera whose thread has prepared its own: ms.
 */
async function measureWarmPool(): Promise<{ headToWorker: number; workerToHead: number }> {
  const size = 256 * MiB;
  // Mappings of the first runtime's results still count until collected: the prepared segment is what comes on top.
  Bun.gc(true);
  await Bun.sleep(0);
  const before = sharedMemoryStats.ownedSharedBytes;
  await mosaic.init({ ...OPTIONS, warmPool: size });
  const a = Store.options({ worker: "worker:0:0" }).remote();
  await a.noop().result();
  const started = performance.now();
  while (sharedMemoryStats.ownedSharedBytes < before + size) {
    if (performance.now() - started > 30_000) throw new Error(`${BENCH}: the warm pool was not ready within 30 s`);
    await Bun.sleep(20);
  }
  const array = new Float32Array(size / 4).fill(1);
  let total: number | undefined;
  const headToWorker = await timed(async () => (total = await a.sum(array).result()));
  check(total === sparseSum(array), `a.sum(array) returned ${total}`);
  const b = Store.options({ worker: "worker:0:1" }).remote();
  await b.prepare(size / 4).result();
  const worker = mosaic.runtime().getWorker("worker:0:1");
  while ((await worker.status()).sharedMemory.freeBytes < size) {
    if (performance.now() - started > 60_000) throw new Error(`${BENCH}: the thread's warm pool was not ready within 60 s`);
    await Bun.sleep(20);
  }
  let back: Float32Array | undefined;
  const workerToHead = await timed(async () => (back = await b.get().result()));
  check(back?.length === size / 4 && back[size / 4 - 1] === 1, "b.get() came back wrong");
  await mosaic.stop();
  return { headToWorker, workerToHead };
}

/**
 * A program's first call right after `remote()` in a fresh runtime, with a
 * 256 MiB argument: the tessera's creation (its thread started) and the
 * transfer, as a program meets them (the call goes through the worker while
 * the creation is on its way: ARCHITECTURE, How a call travels): ms.
 */
async function measureFirstCall(): Promise<number> {
  Bun.gc(true);
  await Bun.sleep(0);
  await mosaic.init(OPTIONS);
  const array = new Float32Array((256 * MiB) / 4).fill(1);
  let total: number | undefined;
  const ms = await timed(async () => {
    const a = Store.options({ worker: "worker:0:0" }).remote();
    total = await a.sum(array).result();
  });
  check(total === sparseSum(array), `a.sum(array) right after remote() returned ${total}`);
  await mosaic.stop();
  return ms;
}

/**
 * Dependent tasks as a program meets them: in a fresh runtime, the first
 * DEPENDENT_PAIRS `b.add(a.add(i))` (a on one worker, b on the other, both
 * made by the calls; each b call takes a's task), then the barrier; then warm
 * rounds of as many. Dependent pairs per second, as actors.bench counts them.
 */
async function measureDependent(): Promise<{ cold: number; warm: number }> {
  Bun.gc(true);
  await Bun.sleep(0);
  const runtime = await mosaic.init(OPTIONS);
  const a = Store.options({ worker: "worker:0:0" }).remote();
  const b = Store.options({ worker: "worker:0:1" }).remote();
  const round = async () => {
    const tasks = new Array(DEPENDENT_PAIRS);
    const t = performance.now();
    for (let i = 0; i < DEPENDENT_PAIRS; i++) tasks[i] = b.add(a.add(i));
    await runtime.barrier(60_000);
    const rate = (DEPENDENT_PAIRS * 1000) / (performance.now() - t);
    const last = await tasks[DEPENDENT_PAIRS - 1].result();
    check(last === DEPENDENT_PAIRS + 1, `b.add(a.add(${DEPENDENT_PAIRS - 1})) returned ${last}`);
    return rate;
  };
  const rates = await coldAndWarm(round);
  await mosaic.stop();
  return rates;
}

/** A round's rate the first time (cold), and the median of WARM_CALL_ROUNDS more (warm). */
async function coldAndWarm(round: () => Promise<number>): Promise<{ cold: number; warm: number }> {
  const cold = await round();
  const warm: number[] = [];
  for (let r = 0; r < WARM_CALL_ROUNDS; r++) warm.push(await round());
  return { cold, warm: median(warm) };
}

/**
 * piscina's dependent pairs: the second run starts with the first's value, in
 * a fresh pool (what a program of it writes: a promise chain per pair).
 */
async function measurePiscinaDependent(Piscina: PiscinaClass): Promise<{ cold: number; warm: number }> {
  const pool = new Piscina({ filename: join(import.meta.dir, "_fixtures", "piscina-worker.ts"), minThreads: 2, maxThreads: 2 });
  try {
    const round = async () => {
      const chains = new Array(DEPENDENT_PAIRS);
      const t = performance.now();
      for (let i = 0; i < DEPENDENT_PAIRS; i++) chains[i] = pool.run({ op: "add", x: i }).then((x: number) => pool.run({ op: "add", x }));
      const results = await Promise.all(chains);
      check(results[DEPENDENT_PAIRS - 1] === DEPENDENT_PAIRS + 1, "piscina's dependent pair came back wrong");
      return (DEPENDENT_PAIRS * 1000) / (performance.now() - t);
    };
    return await coldAndWarm(round);
  } finally {
    await pool.destroy();
  }
}

// ------------------------------------------------------------- memcpy, same run

function memcpy(n: number): { touched: number; fresh: number } {
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n).fill(0);
  const touched: number[] = [];
  const fresh: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    let t = performance.now();
    dst.set(src);
    touched.push(performance.now() - t);
    t = performance.now();
    new Float32Array(n).set(src);
    fresh.push(performance.now() - t);
    Bun.gc(true);
  }
  return { touched: median(touched), fresh: median(fresh) };
}

// ------------------------------------------------------------- report

function emitFigures(ours: Side, peer: Side | undefined, memcpyMs: Map<number, { touched: number; fresh: number }>): void {
  const piscina = (value: number | undefined, ratio: (p: number) => number) =>
    peer === undefined || value === undefined ? {} : { piscina: round(value, 3), ratio_piscina: round(ratio(value), 3), piscina_kind: PISCINA_KIND };
  emit({ bench: BENCH, metric: "start_to_ready", value: round(ours.readyMs, 1), unit: "ms", regime: "cold", what: "mosaic.init({ numWorkers: 2 }) in a fresh process", children_from: childrenFrom, ...piscina(peer?.readyMs, (p) => ours.readyMs / p) });
  for (const [regime, mine, theirs] of [["cold", ours.firstCalls, peer?.firstCalls], ["warm", ours.warmCalls, peer?.warmCalls]] as const) {
    emit({ bench: BENCH, metric: `pipelined_calls_per_s_${regime}`, value: Math.round(mine), unit: "calls/s", regime, count: FIRST_CALLS, what: regime === "cold" ? `the first ${FIRST_CALLS} (i & 1 ? a : b).noop() right after start (tesserae made by them), then runtime.barrier()` : `${FIRST_CALLS} more, median of ${WARM_CALL_ROUNDS} rounds`, ...piscina(theirs, (p) => mine / p) });
  }
  for (const [regime, mine, theirs] of [["cold", ours.firstTrip, peer?.firstTrip], ["warm", ours.warmTrip, peer?.warmTrip]] as const) {
    emit({
      bench: BENCH,
      metric: `noop_result_round_trip_${regime}`,
      value: round(mine, 2),
      unit: "us",
      regime,
      placement: "os-scheduled",
      ...(regime === "warm" ? { baseline: round(ours.rawTrip, 2), ratio: round(mine / ours.rawTrip, 2), baseline_kind: PING_BASELINE_KIND } : {}),
      what: regime === "cold" ? `median of the first ${FIRST_ROUND_TRIPS} await a.noop().result() after the first calls` : `median of ${WARM_ROUND_TRIPS}, alternating with the raw ping`,
      ...piscina(theirs, (p) => mine / p),
    });
  }
  for (const mib of SIZES_MIB) {
    const bytes = mib * MiB;
    const base = memcpyMs.get(mib)!;
    const touched = gbps(bytes, base.touched);
    const fresh = gbps(bytes, base.fresh);
    emit({ bench: BENCH, metric: `memcpy_touched_${sizeName(mib)}`, value: round(touched, 3), unit: "GB/s", size_bytes: bytes, plot_series: "memcpy into touched memory" });
    emit({ bench: BENCH, metric: `memcpy_fresh_${sizeName(mib)}`, value: round(fresh, 3), unit: "GB/s", size_bytes: bytes, plot_series: "memcpy into fresh memory" });
    for (const path of ["head_to_worker", "worker_to_head"] as const) {
      const mine = ours.transfers.get(`${path}_${mib}`)!;
      const theirs = peer?.transfers.get(`${path}_${mib}`);
      for (const regime of ["cold", "warm"] as const) {
        const value = gbps(bytes, regime === "cold" ? mine.cold : median(mine.warm));
        const peerValue = theirs ? gbps(bytes, regime === "cold" ? theirs.cold : median(theirs.warm)) : undefined;
        const arrow = path === "head_to_worker" ? "head→worker" : "worker→head";
        emit({
          bench: BENCH,
          metric: `${path}_${sizeName(mib)}_${regime}`,
          value: round(value, 3),
          unit: "GB/s",
          regime,
          size_bytes: bytes,
          baseline: round(touched, 3),
          ratio: round(value / touched, 3),
          baseline_kind: "in-process memcpy into touched memory, same run",
          baseline_fresh: round(fresh, 3),
          ratio_fresh: round(value / fresh, 3),
          what: `${path === "head_to_worker" ? "await a.sum(array).result()" : "await b.get().result() of an array b keeps"}, no release(), ${regime === "cold" ? "the first of this size in a fresh runtime" : `median of ${repsFor(mib)} after it`}`,
          plot_series: `mosaic ${arrow} ${regime}`,
          ...piscina(peerValue, (p) => value / p),
        });
        if (peerValue !== undefined) emit({ bench: BENCH, metric: `piscina_${path}_${sizeName(mib)}_${regime}`, value: round(peerValue, 3), unit: "GB/s", regime, size_bytes: bytes, what: path === "head_to_worker" ? "pool.run({ values }, { transferList }) (moved, no copy)" : "pool.run() returning an array its thread keeps (structured clone)", plot_series: `piscina ${arrow} ${regime}` });
      }
      // Changed before each transfer (ours only: piscina moves or clones every time anyway).
      const changed = ours.transfers.get(`${path}_changed_${mib}`);
      if (changed) {
        const value = gbps(bytes, median([changed.cold, ...changed.warm]));
        emit({
          bench: BENCH,
          metric: `${path}_${sizeName(mib)}_changed`,
          value: round(value, 3),
          unit: "GB/s",
          regime: "warm",
          size_bytes: bytes,
          baseline: round(touched, 3),
          ratio: round(value / touched, 3),
          baseline_kind: "in-process memcpy into touched memory, same run",
          what: `${path === "head_to_worker" ? "await a.sum(array).result(), array[1] changed before each" : "await b.getChanged().result(), which changes the array b keeps before returning it"}, no release(), median of ${repsFor(mib) + 1} after the unchanged ones`,
        });
      }
    }
  }
}

// ------------------------------------------------------------- main

const children: Subprocess[] = [];
let pingSocket: { end(): void } | undefined;
try {
  const started = performance.now();
  const Piscina = await loadPiscina();
  const echo = await spawnPeer(children, "echo-server.ts");
  const raw = await connectPing(echo.port);
  pingSocket = raw.socket;
  const { side: ours, fetchSegments, workerRss } = await measureOurs(raw.ping);
  note(`${BENCH}: worker:0:1 after ${WARM_REPS + 1} fetches of 256 MiB: pooled segments ${fetchSegments.join(", ")}, RSS ${Math.round(workerRss)} MiB`);
  emit({ bench: BENCH, metric: "repeated_fetch_worker_segments", value: Math.max(...fetchSegments), unit: "segments", per_fetch: fetchSegments, worker_rss_mib: Math.round(workerRss), what: `the /dev/shm segments of 256 MiB or more of worker:0:1 after each of ${WARM_REPS + 1} await b.get().result() of 256 MiB, no release()` });
  await mosaic.stop();
  const warmPoolMs = await measureWarmPool();
  const firstCallMs = await measureFirstCall();
  const dependent = await measureDependent();
  const memcpyMs = new Map(SIZES_MIB.map((mib) => [mib, memcpy((mib * MiB) / 4)] as const));
  const peer = Piscina ? await measurePiscina(Piscina, raw.ping) : undefined;
  const peerDependent = Piscina ? await measurePiscinaDependent(Piscina) : undefined;
  for (const regime of ["cold", "warm"] as const) {
    const mine = dependent[regime];
    const theirs = peerDependent?.[regime];
    emit({
      bench: BENCH,
      metric: `dependent_tasks_per_s_${regime}`,
      value: Math.round(mine),
      unit: "tasks/s",
      regime,
      count: DEPENDENT_PAIRS,
      what: regime === "cold" ? `the first ${DEPENDENT_PAIRS} b.add(a.add(i)) of a fresh runtime (tesserae made by them, a and b on the two workers), then runtime.barrier(); counts the dependent tasks` : `${DEPENDENT_PAIRS} more, median of ${WARM_CALL_ROUNDS} rounds`,
      ...(theirs === undefined ? {} : { piscina: Math.round(theirs), ratio_piscina: round(mine / theirs, 3), piscina_kind: `${PISCINA_KIND}, a fresh pool; pool.run(add).then((x) => pool.run(add of x)) per pair` }),
    });
  }
  emitFigures(ours, peer, memcpyMs);
  const touched = gbps(256 * MiB, memcpyMs.get(256)!.touched);
  const warmPool = gbps(256 * MiB, warmPoolMs.headToWorker);
  emit({ bench: BENCH, metric: "head_to_worker_256MiB_cold_warmpool", value: round(warmPool, 3), unit: "GB/s", regime: "cold", size_bytes: 256 * MiB, baseline: round(touched, 3), ratio: round(warmPool / touched, 3), baseline_kind: "in-process memcpy into touched memory, same run", what: "await a.sum(array).result(), the first 256 MiB argument of a fresh runtime started with warmPool: 256 MiB, once the head prepared it" });
  const warmBack = gbps(256 * MiB, warmPoolMs.workerToHead);
  emit({ bench: BENCH, metric: "worker_to_head_256MiB_cold_warmpool", value: round(warmBack, 3), unit: "GB/s", regime: "cold", size_bytes: 256 * MiB, baseline: round(touched, 3), ratio: round(warmBack / touched, 3), baseline_kind: "in-process memcpy into touched memory, same run", what: "await b.get().result(), the first 256 MiB result of a fresh runtime started with warmPool: 256 MiB, once the tessera's thread prepared its segment" });
  const firstCall = gbps(256 * MiB, firstCallMs);
  emit({ bench: BENCH, metric: "head_to_worker_256MiB_first_call", value: round(firstCall, 3), unit: "GB/s", regime: "cold", ms: round(firstCallMs, 1), size_bytes: 256 * MiB, baseline: round(touched, 3), ratio: round(firstCall / touched, 3), baseline_fresh: round(gbps(256 * MiB, memcpyMs.get(256)!.fresh), 3), baseline_kind: "in-process memcpy into touched memory, same run (baseline_fresh: into fresh memory)", what: "a = Store.remote(); await a.sum(array).result() at once, in a fresh runtime: the tessera's creation (its thread started) and the first 256 MiB argument, over the whole time" });
  note(`${BENCH}: done in ${Math.round(performance.now() - started)} ms`);
} finally {
  try {
    pingSocket?.end();
    await mosaic.stop();
  } finally {
    await stopPeers(children);
    exitGuard(BENCH);
  }
}
