/**
 * A worker's tessera threads: started as tesserae arrive (one with the
 * worker's first tessera, a new one while every thread already hosts one, up
 * to `maxThreads`), fed ops in batches, asked to collect garbage or trim their
 * segment pools, and told which events to produce.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { segmentIdleTime, sharedMemoryCounters, threadRealm } from "../../comms/shared-memory/index.ts";
import { Batcher } from "../../_util/tick-batcher.ts";
import type { RuntimeEventType } from "../../observe/events.ts";
import type { RuntimeLogger } from "../../logging/logger.ts";
import { postBatch, THREAD_SETTINGS_ENV } from "../thread/channel.ts";
import { type HeadAddress, Op, Report, type SharedRecords, type ThreadOp, type ThreadReport } from "../thread/protocol.ts";
import { BUSY_SLOTS, type ThreadSettings } from "../thread/thread-data.ts";
import { CancelWriter, cancelRing } from "../thread/cancels.ts";
import { startStep } from "../../_util/start-trace.ts";
import { describeError, type ErrorDescription } from "../../errors.ts";

/** settings-preload.ts, where it is a file (from a source checkout, with or without a build; not in a compiled binary). */
const SETTINGS_PRELOAD = ((path: string) => (existsSync(path) ? path : undefined))(fileURLToPath(new URL("../thread/settings-preload.ts", import.meta.url)));

/** Ops per message during a burst: the thread starts while the main thread still decodes. */
const BATCH_SLICE = 256;
/** A thread inside a method for longer than this is busy: new tesserae go elsewhere when they can. */
const BUSY_MS = 50;

export interface PoolSettings {
  uid: string;
  /** Threads it may start for tesserae. */
  maxThreads: number;
  /** The module a tessera thread runs: the user's program, which declares the tessera classes. */
  program: string;
  /** Modules a thread loads before the program (the library's bundle this worker preloads), looked up at each start. */
  preload?: () => string[] | undefined;
  /** Bytes the worker may use (its threads check what they receive against it). */
  memoryLimit: number;
  /** Bytes of shared memory a thread prepares once started (the warmPool option). */
  warmPool: number;
  /** Where tessera threads dial the head (their own link for completions); undefined: through the main thread. */
  headAddress: () => HeadAddress | undefined;
  /** Events sent up by the worker and its threads (one Int32, shared with them). */
  eventCounter: SharedArrayBuffer;
  logger: RuntimeLogger;
  onReport(report: ThreadReport, thread: TesseraThread): void;
  onExit(thread: TesseraThread, code: number): void;
}

export class TesseraThread {
  readonly worker: Worker;
  readonly index: number;
  /** Tesserae living here (the pool picks the least loaded thread). */
  tesserae = 0;
  /** Ops posted before the thread said it is ready (its link to the head is up, or known to be unavailable). */
  #early: ThreadOp[] | undefined = [];
  readonly #ops = new Batcher<ThreadOp>((batch) => postBatch(this.worker, batch), { limit: BATCH_SLICE });
  #exited = false;
  /** Settled with its exit code once it is gone. */
  readonly #closed = Promise.withResolvers<number>();
  /**
   * What ended it before it was ready (the program threw while the thread
   * loaded it, say): a thread started again would meet the same.
   */
  startError: ErrorDescription | undefined;
  /** Why it ended itself, when an error no method caught did (its Ending report). */
  endReason: string | undefined;
  /** When the method running on it now started (Date.now(); 0: none), written by the thread. */
  readonly #busy = new Float64Array(new SharedArrayBuffer(8 * BUSY_SLOTS));
  readonly #cancels = cancelRing();
  readonly #cancelWriter = new CancelWriter(this.#cancels);
  /** Garbage collections asked of this thread and not yet reported (settled if it exits). */
  readonly collections = new Map<number, () => void>();

  /**
   * Cancels a call: read by the thread before its next call even while it
   * runs methods back to back; the message aborts the signal of a running
   * async method.
   */
  cancel(tessera: number, task: number): void {
    this.#cancelWriter.write(task);
    this.post([Op.Cancel, tessera, task]);
  }

  /** Whether a method has been running here for over `ms` (a long computation, or one that never returns). */
  busyFor(ms: number, now: number): boolean {
    const since = this.#busy[0]!;
    return since > 0 && now - since > ms;
  }

