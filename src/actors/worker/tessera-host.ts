/**
 * The worker's main-thread side of the actor model, and the one object the
 * worker runtime talks to: it takes creations and calls, hands them to the
 * call backlog (dependencies, call order) and on to tessera threads (the
 * pool), keeps results in the store until released, and reports completions
 * to callers.
 */
import { CancelledError, describeError, type ErrorDescription, RemoteError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import type { TaskReference } from "../wire/value-codec.ts";
import type { RuntimeLinks } from "../links.ts";
import { type Connection, WithPayloads } from "../../comms/connection.ts";
import { referenceFromWire, type WireReference } from "../wire/call-message.ts";
import { onThreadTrimRequest } from "../../comms/shared-memory/index.ts";
import { Fifo } from "../../_util/fifo.ts";
import { SpillStore } from "../../warehouse/spill-store.ts";
import type { RuntimeEventType } from "../../observe/events.ts";
import { type HeadAddress, Op, Report, type ThreadReport, type Value } from "../thread/protocol.ts";
import { CallBacklog, type HostedTessera } from "./call-backlog.ts";
import { CompletionReports } from "./completion-reports.ts";
import type { EventSender } from "./event-sender.ts";
import { RemoteResults, type ResultEntry } from "./remote-results.ts";
import { ResultPushes, type SettledEntry } from "./result-pushes.ts";
import { EMPTY, ResultStore, resultBytes, type StoreCounts } from "./result-store.ts";
import { type TesseraThread, ThreadPool } from "./thread-pool.ts";
import { ThreadTransfers } from "./thread-transfers.ts";

/**
 * Threads a creation may be moved from, each having died before its
 * constructor ran there (another tessera's method ended it): past this, it
 * fails (threads that keep dying would otherwise be started without end).
 */
const MAX_CREATION_MOVES = 3;

/** A Value as a reply: raw payloads travel beside the body. */
function fromValue([bytes, payloads]: Value): Uint8Array | WithPayloads<Uint8Array> {
  return payloads.length > 0 ? new WithPayloads(bytes, payloads) : bytes;
}

/** How a worker's tessera threads are run. */
export interface HostSettings {
  /** Threads it may start for tesserae. */
  maxThreads: number;
  /** The module a tessera thread runs: the user's program, which declares the tessera classes. */
  program: string;
  /** Modules a tessera thread loads before the program (the library's bundle this worker preloads), looked up at each start. */
  preload?: () => string[] | undefined;
  /** Bytes this worker may use (its threads check what they receive against it; half of it before results spill). */
  memoryLimit: number;
  /** Bytes of shared memory each tessera thread prepares once started, for its first large result (the warmPool option). */
  warmPool: number;
  /** Where tessera threads dial the head (their own link for completions); undefined: through the main thread. */
  headAddress: () => HeadAddress | undefined;
  /** The worker's events (spills here; its threads produce their own). */
  events: EventSender;
}

/** A `call` command: [tessera, task, method, encoded arguments, references, place among the tessera's calls]. */
export type CallArgs = [tessera: number, task: number, method: string, args: Uint8Array, refs: WireReference[], seq: number];

/** What a worker's host holds (see WorkerHoldings in cluster/runtime-proxy.ts for the public form). */
export type HostCounts = StoreCounts & { tesserae: number; threads: number; dependentCalls: number; resultRequests: number; postedCompletions: number };

export class TesseraHost {
  readonly runtime: RuntimeLinks;
  readonly uid: string;
  #tesserae = new Map<number, HostedTessera>();
  /** Tesserae whose creation has not been answered yet, released or not (the head waits for the answer), with what made them. */
  /** `moves`: threads it was moved from, each having died before its constructor ran (at most MAX_CREATION_MOVES). */
  readonly #creating = new Map<number, { hosted: HostedTessera; key: string; args: Value; refs: TaskReference[]; strict: boolean; concurrency: number; moves: number }>();
  readonly #events: EventSender;
  readonly #store: ResultStore;
  readonly #transfers = new ThreadTransfers();
  readonly #reports: CompletionReports;
  readonly #backlog: CallBacklog;
  readonly #remote: RemoteResults;
  readonly #pushes: ResultPushes;
  readonly #pool: ThreadPool;

  constructor(runtime: RuntimeLinks, settings: HostSettings) {
    this.runtime = runtime;
    this.uid = runtime.uid;
    const events = (this.#events = settings.events);
    const spill = (this.#spill = new SpillStore(
      Math.floor(settings.memoryLimit / 2),
      runtime.uid,
      (direction, bytes) => {
        if (events.observing.spill) events.emit({ type: "spill", runtime: this.uid, direction, bytes, time: Date.now() });
      },
      (message) => runtime.logger.warning(message),
    ));
    // A dependent waits: completions the threads hold back go now (one ask per tick, to the threads holding some).
    let asked = false;
    this.#store = new ResultStore(this.uid, spill, () => {
      if (asked) return;
      asked = true;
      queueMicrotask(() => {
        asked = false;
        this.#pool.askHeldBack();
      });
    });
    this.#pushes = new ResultPushes(this.uid);
    this.#reports = new CompletionReports(() => events.flush());
    this.#backlog = new CallBacklog({
      uid: this.uid,
      store: this.#store,
      remote: (this.#remote = new RemoteResults(runtime)),
      transfers: this.#transfers,
      fail: (task, error) => this.#finishTask(task, undefined, error),
      locate: (id) => runtime.request<[string, number]>("head", "locate", id),
    });
    this.#pool = new ThreadPool({
      uid: this.uid,
      maxThreads: settings.maxThreads,
      program: settings.program,
      preload: settings.preload,
      memoryLimit: settings.memoryLimit,
      warmPool: settings.warmPool,
      headAddress: settings.headAddress,
      eventCounter: events.counter,
      logger: runtime.logger,
      onReport: (report, thread) => this.#onReport(report, thread),
      onExit: (thread, code) => this.#onThreadExit(thread, code),
    });
    if (events.types.length > 0) this.#pool.observe(events.types);
    // Memory runs short (see fitsMemory): the threads give up the free segments of their pools.
    onThreadTrimRequest(() => this.#pool.postAll([Op.TrimPool]));
  }

  /** The worker-side event types the head wants now (the threads produce task.started and their own transfers). */
  observe(types: RuntimeEventType[]): void {
    this.#pool.observe(types);
  }

  /** Resolves with the index of the thread it lives on (the head sends its calls there directly). */
  create([id, key, bytes, refs, strict = false, concurrency = 1]: [number, string, Uint8Array, TaskReference[], boolean?, number?], payloads: Uint8Array[]): Promise<number> {
    const args: Value = [bytes, payloads];
    if (this.#tesserae.has(id)) return Promise.reject(new RuntimeStateError(`tessera #${id} exists already on ${this.uid}`));
    const thread = this.#pool.pick();
    thread.tesserae++;
    const done = Promise.withResolvers<number>();
    const hosted: HostedTessera = { id, thread, backlog: new Fifo(), resolving: false, created: done, callsPosted: 0 };
    this.#tesserae.set(id, hosted);
    this.#creating.set(id, { hosted, key, args, refs, strict, concurrency, moves: 0 });
    const settled = () => void this.#creating.delete(id);
    done.promise.then(settled, settled);
    this.#backlog.enqueue(hosted, { kind: "create", key, args, refs, strict, concurrency, done });
    return done.promise;
  }

  call([tessera, task, method, bytes, wireRefs, seq]: CallArgs, owner: Connection, payloads: Uint8Array[]): void {
    const args: Value = [bytes, payloads];
    const refs = wireRefs.length === 0 ? (wireRefs as []) : wireRefs.map(referenceFromWire);
    this.#store.expect(task, owner);
    const hosted = this.#tesserae.get(tessera);
    if (!hosted) {
      return this.#finishTask(task, undefined, describeError(new RuntimeStateError(`the tessera is not on ${this.uid} (released?)`), this.uid));
    }
    this.#backlog.enqueue(hosted, { kind: "call", task, method, args, refs, owner, seq });
  }

  /** A call that could not be taken (its arguments did not fit in memory): it fails at once. */
  failCall([tessera, task, , , , seq]: CallArgs, owner: Connection, error: Error): void {
    this.#store.expect(task, owner);
    const hosted = this.#tesserae.get(tessera);
    // Behind what waits in the backlog (its creation, say): the thread learns of the skip in call order.
    if (hosted && hosted.backlog.length > 0) {
      return this.#backlog.enqueue(hosted, { kind: "call", task, method: "", args: EMPTY, refs: [], owner, seq, resolved: { error } });
    }
    this.#backlog.skip(hosted, seq);
    this.#finishTask(task, undefined, describeError(error, this.uid));
  }

  /** The head gave up on calls it never sent (their tessera failed): whoever waits for them fails. */
  abandon([ids, error]: [number[], ErrorDescription]): void {
    for (const id of ids) {
      this.#store.markGone(id, `its call was abandoned (${error.message})`);
      if (this.#store.isPending(id)) this.#finishTask(id, undefined, error);
    }
  }

  /** `task.cancel()`: a call waiting here for its dependencies fails now; one on its thread is dropped there, or its signal aborted. */
  cancel([tessera, task]: [number, number]): void {
    const hosted = this.#tesserae.get(tessera);
    if (!hosted) return;
    if (this.#backlog.cancel(hosted, task, new CancelledError("the call was cancelled while it waited for its dependencies"))) return;
    if (!hosted.thread.exited) hosted.thread.cancel(tessera, task);
  }

  /** A warehouse object put here by the head. */
  put([id, bytes]: [number, Uint8Array], payloads: Uint8Array[]): null {
    this.#store.store(id, [bytes, payloads]);
    return null;
  }

  /** The encoded result of a task (an empty value when `data` is false), once it is done. */
  resultValue([id, data]: [number, boolean]): Promise<Value> {
    return this.#store.resultValue(id, data);
  }

  /** The same as a reply (the worker's `result` method). */
  resultReply(args: [number, boolean]): Promise<Uint8Array | WithPayloads<Uint8Array>> {
    this.#resultRequests++;
    return this.resultValue(args).then(fromValue);
  }

  /** `result` requests answered, and completions its threads posted one by one (see HostCounts). */
  #resultRequests = 0;
  #postedCompletions = 0;

  /** Results for another worker's dependencies: what is settled now, in one reply; the rest sent to `asker` as each settles. */
  resultValues(items: [number, boolean][], asker: Connection): ResultEntry[] | WithPayloads<ResultEntry[]> {
    return this.#store.resultValues(items, (id, data) => this.#pushes.waiter(asker, id, data));
  }

  /** Results another worker sent as they settled (see resultValues). */
  onSettled(entries: SettledEntry[], holder: Connection, payloads: Uint8Array[]): void {
    this.#remote.onSettled(holder, entries, payloads);
  }

  /** `tesserae`: [id, calls sent to it, ...]: the thread lets each go after those calls ran. */
  release([tesserae, tasks]: [number[], number[]]): void {
    this.#store.release(tasks);
    for (let i = 0; i < tesserae.length; i += 2) {
      const id = tesserae[i]!;
      const calls = tesserae[i + 1]!;
      const hosted = this.#tesserae.get(id);
      if (!hosted) continue;
      this.#tesserae.delete(id);
      hosted.thread.tesserae--;
      // Calls still waiting for their dependencies go first; the release follows them.
      if (hosted.backlog.length > 0) hosted.releaseAfterBacklog = { calls };
      else hosted.thread.post([Op.Release, id, calls]);
    }
  }

  #onReport(report: ThreadReport, thread: TesseraThread): void {
    switch (report[0]) {
      case Report.Unmapped:
        return this.#transfers.unmapped(report[1]);
      // Answered also when the tessera was released meanwhile: the head still waits for its creation.
      case Report.Created: {
        const hosted = this.#creating.get(report[1])?.hosted;
        hosted?.created?.resolve(hosted.thread.index);
        return;
      }
      case Report.CreateFailed:
        this.#creating.get(report[1])?.hosted.created?.reject(new RemoteError(report[2]));
        return;
      case Report.Done: {
        this.#postedCompletions++;
        if (report[2][1].length === 0) return this.#finishTask(report[1], report[2] as Value, undefined, report[3]);
        let value: Value;
        try {
          value = this.#transfers.adopt(report[2], thread);
        } catch (error) {
          // Its segment is gone (the thread exited meanwhile): this task fails, nothing else.
          const lost = new WorkerDiedError(this.uid, `the result of task #${report[1]} was lost with its tessera thread: ${(error as Error).message}`);
          return this.#finishTask(report[1], undefined, describeError(lost, this.uid));
        }
        return this.#finishTask(report[1], value, undefined, report[3]);
      }
      case Report.DoneMany: {
        const [, tasks, sizes, results, payloads] = report;
        // Each result in memory of its own: a view would keep (and, posted to a thread, copy) the whole batch. Those
        // with payloads (results the head asked for, in shared memory) are settled as a Done report would be.
        for (let i = 0, at = 0, next = 0; i < tasks.length; at += sizes[i]!, i++) {
          const bytes = resultBytes(results, at, at + sizes[i]!);
          if (payloads && next < payloads.length && payloads[next]![0] === i) this.#finishTask(tasks[i]!, [bytes, payloads[next++]![1]], undefined, true);
          else this.#store.settleReported(tasks[i]!, bytes);
        }
        return;
      }
      case Report.Failed:
        return this.#finishTask(report[1], undefined, report[2], report[3]);
      case Report.Log: {
        const [, stream, text] = report;
        const lines = text.split("\n");
        // Straight to the head when it is connected: same connection, same order as completions.
        const head = this.runtime.connection("head");
        if (head?.isOpen) head.command("log", [this.uid, stream, lines]);
        else this.runtime.relayLines(this.uid, stream, lines);
        return;
      }
      case Report.Events:
        // A thread without a link of its own reports here, in order: the completions before these events leave first.
        this.#reports.flush();
        for (const event of report[1]) this.#events.emit(event);
        return;
      case Report.Put: {
        // `mosaic.put` in a method: the object stays here, where it was made (a read before this arrives waits for it).
        let value: Value;
        try {
          value = report[2][1].length === 0 ? (report[2] as Value) : this.#transfers.adopt(report[2], thread);
        } catch (error) {
          this.runtime.logger.error(`object #${report[1]} put by a tessera thread of ${this.uid} was lost: ${(error as Error).message}`);
          return;
        }
        this.#store.store(report[1], value);
        return;
      }
    }
  }

  /** `reported`: the tessera thread told the caller already (over its own link to the head). */
  #finishTask(id: number, result: Value | undefined, error: ErrorDescription | undefined, reported = false): void {
    const owner = this.#store.settle(id, result, error);
    if (owner && !reported) this.#reports.add(owner, id, error);
  }

  /** Collects garbage in every tessera thread, once spills to disk under way are written (tools and tests that measure memory). */
  async collectGarbage(): Promise<void> {
    await this.#spill.settled();
    return this.#pool.collectGarbage();
  }

  readonly #spill: SpillStore;

  /** What this worker holds now. */
  get counts(): HostCounts {
    return { tesserae: this.#tesserae.size, ...this.#store.counts, threads: this.#pool.size, dependentCalls: this.#backlog.dependentCalls, resultRequests: this.#resultRequests, postedCompletions: this.#postedCompletions };
  }

  /** Calls running on the threads ([task id, started at]), and calls queued: on threads and waiting here for dependencies. */
  load(): { running: [number, number][]; queued: number } {
    const { running, queued } = this.#pool.load();
    let waiting = 0;
    for (const hosted of this.#tesserae.values()) waiting += hosted.backlog.length;
    return { running, queued: queued + waiting };
  }

  /** No call running or queued here: read from the threads' busy records, without making garbage (an idle sample tick asks). */
  idle(): boolean {
    if (!this.#pool.idle()) return false;
    this.#waiting = 0;
    this.#tesserae.forEach(this.#countWaiting);
    return this.#waiting === 0;
  }

  // forEach with a callback made once: no iterator object on an idle tick.
  #waiting = 0;
  readonly #countWaiting = (hosted: HostedTessera) => {
    this.#waiting += hosted.backlog.length;
  };

  #onThreadExit(thread: TesseraThread, code: number): void {
    this.#pool.remove(thread);
    if (this.runtime.stopping) return;
    // One that never became ready failed to load the program (it threw there): a new thread would meet the same
    // error, so what was placed on it fails with that error (made again, it started threads without end).
    const why = thread.endReason ? `, ${thread.endReason}` : "";
    const error = thread.ready
      ? describeError(new WorkerDiedError(this.uid, `a tessera thread of ${this.uid} exited (code ${code}${why}): its tesserae are gone`), this.uid)
      : this.#startFailure(thread, code);
    for (const [id, creating] of this.#creating) {
      const { hosted, key, args, refs, strict, concurrency } = creating;
      if (hosted.thread !== thread) continue;
      if (thread.constructing === id) {
        // Its constructor was running: it ended the thread (process.exit()), or its failure could not be told.
        hosted.created?.reject(new RemoteError(describeError(new WorkerDiedError(this.uid, `tessera thread ${thread.index} of ${this.uid} exited (code ${code}) while the constructor of tessera #${id} ran: made again, it would end the next thread too`), this.uid)));
        continue;
      }
      if (thread.ready && hosted.callsPosted === 0 && hosted.backlog.length === 0 && this.#tesserae.get(id) === hosted && creating.moves++ < MAX_CREATION_MOVES) {
        // Not answered and nothing else sent to it (placed on a thread that was dying): made again on a live one.
        hosted.thread = this.#pool.pick();
        hosted.thread.tesserae++;
        this.#backlog.enqueue(hosted, { kind: "create", key, args, refs, strict, concurrency, done: hosted.created! });
        continue;
      }
      hosted.created?.reject(new RemoteError(error));
    }
    for (const [id, hosted] of this.#tesserae) {
      if (hosted.thread !== thread) continue;
      this.#tesserae.delete(id);
      // Calls still waiting for their dependencies would go to a dead thread.
      for (let pending = hosted.backlog.shift(); pending; pending = hosted.backlog.shift()) {
        if (pending.kind === "create") pending.done.reject(new RemoteError(error));
        else this.#finishTask(pending.task, undefined, error);
      }
    }
    this.#transfers.threadExited(thread);
    // Only what ran (or waited) on that thread: the worker and its other threads go on.
    for (const id of this.#store.pendingOn(thread)) this.#finishTask(id, undefined, error);
  }

  /** Why a thread that never became ready ended: the program's own error, named as the program threw it. */
  #startFailure(thread: TesseraThread, code: number): ErrorDescription {
    const cause = thread.startError;
    const what = `tessera thread ${thread.index} of ${this.uid} could not start: its program`;
    if (cause) return { ...cause, message: `${what} threw while the thread loaded it: ${cause.message}` };
    // An error no method caught while it loaded (a timer its program set): the thread said why (Report.Ending).
    const ended = thread.endReason ? `, ${thread.endReason}` : " before it was loaded";
    return describeError(new WorkerDiedError(this.uid, `${what} ended (exit code ${code})${ended}`), this.uid);
  }

  async stop(): Promise<void> {
    this.#store.close();
    await this.#pool.stop();
  }
}
