/**
 * Actor benchmarks on a local runtime of 1 node and 2 workers, each figure
 * next to a raw Bun TCP baseline measured in the same run, alternating with
 * it so that both see the same machine state:
 *
 * 1. a no-op call with its result fetched (`await a.noop().result()`), next to
 *    a raw 32 B TCP ping-pong with a child Bun process (echo-server.ts);
 * 2. `await a.noop()` alone (completion, no result transfer), same baseline;
 *    both with the head on one CPU and the worker (every thread) and the echo
 *    peer pinned beside it (`*_median`, one context switch per hop) or on the
 *    other CPU (`*_cross_cpu`, one vCPU wake-up per hop: ~30-70 us on these
 *    VMs): like for like, as in runtime.bench.ts. Unpinned (`*_os_scheduled`)
 *    the ratio measures where the scheduler put each peer more than anything
 *    the runtime does (the peer it keeps on the head's CPU answers in ~10 us,
 *    the other in ~70), so it is reported without a target;
 * 3. pipelined calls from the head to two tesserae on different workers, then
 *    `runtime.barrier()`, next to pipelined 64 B one-way messages to a counting
 *    sink (actors-sink.ts) that acknowledges with counts;
 * 4. dependent calls `b.add(a.add(i))` across workers (a's small results come
 *    to the head with their completions and go on with b's calls straight to
 *    b's thread), next to pipelined 64 B echoes; and one such pair awaited at a
 *    time (`dependent_round_trip_os_scheduled`, two calls per raw ping, unpinned);
 * 5. creating 10,000 tesserae and awaiting their construction, next to the
 *    same number of pipelined 64 B echoes.
 *
 * 3 and 4 are steady figures: measured once JSC has compiled the path (warm-up
 * rounds until its compiler threads take under JIT_SETTLED_SHARE of a round's
 * CPU; `settling_rounds` says how many it took). usage.bench.ts gives the
 * first calls of a run and the rounds right after them.
 *
 * Every task is checked afterwards: a round with failed tasks (a worker that
 * died, say) is reported with `failed_tasks` and ok: false, the runtime is
 * restarted for the next phase, and the process exits with code 1.
 *
 * This file is also the program the runtime's children run (`bun <this file>
 * --role ...`) and that their tessera threads load: the tessera class is
 * declared before `mosaic.init()`, which hands those over and never returns,
 * so nothing below it runs there.
 */
import type { Socket, Subprocess } from "bun";
import * as mosaic from "../src/index.ts";
import { tessera, TimeoutError, type HeadRuntime, type TaskProxy } from "../src/index.ts";
import { alternate, emit, emitLatency, exitGuard, jitShare, keepingAffinity, median, note, ownCpus, round, setAffinity } from "./_lib.ts";
import { connectPing, connectWithWriter, echoUnixName, PING_BASELINE_KIND, type SocketWriter, spawnPeer, stopPeers, UNIX_PING_KIND } from "./_raw.ts";

const Noop = tessera(
  class Noop {
    noop() {
      return 1;
    }
    add(x: number) {
      return x + 1;
    }
    floats(n: number) {
      return new Float32Array(n);
    }
  },
);

const BENCH = "actors";
const OPTIONS = { numWorkers: 2, logLevel: "error" } as const;

/**
 * Sequential round trips: alternating raw / mosaic, warm-up then measured. A steady figure: JSC's optimizing
 * tier keeps compiling the call path's functions (~110 of them, 1.5-2.5 ms each, on each process) for the
 * first ~40,000 round trips, which ran 45-48 us against ~30 once it was done (one worker, unpinned); with 2,000
 * the figures were of that warm-up (usage.bench.ts reports the first calls as a program meets them).
 */
const LATENCY_WARMUP = 40_000;
const LATENCY_PHASE_WARMUP = 300;
const LATENCY_COUNT = 5000;

