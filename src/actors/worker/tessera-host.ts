/**
 * The worker's main-thread side of the actor model: receives creations and
 * calls, resolves their task dependencies (fetching results straight from the
 * workers that hold them), hands them to tessera threads in call order, keeps
 * task results (encoded) until released, and reports completions to callers.
 */
import { Worker } from "node:worker_threads";
import { DependencyError, describeError, type ErrorDescription, RemoteError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import { PUBLISHED, type TaskReference } from "../wire/value-codec.ts";
import { compact, copyToShared, postBatch, sharePayload, THREAD_MARKER } from "../thread/channel.ts";
import type { RuntimeLinks } from "../links.ts";
import { type Dependencies, type HeadAddress, Op, type Posted, type PostedDependencies, Report, type ThreadOp, type ThreadReport, type Value } from "../thread/thread.ts";
import { type Connection, WithPayloads } from "../../comms/connection.ts";
import { referenceFromWire, type WireReference } from "../wire/call-message.ts";
import { discardSegment, holdMapping, mapSegment, onThreadTrimRequest, segmentIdleTime, sharedMemoryCounters, threadRealm, whenUnmapped } from "../../comms/shared-memory/index.ts";
import { Fifo } from "../../_util/fifo.ts";
import { Recent } from "../../_util/recent.ts";
import { RemoteResults, type ResultEntry, resultsReply } from "./remote-results.ts";
import { type Spillable, SpillStore } from "../../warehouse/spill-store.ts";

const EMPTY: Value = [new Uint8Array(0), []];

/**
 * A copy of a value kept here, for a reader that may change it (and that may
 * still wait for other dependencies when the original's record is released).
 */
function copyValue([bytes, payloads]: Value): Value {
  return [bytes, payloads.map(copyToShared)];
}


/** A Value as a reply: raw payloads travel beside the body. */
export function fromValue([bytes, payloads]: Value): Uint8Array | WithPayloads<Uint8Array> {
  return payloads.length > 0 ? new WithPayloads(bytes, payloads) : bytes;
}

interface TaskRecord extends Spillable {
  state: "pending" | "done" | "failed";
  /** The thread a call was handed to (its failure fails only what ran there). */
  thread?: TesseraThread;
  result?: Value;
  error?: ErrorDescription;
  released: boolean;
  /** Who waits for the result here (dependencies, `result` requests); made when the first one comes. */
  waiters?: { resolve: (value: Value) => void; reject: (error: Error) => void }[];
  /** The connection of the runtime that made the call: it hears of the completion. */
  owner?: Connection;
}

type Pending = (
  | { kind: "create"; key: string; args: Value; refs: TaskReference[]; done: PromiseWithResolvers<number> }
  | { kind: "call"; task: number; method: string; args: Value; refs: TaskReference[]; owner: Connection; seq: number }
) & {
  /** Started when the call arrives, so that the fetches of queued calls overlap. */
  deps?: Promise<Dependencies>;
  /** Set once `deps` settles (so the backlog can run on without waiting again). */
  resolved?: { deps: Dependencies } | { error: Error };
};

interface HostedTessera {
  id: number;
  thread: TesseraThread;
  /** Calls waiting for their dependencies; later calls wait behind them to keep call order. */
  backlog: Fifo<Pending>;
  resolving: boolean;
  created: PromiseWithResolvers<number> | undefined;
  /** Released while calls still waited for dependencies: the thread lets it go after them (and after call `seq`). */
  releaseAfterBacklog?: { calls: number };
}

/** How a worker's tessera threads are run. */
export interface HostSettings {
  /** Threads it may start for tesserae. */
  maxThreads: number;
  /** The module a tessera thread runs: the user's program, which declares the tessera classes. */
  program: string;
  /** Bytes this worker may use (its threads check what they receive against it; half of it before results spill). */
  memoryLimit: number;
  /** Where tessera threads dial the head (their own link for completions); undefined: through the main thread. */
  headAddress: () => HeadAddress | undefined;
}

/** A `call` command: [tessera, task, method, encoded arguments, references, place among the tessera's calls]. */
export type CallArgs = [tessera: number, task: number, method: string, args: Uint8Array, refs: WireReference[], seq: number];

/** Ops (and reports) per message between threads during a burst. */
const BATCH_SLICE = 256;

class TesseraThread {
  readonly worker: Worker;
  readonly index: number;
  tesserae = 0;
  #ready = false;
  #outbox: ThreadOp[] = [];
  #exited = false;

  constructor(index: number, host: TesseraHost) {
    this.index = index;
    const realm = threadRealm();
    this.worker = new Worker(host.settings.program, {
      workerData: { marker: THREAD_MARKER, uid: host.uid, thread: index, head: host.settings.headAddress(), memoryLimit: host.settings.memoryLimit,
        sharedMemoryCounters: sharedMemoryCounters(), realmCounters: realm.buffer, segmentIdleTime: segmentIdleTime(),
      },
    });
    this.worker.on("message", (reports: ThreadReport[]) => {
      for (const report of reports) {
        if (report[0] === Report.Ready) {
          this.#ready = true;
          this.#flush();
        } else {
          try {
            host.onReport(report, this);
          } catch (error) {
            host.runtime.logger.error(`report from tessera thread ${index} failed: ${(error as Error).message}`);
          }
        }
      }
    });
    this.worker.on("error", (error: Error) => host.runtime.logger.error(`tessera thread ${index} failed: ${error.message}`));
    this.worker.on("exit", (code) => {
      this.#exited = true;
      realm.end();
      host.onThreadExit(this, code);
    });
  }

  /** Garbage collections asked of this thread and not yet reported (settled if it exits). */
  collections: (() => void)[] = [];

  get exited(): boolean {
    return this.#exited;
  }

  post(op: ThreadOp): void {
    if (this.#exited) return;
    this.#outbox.push(op);
    if (!this.#ready) return;
    if (this.#outbox.length === 1) queueMicrotask(() => this.#flush());
    // Long bursts leave in slices so the thread starts while we still decode.
    else if (this.#outbox.length >= BATCH_SLICE) this.#flush();
  }

  #flush(): void {
    if (this.#outbox.length === 0) return;
    const batch = this.#outbox;
    this.#outbox = [];
    postBatch(this.worker, batch);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class TesseraHost {
  readonly runtime: RuntimeLinks;
  readonly settings: HostSettings;
  readonly uid: string;
  #maxThreads: number;
  #threads: TesseraThread[] = [];
  #tesserae = new Map<number, HostedTessera>();
  #tasks = new Map<number, TaskRecord>();
  #reports = new Map<Connection, { done: number[]; failed: [number, ErrorDescription][] }>();

  readonly #remote: RemoteResults;

  /**
   * Ids released, dropped or abandoned here (the most recent ones): a late
   * request for one fails at once instead of waiting for a call that will not come.
   */
  #gone = new Recent<number, string>(100_000);

  #markGone(id: number, reason: string): void {
    this.#gone.set(id, reason);
  }

  #goneError(id: number): Error {
    return new RuntimeStateError(`result or object #${id} is no longer on ${this.uid}: ${this.#gone.get(id)}`);
  }

  /** The head gave up on calls it never sent (their tessera failed): whoever waits for them fails. */
  abandon([ids, error]: [number[], ErrorDescription]): void {
    for (const id of ids) {
      this.#markGone(id, `its call was abandoned (${error.message})`);
      const record = this.#tasks.get(id);
      if (record?.state === "pending") this.#finishTask(id, undefined, error);
    }
  }

  /** Results for another worker's dependencies: what is settled now, in one reply (the rest is asked for one by one). */
  resultValues(items: [number, boolean][]): ResultEntry[] | WithPayloads<ResultEntry[]> {
    return resultsReply(
      items.map(([id, data]) => {
        const record = this.#tasks.get(id);
        if (record?.state === "done") {
          if (!data) return { ready: EMPTY };
          if (record.spilled || record.result![1].length > 0) this.#spill.touch(id, record);
          return { ready: record.result! };
        }
        if (record?.state === "failed") return { failed: new RemoteError(record.error!) };
        if (this.#gone.has(id)) return { failed: this.#goneError(id) };
        return undefined;
      }),
      this.uid,
    );
  }

  /** Stored values past half the worker's memory budget go to disk, coldest first. */
  readonly #spill: SpillStore;


  constructor(runtime: RuntimeLinks, settings: HostSettings) {
    this.runtime = runtime;
    this.settings = settings;
    this.#spill = new SpillStore(Math.floor(settings.memoryLimit / 2), runtime.uid);
    this.#remote = new RemoteResults(runtime);
    this.uid = runtime.uid;
    this.#maxThreads = settings.maxThreads;
    // Memory runs short (see fitsMemory): the threads give up the free segments of their pools.
    onThreadTrimRequest(() => {
      for (const thread of this.#threads) thread.post([Op.TrimPool]);
    });
    // One thread is started with the worker; more are added as tesserae arrive.
    this.#threads.push(new TesseraThread(0, this));
    this.#threadCount = 1;
  }

  /** The least loaded thread; a new one while every thread already hosts a tessera. */
  #pickThread(): TesseraThread {
    let best = this.#threads[0];
    for (const thread of this.#threads) if (thread.tesserae < best!.tesserae) best = thread;
    if (!best || (best.tesserae > 0 && this.#threads.length < this.#maxThreads)) {
      best = new TesseraThread(this.#threadCount++, this);
      this.#threads.push(best);
    }
    return best;
  }

  #threadCount = 1;

  /** Resolves with the index of the thread it lives on (the head sends its calls there directly). */
  create([id, key, bytes, refs]: [number, string, Uint8Array, TaskReference[]], payloads: Uint8Array[]): Promise<number> {
    const args: Value = [bytes, payloads];
    if (this.#tesserae.has(id)) return Promise.reject(new RuntimeStateError(`tessera #${id} exists already on ${this.uid}`));
    const thread = this.#pickThread();
    thread.tesserae++;
    const done = Promise.withResolvers<number>();
    const hosted: HostedTessera = { id, thread, backlog: new Fifo(), resolving: false, created: done };
    this.#tesserae.set(id, hosted);
    this.#enqueue(hosted, { kind: "create", key, args, refs, done });
    return done.promise;
  }

  call([tessera, task, method, bytes, wireRefs, seq]: CallArgs, owner: Connection, payloads: Uint8Array[]): void {
    const args: Value = [bytes, payloads];
    const refs = wireRefs.length === 0 ? (wireRefs as []) : wireRefs.map(referenceFromWire);
    const record = this.#tasks.get(task);
    if (record) record.owner = owner;
    else this.#tasks.set(task, { state: "pending", released: false, owner });
    const hosted = this.#tesserae.get(tessera);
    if (!hosted) {
      return this.#finishTask(task, undefined, describeError(new RuntimeStateError(`the tessera is not on ${this.uid} (released?)`), this.uid));
    }
    this.#enqueue(hosted, { kind: "call", task, method, args, refs, owner, seq });
  }

  /** A call that could not be taken (its arguments did not fit in memory): it fails at once. */
  failCall([tessera, task, , , , seq]: CallArgs, owner: Connection, error: Error): void {
    const record = this.#tasks.get(task);
    if (record) record.owner = owner;
    else this.#tasks.set(task, { state: "pending", released: false, owner });
    const hosted = this.#tesserae.get(tessera);
    // Behind what waits in the backlog (its creation, say): the thread learns of the skip in call order.
    if (hosted && hosted.backlog.length > 0) {
      return this.#enqueue(hosted, { kind: "call", task, method: "", args: EMPTY, refs: [], owner, seq, resolved: { error } });
    }
    this.#skip(hosted, seq);
    this.#finishTask(task, undefined, describeError(error, this.uid));
  }

  #enqueue(hosted: HostedTessera, pending: Pending): void {
    if (hosted.backlog.length === 0 && pending.refs.length === 0) return this.#dispatch(hosted, pending, null);
    if (pending.refs.length > 0) {
      pending.deps = this.#resolveReferences(pending.refs);
      pending.deps.then(
        (deps) => (pending.resolved = { deps }),
        (error: Error) => (pending.resolved = { error }),
      );
    }
    hosted.backlog.push(pending);
    if (!hosted.resolving) void this.#drain(hosted);
  }

  /**
   * Dispatches the backlog in order, waiting only when its head's dependencies
   * are not resolved yet: what resolved meanwhile goes out in one burst (one
   * message to the thread, not one per call).
   */
  async #drain(hosted: HostedTessera): Promise<void> {
    hosted.resolving = true;
    while (hosted.backlog.length > 0) {
      const pending = hosted.backlog.peek()!;
      if (pending.deps && !pending.resolved) {
        await pending.deps.catch(() => {});
        // `resolved` is set by a reaction registered before ours: it is there now.
        continue;
      }
      hosted.backlog.shift();
      const resolved = pending.resolved;
      if (resolved && "error" in resolved) {
        if (pending.kind === "create") pending.done.reject(resolved.error);
        else {
          this.#skip(hosted, pending.seq);
          this.#finishTask(pending.task, undefined, describeError(resolved.error, this.uid));
        }
      } else this.#dispatch(hosted, pending, resolved?.deps ?? null);
    }
    hosted.resolving = false;
    if (hosted.releaseAfterBacklog) hosted.thread.post([Op.Release, hosted.id, hosted.releaseAfterBacklog.calls]);
  }

  /** A call that will not reach the thread: the thread must not wait for its place in the order. */
  #skip(hosted: HostedTessera | undefined, seq: number): void {
    if (hosted && !hosted.thread.exited) hosted.thread.post([Op.Skip, hosted.id, seq]);
  }

  #resolveReferences(refs: TaskReference[]): Promise<Dependencies> {
    const deps: Record<number, Value> = {};
    // One reference (the common case): no bookkeeping of duplicates.
    if (refs.length === 1) {
      const ref = refs[0]!;
      return this.#resolveReference(ref, ref.index !== "done", deps).then(() => deps);
    }
    const wanted = new Map<number, [TaskReference, boolean]>();
    for (const ref of refs) {
      const entry = wanted.get(ref.id);
      const data = ref.index !== "done";
      if (entry) entry[1] ||= data;
      else wanted.set(ref.id, [ref, data]);
    }
    return Promise.all([...wanted.values()].map(([ref, data]) => this.#resolveReference(ref, data, deps))).then(() => deps);
  }

  async #resolveReference(ref: TaskReference, data: boolean, deps: Record<number, Value>): Promise<void> {
    try {
      const local = ref.worker === this.uid || ref.worker === PUBLISHED || this.#tasks.get(ref.id)?.state === "done";
      // A stored value read here is copied: the consumer may change its argument, the stored one must stay.
      const value = local ? copyValue(await this.resultValue([ref.id, data])) : await this.#remote.fetch(ref.worker, ref.id, data);
      // Warehouse objects read here are kept for later calls (dropping one clears every worker);
      // the call gets the fetched memory, the cache a copy of its own.
      if (!local && data && ref.task.startsWith("obj-")) this.#store(ref.id, copyValue(value));
      if (data) deps[ref.id] = value;
    } catch (error) {
      throw new DependencyError(`dependency ${ref.task} (on ${ref.worker}) failed: ${(error as Error).message}`, { cause: error });
    }
  }

  #dispatch(hosted: HostedTessera, pending: Pending, deps: Dependencies): void {
    if (hosted.thread.exited) {
      const error = describeError(new WorkerDiedError(this.uid, `the tessera thread of this call on ${this.uid} has exited`), this.uid);
      if (pending.kind === "create") pending.done.reject(new RemoteError(error));
      else this.#finishTask(pending.task, undefined, error);
      return;
    }
    const thread = hosted.thread;
    const args = this.#share(pending.args, thread);
    let posted: PostedDependencies = null;
    if (deps) {
      posted = {};
      for (const id in deps) posted[id] = this.#share(deps[id]!, thread);
    }
    if (pending.kind === "create") thread.post([Op.Create, hosted.id, pending.key, args, posted]);
    else {
      const record = this.#tasks.get(pending.task);
      if (record) record.thread = thread;
      thread.post([Op.Call, hosted.id, pending.task, pending.method, args, posted, pending.owner.peer?.uid === "head", pending.seq]);
    }
  }

  /** Holds on segments passed to tessera threads by name, by lease number, until the thread's mapping is collected. */
  #leases = new Map<number, { thread: TesseraThread; release: () => void }>();
  #nextLease = 1;

  /**
   * A value ready to post to `thread`: its body in memory of its own (it may
   * be a view of a socket chunk, which posting would copy whole); payloads in
   * shared memory as they are, mapped pooled segments by name (the thread maps
   * them too), anything else copied into shared memory.
   */
  #share([bytes, payloads]: Value, thread: TesseraThread): Posted {
    if (payloads.length === 0) return [compact(bytes), payloads];
    return [
      compact(bytes),
      payloads.map((payload) => {
        if (payload.buffer instanceof SharedArrayBuffer) return payload;
        const held = holdMapping(payload);
        if (!held) return sharePayload(payload);
        const lease = this.#nextLease++;
        this.#leases.set(lease, { thread, release: held.release });
        return { segment: held.path, size: payload.byteLength, lease };
      }),
    ];
  }

  /**
   * A result from a thread: its segments mapped here. They go back to the
   * thread once nothing holds them: this mapping (let go of when the result's
   * record goes) and whoever it was passed on to.
   */
  #adopt([bytes, payloads]: Posted, thread: TesseraThread): Value {
    return [
      bytes,
      payloads.map((payload) => {
        if (payload instanceof Uint8Array) return payload;
        const { segment, size, lending } = payload;
        const mapped = mapSegment(segment, size);
        // Back to the thread once collected here and handed back by whoever it was passed on to; once the
        // thread has exited, the file is this thread's to remove.
        const giveBack = () => (thread.exited ? discardSegment(segment, true) : thread.post([Op.SegmentFree, segment, lending!]));
        whenUnmapped(mapped, segment, giveBack, true);
        return mapped;
      }),
    ];
  }

  onReport(report: ThreadReport, thread: TesseraThread): void {
    switch (report[0]) {
      case Report.Unmapped: {
        const lease = this.#leases.get(report[1]);
        this.#leases.delete(report[1]);
        lease?.release();
        return;
      }
      case Report.Created: {
        const hosted = this.#tesserae.get(report[1]);
        hosted?.created?.resolve(hosted.thread.index);
        return;
      }
      case Report.CreateFailed:
        this.#tesserae.get(report[1])?.created?.reject(new RemoteError(report[2]));
        return;
      case Report.Done: {
        if (report[2][1].length === 0) return this.#finishTask(report[1], report[2] as Value, undefined, report[3]);
        let value: Value;
        try {
          value = this.#adopt(report[2], thread);
        } catch (error) {
          // Its segment is gone (the thread exited meanwhile): this task fails, nothing else.
          return this.#finishTask(report[1], undefined, describeError(new WorkerDiedError(this.uid, `the result of task #${report[1]} was lost with its tessera thread: ${(error as Error).message}`), this.uid));
        }
        return this.#finishTask(report[1], value, undefined, report[3]);
      }
      case Report.Failed:
        return this.#finishTask(report[1], undefined, report[2], report[3]);
      case Report.Collected:
        this.#collections.get(report[1])?.();
        this.#collections.delete(report[1]);
        return;
      case Report.Log: {
        const [, stream, text] = report;
        const lines = text.split("\n");
        // Straight to the head when it is connected: same connection, same order as completions.
        const head = this.runtime.connection("head");
        if (head?.isOpen) head.command("log", [this.uid, stream, lines]);
        else this.runtime.relayLines(this.uid, stream, lines);
        return;
      }
    }
  }

  /** `reported`: the tessera thread told the caller already (over its own link to the head). */
  #finishTask(uid: number, result: Value | undefined, error: ErrorDescription | undefined, reported = false): void {
    let record = this.#tasks.get(uid);
    // A call the head sent straight to the thread: heard of here only now (unless released meanwhile).
    if (!record && !this.#gone.has(uid)) this.#tasks.set(uid, (record = { state: "pending", released: false }));
    if (!record || record.state !== "pending") return;
    record.state = error ? "failed" : "done";
    if (!record.released) {
      record.result = result;
      record.error = error;
      this.#spill.add(uid, record);
    } else {
      this.#tasks.delete(uid);
      this.#markGone(uid, "released");
    }
    const waiters = record.waiters;
    record.waiters = undefined;
    if (waiters) for (const waiter of waiters) {
      if (error) waiter.reject(new RemoteError(error));
      else waiter.resolve(result!);
    }
    const owner = record.owner;
    record.owner = undefined;
    if (owner && !reported) this.#report(owner, uid, error);
  }

  /** Completions go back to each caller in one command per tick. */
  #report(owner: Connection, uid: number, error: ErrorDescription | undefined): void {
    let batch = this.#reports.get(owner);
    if (!batch) {
      this.#reports.set(owner, (batch = { done: [], failed: [] }));
      if (this.#reports.size === 1) queueMicrotask(() => this.#flushReports());
    }
    if (error) batch.failed.push([uid, error]);
    else if (batch.done.push(uid) >= 4 * BATCH_SLICE) {
      owner.command("completed", batch.done);
      batch.done = [];
    }
  }

  #flushReports(): void {
    for (const [owner, { done, failed }] of this.#reports) {
      if (done.length > 0) owner.command("completed", done);
      if (failed.length > 0) owner.command("failed", failed);
    }
    this.#reports.clear();
  }

  /** A warehouse object put here by the head. */
  put([id, bytes]: [number, Uint8Array], payloads: Uint8Array[]): null {
    this.#store(id, [bytes, payloads]);
    return null;
  }

  /** Ids of the warehouse objects held here (put or cached), for counts. */
  #objects = new Set<number>();

  #store(id: number, value: Value): void {
    this.#objects.add(id);
    const record = this.#tasks.get(id);
    if (record && record.state !== "pending") return;
    const waiters = record?.waiters ?? [];
    const stored: TaskRecord = { state: "done", result: value, released: false };
    this.#tasks.set(id, stored);
    this.#spill.add(id, stored);
    for (const waiter of waiters) waiter.resolve(value);
  }

  /** The encoded result of a task (an empty value when `data` is false), once it is done. */
  resultValue([uid, data]: [number, boolean]): Promise<Value> {
    let record = this.#tasks.get(uid);
    if (!record && this.#gone.has(uid)) return Promise.reject(this.#goneError(uid));
    // A dependent may ask before the call itself has reached us: wait for it.
    if (!record) this.#tasks.set(uid, (record = { state: "pending", released: false }));
    if (record.state === "done") {
      if (!data) return Promise.resolve(EMPTY);
      this.#spill.touch(uid, record);
      return Promise.resolve(record.result!);
    }
    if (record.state === "failed") return Promise.reject(new RemoteError(record.error!));
    const { promise, resolve, reject } = Promise.withResolvers<Value>();
    (record.waiters ??= []).push({ resolve: (value) => resolve(data ? value : EMPTY), reject });
    return promise;
  }

  /** `tesserae`: [id, calls sent to it, ...]: the thread lets each go after those calls ran. */
  release([tesserae, tasks]: [number[], number[]]): void {
    for (const uid of tasks) {
      const record = this.#tasks.get(uid);
      if (!record) {
        this.#markGone(uid, "released");
        continue;
      }
      if (record.state === "pending") record.released = true;
      else {
        this.#tasks.delete(uid);
        this.#spill.remove(uid, record);
        this.#markGone(uid, "released");
      }
    }
    for (let i = 0; i < tesserae.length; i += 2) {
      const uid = tesserae[i]!;
      const calls = tesserae[i + 1]!;
      const hosted = this.#tesserae.get(uid);
      if (!hosted) continue;
      this.#tesserae.delete(uid);
      hosted.thread.tesserae--;
      // Calls still waiting for their dependencies go first; the release follows them.
      if (hosted.backlog.length > 0) hosted.releaseAfterBacklog = { calls };
      else hosted.thread.post([Op.Release, uid, calls]);
    }
  }

  #collections = new Map<number, () => void>();
  #nextCollection = 0;

  /** Collects garbage in every tessera thread (tools and tests that measure memory). */
  async collectGarbage(): Promise<void> {
    await Promise.all(
      this.#threads.map((thread) => {
        const request = this.#nextCollection++;
        const { promise, resolve } = Promise.withResolvers<void>();
        this.#collections.set(request, resolve);
        thread.collections.push(resolve);
        thread.post([Op.CollectGarbage, request]);
        return promise;
      }),
    );
  }

  /** Counts, for tests and status. */
  get counts(): { tesserae: number; tasks: number; objects: number; threads: number; rss: number; residentBytes: number; spilled: number; spilledBytes: number } {
    for (const id of this.#objects) if (!this.#tasks.has(id)) this.#objects.delete(id);
    return {
      tesserae: this.#tesserae.size,
      tasks: this.#tasks.size - this.#objects.size,
      objects: this.#objects.size,
      ...this.#spill.stats,
      threads: this.#threads.length,
      rss: process.memoryUsage.rss(),
    };
  }

  onThreadExit(thread: TesseraThread, code: number): void {
    this.#threads = this.#threads.filter((t) => t !== thread);
    if (this.runtime.stopping) return;
    const error = describeError(new WorkerDiedError(this.uid, `a tessera thread of ${this.uid} exited (code ${code}): its tesserae are gone`), this.uid);
    for (const [uid, hosted] of this.#tesserae) {
      if (hosted.thread !== thread) continue;
      hosted.created?.reject(new RemoteError(error));
      this.#tesserae.delete(uid);
      // Calls still waiting for their dependencies would go to a dead thread.
      for (let pending = hosted.backlog.shift(); pending; pending = hosted.backlog.shift()) {
        if (pending.kind === "create") pending.done.reject(new RemoteError(error));
        else this.#finishTask(pending.task, undefined, error);
      }
    }
    for (const resolve of thread.collections.splice(0)) resolve();
    for (const [id, lease] of this.#leases) {
      if (lease.thread !== thread) continue;
      this.#leases.delete(id);
      lease.release();
    }
    // Only what ran (or waited) on that thread: the worker and its other threads go on.
    for (const [uid, record] of this.#tasks) if (record.state === "pending" && record.thread === thread) this.#finishTask(uid, undefined, error);
  }

  async stop(): Promise<void> {
    this.#spill.close();
    // A thread inside a blocking method (Bun.sleepSync, a tight loop) does not
    // end on terminate(): do not wait long for it, the process exit ends it.
    const terminated = Promise.all(this.#threads.map((thread) => thread.terminate()));
    const { promise: late, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, 100);
    await Promise.race([terminated, late]);
    clearTimeout(timer);
  }
}