  /** The call running here now ([task id, started at]) or undefined, and the calls queued here: for resource samples. */
  get load(): { running: [number, number] | undefined; queued: number } {
    const since = this.#busy[0]!;
    return { running: since > 0 ? [this.#busy[1]!, since] : undefined, queued: this.#busy[2]! };
  }

  /** No call running or queued here (plain reads of the busy record). */
  get idle(): boolean {
    return this.#busy[0]! <= 0 && this.#busy[2]! === 0;
  }

  /**
   * Whether it holds completions back from this thread (read without a lock: one
   * it holds a moment later goes within HOLD_BACK_MS all the same).
   */
  get holdsBack(): boolean {
    return this.#busy[3]! > 0;
  }

  /** The tessera whose constructor runs there now, or ran when it ended (0: none; see markConstructing). */
  get constructing(): number {
    return this.#busy[4]!;
  }

  /** Exited, or exiting (its program ended it: it said so before its exit event comes). */
  get gone(): boolean {
    return this.#exited || this.#busy[0]! < 0;
  }

  constructor(index: number, settings: PoolSettings) {
    this.index = index;
    const realm = threadRealm();
    const threadSettings: ThreadSettings = {
      program: settings.program,
      uid: settings.uid,
      thread: index,
      head: settings.headAddress(),
      memoryLimit: settings.memoryLimit,
      warmPool: settings.warmPool,
      segmentIdleTime: segmentIdleTime(),
      logLevel: settings.logger.consola.level,
    };
    /** Sent when the thread asks (it listens then): see thread-data.ts. */
    const records: SharedRecords = {
      sharedMemoryCounters: sharedMemoryCounters(),
      realmCounters: realm.buffer,
      eventCounter: settings.eventCounter,
      busy: this.#busy.buffer as SharedArrayBuffer,
      cancels: this.#cancels,
    };
    startStep(settings.uid, `thread ${index} starting`);
    // Ours before the program, after a build's bundle (whose plugin then serves what ours imports).
    const preload = [...(settings.preload?.() ?? []), ...(SETTINGS_PRELOAD ? [SETTINGS_PRELOAD] : [])];
    // The web Worker (not node:worker_threads'): it starts in ~1 ms where node's takes ~10 (stdio streams
    // made in the thread first), and the main thread needs no node:worker_threads. Given options, its env is
    // the process's as it is now (as node's; without options, Bun gives it the one the process started with).
    const options = { preload, env: { ...process.env, [THREAD_SETTINGS_ENV]: JSON.stringify(threadSettings) } };
    let worker: Worker;
    try {
      worker = new Worker(settings.program, options as WorkerOptions);
    } catch (error) {
      // Bun throws at once for a preload that is not there: a newer build removed it since it was looked up.
      if (preload.length === 0) throw error;
      worker = new Worker(settings.program, { ...options, preload: SETTINGS_PRELOAD ? [SETTINGS_PRELOAD] : undefined } as WorkerOptions);
    }
    this.worker = worker;
    worker.addEventListener("message", (event: MessageEvent<ThreadReport[]>) => {
      for (const report of event.data) {
        if (report[0] === Report.Hello) {
          worker.postMessage([[Op.Adopt, records]]);
        } else if (report[0] === Report.Ready) {
          startStep(settings.uid, `thread ${index} ready`);
          this.#ready();
        }
        else if (report[0] === Report.LoadFailed) {
          this.startError ??= report[1];
        } else if (report[0] === Report.Ending) {
          this.endReason = report[1];
          settings.logger.error(`tessera thread ${index} ends: ${report[1]}`);
        } else if (report[0] === Report.Collected) {
          this.collections.get(report[1])?.();
          this.collections.delete(report[1]);
        } else {
          try {
            settings.onReport(report, this);
          } catch (error) {
            settings.logger.error(`report from tessera thread ${index} failed: ${(error as Error).message}`);
          }
        }
      }
    });
    // What the thread could not tell itself (see thread-data.ts's loadFailed): an error before the library loaded
    // there, as text.
    worker.addEventListener("error", (event: ErrorEvent) => {
      if (this.#early) this.startError ??= describeError(event.error ?? new Error(event.message), settings.uid);
      settings.logger.error(`tessera thread ${index} failed${this.#early ? " to start" : ""}: ${event.message}`);
    });
    worker.addEventListener("close", (event: CloseEvent) => {
      this.#exited = true;
      realm.end();
      for (const resolve of this.collections.values()) resolve();
      this.collections.clear();
      settings.onExit(this, event.code);
      this.#closed.resolve(event.code);
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** It said it is ready (its program loaded, its link to the head up or known to be unavailable). */
  get ready(): boolean {
    return this.#early === undefined;
  }

  post(op: ThreadOp): void {
    if (this.#exited) return;
    if (this.#early) this.#early.push(op);
    else this.#ops.add(op);
  }

  /** Posts what is batched now, not at the end of the tick. */
  flush(): void {
    this.#ops.flush();
  }

  #ready(): void {
    const early = this.#early!;
    this.#early = undefined;
    if (early.length > 0) postBatch(this.worker, early);
  }

  /** Ends the thread; resolves with its exit code once it is gone. */
  terminate(): Promise<number> {
    this.worker.terminate();
    return this.#closed.promise;
  }
}

export class ThreadPool {
  readonly #settings: PoolSettings;
  #threads: TesseraThread[] = [];
  #started = 0;
  #nextCollection = 0;
  #observing: RuntimeEventType[] = [];

  constructor(settings: PoolSettings) {
    this.#settings = settings;
    // One thread is started with the worker's host; more are added as tesserae arrive.
    this.#start();
  }

  get size(): number {
    return this.#threads.length;
  }

  #start(): TesseraThread {
    const thread = new TesseraThread(this.#started++, this.#settings);
    if (this.#observing.length > 0) thread.post([Op.Observe, this.#observing]);
    this.#threads.push(thread);
    return thread;
  }

  /** The least loaded thread; a new one while every thread already hosts a tessera. */
  /**
   * The thread for a new tessera: the least loaded of the live threads that
   * are not inside a long method (a tessera placed behind one would not answer
   * until it ends, maybe never), a new one while every thread already hosts
   * one; a busy one only when there is nothing else.
   */
  pick(): TesseraThread {
    const now = Date.now();
    let best: TesseraThread | undefined;
    for (const thread of this.#threads) {
      if (thread.gone || thread.busyFor(BUSY_MS, now)) continue;
      if (!best || thread.tesserae < best.tesserae) best = thread;
    }
    if (!best || best.tesserae > 0) {
      if (this.#threads.length < this.#settings.maxThreads) return this.#start();
      for (const thread of this.#threads) if (!thread.gone && (!best || thread.tesserae < best.tesserae)) best = thread;
    }
    return best ?? this.#start();
  }

  /** A thread exited: it is no longer picked. */
  remove(thread: TesseraThread): void {
    this.#threads = this.#threads.filter((t) => t !== thread);
  }

  postAll(op: ThreadOp): void {
    for (const thread of this.#threads) thread.post(op);
  }

  /** Asks the threads holding completions back (see thread/outbox.ts) to send them now; the others are left asleep. */
  askHeldBack(): void {
    for (const thread of this.#threads) if (thread.holdsBack) thread.post([Op.SendReports]);
  }

  /** Calls running on the threads ([task id, started at]) and queued there. */
  load(): { running: [number, number][]; queued: number } {
    const running: [number, number][] = [];
    let queued = 0;
    for (const thread of this.#threads) {
      const load = thread.load;
      if (load.running) running.push(load.running);
      queued += load.queued;
    }
    return { running, queued };
  }

  /** No call running or queued on any thread. */
  idle(): boolean {
    for (let i = 0; i < this.#threads.length; i++) if (!this.#threads[i]!.idle) return false;
    return true;
  }

  /** The worker-side event types the head wants now: threads produce only these. */
  observe(types: RuntimeEventType[]): void {
    this.#observing = types;
    // At once: before whatever the head sends after its `observe` (straight to the threads, or a reply it waits for).
    for (const thread of this.#threads) {
      thread.post([Op.Observe, types]);
      thread.flush();
    }
  }

  /** Collects garbage in every tessera thread (tools and tests that measure memory). */
  async collectGarbage(): Promise<void> {
    await Promise.all(
      this.#threads.map((thread) => {
        const request = this.#nextCollection++;
        const { promise, resolve } = Promise.withResolvers<void>();
        thread.collections.set(request, resolve);
        thread.post([Op.CollectGarbage, request]);
        return promise;
      }),
    );
  }

  /** Ends every thread; one inside a blocking method (Bun.sleepSync, a tight loop) is not waited for long. */
  async stop(): Promise<void> {
    const terminated = Promise.all(this.#threads.map((thread) => thread.terminate()));
    const { promise: late, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, 100);
    await Promise.race([terminated, late]);
    clearTimeout(timer);
  }
}