const PIPELINED_CALLS = 300_000;
const PIPELINED_WARMUP_CALLS = 100_000;
const DEPENDENT_PAIRS = 50_000;
const DEPENDENT_WARMUP_PAIRS = 20_000;
const CREATED_TESSERAE = 10_000;
const CREATED_WARMUP = 1_000;
/** Measured rounds per throughput figure (after one warm-up round)... */
const ROUNDS = 3;
/**
 * ...and, for pipelined and dependent calls, after warm-up rounds of the measured size until JSC's compiler
 * threads took under this share of the CPU of the head and workers in one (at most MAX_SETTLING_ROUNDS): after
 * one warm-up round they still took 15-50% of it in the next rounds (2026-12-04), the figure one of the JIT's
 * warm-up; usage.bench.ts reports the first calls of a run.
 */
const JIT_SETTLED_SHARE = 0.1;
const MAX_SETTLING_ROUNDS = 6;
/** ...unless the rounds of a figure have taken this long already (at least one is measured). */
const PHASE_BUDGET_MS = 8_000;
const MESSAGE_BYTES = 64;
/** Stage size for coalesced raw writes: the runtime's FrameWriter stages 64 KiB too. */
const STAGE_BYTES = 64 * 1024;
const ECHO_BASELINE_KIND = `raw pipelined ${MESSAGE_BYTES} B messages echoed by a child Bun process over one TCP connection (round trips/s), coalesced into ${STAGE_BYTES / 1024} KiB writes`;
/** No round may hang the benchmark. */
const BARRIER_TIMEOUT_MS = 30_000;

let runtime: HeadRuntime = await mosaic.init(OPTIONS);

type NoopProxy = ReturnType<typeof Noop.remote>;

/** Children spawned here, killed by their pids at the end. */
const children: Subprocess[] = [];
/** Raw sockets, ended at the end. */
const sockets: Socket<undefined>[] = [];
/** Rounds in which tasks failed: the run is reported as failed. */
let failures = 0;

// ------------------------------------------------------------- raw peers

/** Calls `onMessage(bytes, at)` for every fixed-size message of a byte stream cut into chunks. */
class FixedSplitter {
  #size: number;
  #carry: Uint8Array;
  #carried = 0;
  #onMessage: (bytes: Uint8Array, at: number) => void;

  constructor(size: number, onMessage: (bytes: Uint8Array, at: number) => void) {
    this.#size = size;
    this.#carry = new Uint8Array(size);
    this.#onMessage = onMessage;
  }

  push(chunk: Uint8Array): void {
    const size = this.#size;
    let at = 0;
    if (this.#carried > 0) {
      const take = Math.min(size - this.#carried, chunk.length);
      this.#carry.set(chunk.subarray(0, take), this.#carried);
      this.#carried += take;
      at = take;
      if (this.#carried < size) return;
      this.#onMessage(this.#carry, 0);
      this.#carried = 0;
    }
    for (; at + size <= chunk.length; at += size) this.#onMessage(chunk, at);
    if (at < chunk.length) {
      this.#carry.set(chunk.subarray(at), 0);
      this.#carried = chunk.length - at;
    }
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/**
 * Pipelined 64 B messages, each written into a 64 KiB stage (sequence number
 * at offset 0) and sent when the stage fills, as the runtime's FrameWriter
 * does. The peer confirms them: by echoing each back (checked here one by
 * one) or, for the sink, by sending counts.
 */
class PipelinedClient {
  socket!: Socket<undefined>;
  #writer!: SocketWriter;
  #template = new Uint8Array(MESSAGE_BYTES).fill(0x61);
  #stage = new Uint8Array(STAGE_BYTES);
  #staged = 0;
  #sent = 0;
  #acked = 0;
  #target = 0;
  #done: (() => void) | undefined;

  static async connect(port: number, replies: "echo" | "counts"): Promise<PipelinedClient> {
    const client = new PipelinedClient();
    const splitter =
      replies === "echo"
        ? new FixedSplitter(MESSAGE_BYTES, (bytes, at) => {
            const sequence = readU32(bytes, at);
            if (sequence !== client.#acked >>> 0) throw new Error(`echo peer returned message ${sequence} where ${client.#acked} was due`);
            client.#ack(client.#acked + 1);
          })
        : new FixedSplitter(8, (bytes, at) => client.#ack(new DataView(bytes.buffer, bytes.byteOffset + at, 8).getFloat64(0, true)));
    const { socket, writer } = await connectWithWriter(port, (chunk) => splitter.push(chunk));
    sockets.push(socket);
    client.socket = socket;
    client.#writer = writer;
    return client;
  }

  #ack(count: number): void {
    this.#acked = count;
    if (this.#acked >= this.#target && this.#done) {
      const wake = this.#done;
      this.#done = undefined;
      wake();
    }
  }

  #flush(): void {
    if (this.#staged === 0) return;
    // The writer may keep the unsent tail by reference: never reuse a handed-over stage.
    this.#writer.write(this.#stage.subarray(0, this.#staged));
    this.#stage = new Uint8Array(STAGE_BYTES);
    this.#staged = 0;
  }

  /** Sends `count` messages and resolves when the peer has confirmed all of them; returns ms. */
  async round(count: number): Promise<number> {
    const t0 = performance.now();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#target = this.#sent + count;
    this.#done = resolve;
    for (let i = 0; i < count; i++) {
      if (this.#staged + MESSAGE_BYTES > STAGE_BYTES) this.#flush();
      const at = this.#staged;
      const sequence = this.#sent++;
      this.#stage.set(this.#template, at);
      this.#stage[at] = sequence & 0xff;
      this.#stage[at + 1] = (sequence >>> 8) & 0xff;
      this.#stage[at + 2] = (sequence >>> 16) & 0xff;
      this.#stage[at + 3] = (sequence >>> 24) & 0xff;
      this.#staged += MESSAGE_BYTES;
    }
    this.#flush();
    if (this.#acked >= this.#target) this.#done = undefined;
    else await promise;
    return performance.now() - t0;
  }
}

// ------------------------------------------------------------- mosaic helpers

let a!: NoopProxy;
let b!: NoopProxy;

/** a on worker:0:0, b on worker:0:1, constructed. */
async function placePair(): Promise<void> {
  a = Noop.options({ worker: "worker:0:0" }).remote();
  b = Noop.options({ worker: "worker:0:1" }).remote();
  await Promise.all([a, b]);
}

/** Set when a round failed or timed out: its tasks may still be running. */
let damaged = false;

/** After a round that failed (a worker lost, a barrier timed out), the next phase gets a fresh runtime. */
async function ensureRuntime(): Promise<void> {
  if (!damaged && runtime.state === "running" && runtime.numWorkers === OPTIONS.numWorkers && a.state === "ready" && b.state === "ready") return;
  damaged = false;
  note(`${BENCH}: restarting the runtime (workers: ${runtime.workers.map((w) => w.uid).join(", ") || "none"})`);
  await mosaic.stop();
  runtime = await mosaic.init(OPTIONS);
  await placePair();
}

/** The first error among tasks that did not complete, and how many. */
function failedTasks(tasks: readonly TaskProxy<any>[]): { failed: number; error?: string } {
  let failed = 0;
  let error: string | undefined;
  for (const task of tasks) {
    if (task.state === "done") continue;
    failed++;
    error ??= task.error?.message ?? `task left ${task.state}`;
  }
  return error === undefined ? { failed } : { failed, error };
}

/** Lets the head collect dropped proxies (their results are released on the workers) outside the timed windows. */
async function settle(): Promise<void> {
  Bun.gc(true);
  await Bun.sleep(50);
}

// ------------------------------------------------------------- latency

interface LatencyCase {
  metric: string;
  what: string;
  call: () => Promise<unknown>;
  /** Target on the median ratio of the headline (not pinned) figure. */
  maxRatio?: number;
}

/**
 * The raw baseline over a Unix socket (the transport of runtimes of one machine), against the TCP one,
 * alternated in the same placement: the call figures' ratios are to TCP, this says what the same ping costs there.
 */
async function unixBaseline(ping: () => Promise<void>, unixPing: () => Promise<void>, placement: string, suffix: string): Promise<number> {
  const samples = await alternate(LATENCY_PHASE_WARMUP, LATENCY_COUNT, ping, unixPing);
  const unix = median(samples.mosaic);
  const tcp = median(samples.raw);
  note(`${BENCH}: raw ping (${placement}): Unix socket ${round(unix, 1)} us, TCP ${round(tcp, 1)} us`);
  emit({ bench: BENCH, metric: `raw_unix_ping_median${suffix}`, value: round(unix, 2), unit: "us", baseline: round(tcp, 2), ratio: round(unix / tcp, 2), samples: samples.mosaic.length, placement, what: UNIX_PING_KIND, baseline_kind: PING_BASELINE_KIND });
  return unix;
}

async function latency(ping: () => Promise<void>, cases: LatencyCase[], placement: string, suffix: string, headline: boolean, unixPing?: () => Promise<void>): Promise<void> {
  const unix = unixPing ? await unixBaseline(ping, unixPing, placement, suffix) : undefined;
  for (const { metric, what, call, maxRatio } of cases) {
    await settle();
    const samples = await alternate(LATENCY_PHASE_WARMUP, LATENCY_COUNT, ping, call);
    emitLatency({
      bench: BENCH,
      name: metric,
      suffix,
      label: `${metric} (${placement})`,
      samples,
      fields: { placement, what, baseline_kind: PING_BASELINE_KIND },
      // Runtimes of one machine link over Unix sockets: the same call against that transport's own raw ping.
      medianFields: unix === undefined ? undefined : { baseline_unix: round(unix, 2), ratio_unix: round(median(samples.mosaic) / unix, 2), baseline_unix_kind: UNIX_PING_KIND },
      maxRatio: headline ? maxRatio : undefined,
    });
  }
}

async function latencies(ping: () => Promise<void>, echoPid: number, unixPing: (() => Promise<void>) | undefined): Promise<void> {
  const cases: LatencyCase[] = [
    {
      metric: "noop_result_round_trip",
      what: "await a.noop().result(), a on worker:0:0",
      maxRatio: 3,
      call: async () => {
        if ((await a.noop().result()) !== 1) throw new Error("a.noop() did not return 1");
      },
    },
    {
      metric: "await_task",
      what: "await a.noop() (completion only, no result transfer), a on worker:0:0",
      call: async () => {
        await a.noop();
      },
    },
  ];
  await alternate(LATENCY_WARMUP, 0, ping, cases[0]!.call);
  // As scheduled by the OS: what a program sees, but not a like-for-like ratio (see the header).
  await latency(ping, cases, "os-scheduled", "_os_scheduled", false, unixPing);
  // Two calls on two workers, the second taking the first's result: against one ping, unpinned only (b's worker is never pinned).
  const dependent: LatencyCase = {
    metric: "dependent_round_trip",
    what: "await b.add(a.add(1)).result(), a on worker:0:0, b on worker:0:1",
    call: async () => {
      if ((await b.add(a.add(1)).result()) !== 3) throw new Error("b.add(a.add(1)) did not return 3");
    },
  };
  await alternate(LATENCY_WARMUP, 0, ping, dependent.call);
  await latency(ping, [dependent], "os-scheduled", "_os_scheduled", false);
  // A result over 1 KiB (which stays on the worker until asked for): result() asks the thread for it with the completion.
  const array: LatencyCase = {
    metric: "array_result_round_trip_16KiB",
    what: "await a.floats(4096).result(): a 16 KiB Float32Array made by the call, a on worker:0:0",
    call: async () => {
      if ((await a.floats(4096).result()).length !== 4096) throw new Error("a.floats(4096) did not return 4096 floats");
    },
  };
  await alternate(LATENCY_WARMUP / 4, 0, ping, array.call);
  await latency(ping, [array], "os-scheduled", "_os_scheduled", false);

  // Pinned like for like: the head on one CPU; every thread of worker:0:0 and the echo peer
  // on the same CPU (a context switch per hop) or on the other one (a vCPU wake-up per hop).
  const cpus = ownCpus();
  if (cpus.length === 0) return note(`${BENCH}: taskset unavailable: no pinned latency figures`);
  const worker = runtime.getWorker("worker:0:0");
  const pids = [process.pid, worker.pid, echoPid];
  await keepingAffinity(pids, async () => {
    const placements: [name: string, peerCpu: number, suffix: string][] = [[`same-cpu (all on CPU ${cpus[0]})`, cpus[0]!, ""]];
    if (cpus.length >= 2) placements.push([`cross-cpu (head on CPU ${cpus[0]}, worker and echo peer on CPU ${cpus[1]})`, cpus[1]!, "_cross_cpu"]);
    for (const [name, peerCpu, suffix] of placements) {
      const ok = setAffinity(process.pid, String(cpus[0])) && setAffinity(worker.pid, String(peerCpu)) && setAffinity(echoPid, String(peerCpu));
      if (!ok) throw new Error(`could not pin processes for ${name}`);
      await latency(ping, cases, name, suffix, true, unixPing);
    }
  });
}

// ------------------------------------------------------------- throughput

interface RoundResult {
  ms: number;
  submitMs: number;
  failed: number;
  error?: string;
}

interface Rounds {
  mosaic: number[];
  raw: number[];
  submitMs: number[];
  failed: number;
  error?: string;
}

/** Rounds of a mosaic burst and its raw baseline, alternating; rates per second. */
async function rateRounds(label: string, mosaicRound: () => Promise<RoundResult>, rawRound: () => Promise<number>, count: number): Promise<Rounds> {
  const result: Rounds = { mosaic: [], raw: [], submitMs: [], failed: 0 };
  const started = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    if (r > 0 && performance.now() - started > PHASE_BUDGET_MS) {
      note(`${BENCH}: ${label}: ${r} round(s) only, the phase took longer than ${PHASE_BUDGET_MS} ms`);
      break;
    }
    const rawMs = await rawRound();
    await settle();
    const round_ = await mosaicRound();
    result.raw.push((count * 1000) / rawMs);
    result.mosaic.push((count * 1000) / round_.ms);
    result.submitMs.push(round_.submitMs);
    note(
      `${BENCH}: ${label} round ${r + 1}: mosaic ${Math.round(result.mosaic.at(-1)!)}/s (${round(round_.ms, 1)} ms, submitted in ${round(round_.submitMs, 1)} ms), raw ${Math.round(result.raw.at(-1)!)}/s (${round(rawMs, 1)} ms)` +
        (round_.failed > 0 ? `; ${round_.failed} tasks FAILED: ${round_.error}` : ""),
    );
    await settle();
    if (round_.failed > 0) {
      result.failed += round_.failed;
      result.error ??= round_.error;
      damaged = true;
      break; // no more rounds of this figure; the next phase restarts the runtime
    }
  }
  if (result.failed > 0) failures++;
  return result;
}

function emitRate(metric: string, unit: string, rounds: Rounds, count: number, extra: Record<string, unknown>, minimum: number): void {
  const healthy = rounds.failed === 0;
  const failure = healthy ? {} : { failed_tasks: rounds.failed, error: rounds.error };
  const figure = (statistic: string, mosaicRate: number, rawRate: number, fields: Record<string, unknown>) =>
    emit({
      bench: BENCH,
      metric: `${metric}_${statistic}`,
      value: Math.round(mosaicRate),
      unit,
      baseline: Math.round(rawRate),
      ratio: round(mosaicRate / rawRate, 4),
      rounds: rounds.mosaic.length,
      count,
      ...fields,
      ...extra,
      ...failure,
      target: `>= ${minimum}`,
      ok: healthy && mosaicRate >= minimum,
    });
  figure("median", median(rounds.mosaic), median(rounds.raw), { submit_ms_median: round(median(rounds.submitMs), 1) });
  figure("best", Math.max(...rounds.mosaic), Math.max(...rounds.raw), {});
}

/** Waits for every task submitted so far (within BARRIER_TIMEOUT_MS), then checks them all. */
async function finishRound(t0: number, t1: number, tasks: readonly TaskProxy<any>[]): Promise<RoundResult> {
  let timeout: string | undefined;
  await runtime.barrier(BARRIER_TIMEOUT_MS).catch((error: Error) => {
    if (!(error instanceof TimeoutError)) throw error;
    timeout = error.message;
  });
  const ms = performance.now() - t0;
  const outcome = failedTasks(tasks);
  return { ms, submitMs: t1 - t0, ...outcome, ...(timeout === undefined ? {} : { error: timeout }) };
}

/** (i & 1 ? a : b).noop() without awaiting, then the barrier. */
async function pipelinedRound(calls: number): Promise<RoundResult> {
  const tasks: TaskProxy<number>[] = new Array(calls);
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) tasks[i] = (i & 1 ? a : b).noop();
  const t1 = performance.now();
  return finishRound(t0, t1, tasks);
}

/** b.add(a.add(i)): a's result goes on from the head with b's call (small), or worker to worker. */
async function dependentRound(pairs: number): Promise<RoundResult> {
  const tasks: TaskProxy<number>[] = new Array(2 * pairs);
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) {
    const upstream = a.add(i);
    tasks[2 * i] = upstream;
    tasks[2 * i + 1] = b.add(upstream);
  }
  const t1 = performance.now();
  return finishRound(t0, t1, tasks);
}

/** N tesserae placed by the monitor, awaited until constructed, then released. */
async function createRound(count: number): Promise<RoundResult> {
  const t0 = performance.now();
  const proxies = Array.from({ length: count }, () => Noop.remote());
  const t1 = performance.now();
  let error: string | undefined;
  await Promise.all(proxies).catch((reason: Error) => {
    error = reason.message;
  });
  const ms = performance.now() - t0;
  if (error !== undefined) await Promise.allSettled(proxies);
  const failed = proxies.filter((proxy) => proxy.state !== "ready").length;
  const placed = new Map<string, number>();
  for (const proxy of proxies) placed.set(proxy.runtime ?? "none", (placed.get(proxy.runtime ?? "none") ?? 0) + 1);
  for (const proxy of proxies) proxy.release();
  note(`${BENCH}: created ${count} tesserae: ${[...placed].map(([worker, n]) => `${n} on ${worker}`).join(", ")}`);
  return error === undefined && failed === 0 ? { ms, submitMs: t1 - t0, failed } : { ms, submitMs: t1 - t0, failed, error: error ?? "tessera not ready" };
}

interface RateFigure {
  /** Names the rounds in the commentary. */
  label: string;
  metric: string;
  unit: string;
  /** Operations in a measured round, and in the warm-up round. */
  count: number;
  warmup: number;
  mosaicRound: (count: number) => Promise<RoundResult>;
  raw: PipelinedClient;
  what: string;
  baselineKind: string;
  /** Target: at least this many per second. */
  minimum: number;
  /** Measured once the JIT has settled (see JIT_SETTLED_SHARE). */
  steady?: boolean;
}

/** A warm-up round of each, then alternating measured rounds, emitted as `<metric>_median` and `<metric>_best`. */
async function rateFigure(figure: RateFigure): Promise<void> {
  const { label, metric, unit, count, warmup, mosaicRound, raw, what, baselineKind, minimum } = figure;
  await settle();
  await raw.round(warmup);
  await mosaicRound(warmup);
  const settling = figure.steady ? await untilCompiled(label, () => mosaicRound(count)) : {};
  const rounds = await rateRounds(label, () => mosaicRound(count), () => raw.round(count), count);
  emitRate(metric, unit, rounds, count, { what, baseline_kind: baselineKind, ...settling }, minimum);
}

/** Warm-up rounds until the JIT's share of a round's CPU is under JIT_SETTLED_SHARE (or MAX_SETTLING_ROUNDS). */
async function untilCompiled(label: string, warmupRound: () => Promise<unknown>): Promise<{ settling_rounds: number; settling_jit_share?: number }> {
  const pids = [process.pid, ...runtime.workers.map((worker) => worker.pid)];
  let share: number | undefined;
  let rounds = 0;
  do {
    share = await jitShare(pids, warmupRound);
    rounds++;
    note(`${BENCH}: ${label}: settling round ${rounds}: JIT threads ${share === undefined ? "unknown" : `${round(100 * share, 1)}%`} of the CPU`);
  } while (share !== undefined && share > JIT_SETTLED_SHARE && rounds < MAX_SETTLING_ROUNDS);
  return { settling_rounds: rounds, ...(share === undefined ? {} : { settling_jit_share: round(share, 3) }) };
}

// ------------------------------------------------------------- main

try {
  const [echoPeer, sinkPeer] = await Promise.all([spawnPeer(children, "echo-server.ts"), spawnPeer(children, "actors-sink.ts")]);
  const { socket: pingSocket, ping } = await connectPing(echoPeer.port);
  sockets.push(pingSocket);
  const unixPing = process.platform === "linux" ? await connectPing(echoPeer.port, echoUnixName(echoPeer.process.pid)) : undefined;
  if (unixPing) sockets.push(unixPing.socket);
  const echo = await PipelinedClient.connect(echoPeer.port, "echo");
  const sink = await PipelinedClient.connect(sinkPeer.port, "counts");
  await placePair();

  // 1 and 2: latency of one call.
  await latencies(ping, echoPeer.process.pid, unixPing?.ping);

  // 3. Pipelined calls to two tesserae on different workers.
  await ensureRuntime();
  await rateFigure({
    label: "pipelined calls",
    metric: "pipelined_calls_per_s",
    unit: "calls/s",
    count: PIPELINED_CALLS,
    warmup: PIPELINED_WARMUP_CALLS,
    mosaicRound: pipelinedRound,
    raw: sink,
    what: "(i & 1 ? a : b).noop() from the head, a on worker:0:0, b on worker:0:1, then runtime.barrier()",
    baselineKind: `raw pipelined ${MESSAGE_BYTES} B one-way messages over one TCP connection, coalesced into ${STAGE_BYTES / 1024} KiB writes, to a child Bun process that checks each and acknowledges counts`,
    minimum: 250_000,
    steady: true,
  });

  // 4. Dependent tasks across workers.
  await ensureRuntime();
  const check = await b.add(a.add(41)).result();
  if (check !== 43) throw new Error(`b.add(a.add(41)) returned ${check}, expected 43`);
  await rateFigure({
    label: "dependent tasks",
    metric: "dependent_tasks_per_s",
    unit: "tasks/s",
    count: DEPENDENT_PAIRS,
    warmup: DEPENDENT_WARMUP_PAIRS,
    mosaicRound: dependentRound,
    raw: echo,
    what: "b.add(a.add(i)) from the head, a on worker:0:0, b on worker:0:1, then runtime.barrier(); counts the N dependent tasks (2N tasks run)",
    baselineKind: ECHO_BASELINE_KIND,
    minimum: 50_000,
    steady: true,
  });

  // 5. Creating tesserae.
  await ensureRuntime();
  await rateFigure({
    label: "tessera creation",
    metric: "tesserae_created_per_s",
    unit: "tesserae/s",
    count: CREATED_TESSERAE,
    warmup: CREATED_WARMUP,
    mosaicRound: createRound,
    raw: echo,
    what: "Array.from({ length: N }, () => Noop.remote()) (placed by the monitor), then await Promise.all(proxies); released afterwards",
    baselineKind: ECHO_BASELINE_KIND,
    minimum: 20_000,
  });

  if (failures > 0) {
    note(`${BENCH}: tasks failed in ${failures} figure(s): see failed_tasks above`);
    process.exitCode = 1;
  }
} finally {
  try {
    for (const socket of sockets) socket.end();
    await mosaic.stop();
  } finally {
    await stopPeers(children);
    exitGuard(BENCH);
  }
}
