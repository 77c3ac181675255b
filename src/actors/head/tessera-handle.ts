/**
 * The head's engine behind one tessera proxy: its place, and the outbox of
 * calls made before it (or a task they depend on) was placed. Calls leave in
 * call order, each numbered with its place (`seq`), straight to the
 * tessera's thread when they need nothing resolved on the worker.
 */
import { IdTable, SMALL_CHUNK } from "../../_util/id-table.ts";
import { expireStamps } from "../../_util/stamps.ts";
import type { Connection } from "../../comms/connection.ts";
import { isKeptCopy, isSharedArrayPayload, keepInSegment, payloadSize } from "../../comms/shared-memory/index.ts";
import { DependencyError, InvalidArgumentError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import { classNameOf } from "../registry.ts";
import { CALL_MESSAGE, type InlineValue, prepareCallMessage, preparedCallMessage } from "../wire/call-message.ts";
import { type Encoded, encodeValue, type HandleWire, type ReferenceLike, scanArguments, type TaskReference } from "../wire/value-codec.ts";
import { encodePlainArguments } from "../wire/argument-bytes.ts";
import type { ActorClient } from "./actor-client.ts";
import { nextWireId, uidSuffix } from "./ids.ts";
import { flushWhenSettled, inlineDependencies } from "./inline-dependencies.ts";
import { ObjectRef } from "./object-ref.ts";
import { DEPENDENCIES, DIRECT, DoneMarker, RUNTIME_STOPPED, SENT_TO, TaskOutput, TaskProxy, WANTS_RESULT } from "./task-proxy.ts";
import type { ResultSize } from "./task-tracker.ts";
import { ENGINE, type TesseraEngine, type TesseraState } from "./tessera-proxy.ts";
import { type CallRetry, callRetry, type RetryOptions } from "./retries.ts";

export interface QueuedCall {
  task: TaskProxy<any>;
  /** The arguments, encoded when the call was made (their values then), references filled in when sent. */
  encoded: Encoded;
  references: ReferenceLike[];
  /**
   * Arguments of only numbers, booleans, nulls, short strings and references,
   * whose references `encoded` names by task id alone (encodePlainArguments'
   * `byId`): what it was made with, to encode again with uids and workers unless
   * it goes with its values named by those ids (see flush). Undefined otherwise.
   */
  plainArgs: readonly unknown[] | undefined;
  /** Its payloads are copies of its own (it waited here): nobody else changes them, sending needs no other copy. */
  kept: boolean;
  /** When it runs again (see retries.ts); undefined: never on its own account. */
  retry: CallRetry | undefined;
  /**
   * A retry after an exception: it runs when it reaches its thread, ahead of
   * the calls made after it (seq 0), which may wait for its result.
   */
  outOfOrder: boolean;
  /** When it was last sent, among its tessera's calls (1, 2, ...: a restart takes the first in flight as the one running). */
  sendOrder: number;
}

/**
 * Binary payloads of a call that waits: copied, so that later changes by the
 * caller do not reach it. Shared arrays are not: the program's view of them
 * was detached when they were encoded, so nobody else can change them (and a
 * copy would no longer be shared memory, and cost three copies to send).
 */
export function keep(encoded: Encoded, sentOnce = false): void {
  if (encoded.payloads.length === 0) return; // most calls: nothing to copy (and no array made per call)
  // A call sent once (no retries, no restarts) keeps large ones in pooled segments, lent to the link it goes on
  // when sent: copied once in all (keepInSegment); others in memory of their own, copied again when sent.
  encoded.payloads = encoded.payloads.map((payload) =>
    isSharedArrayPayload(payload) ? payload : ((sentOnce && keepInSegment(payload)) || Uint8Array.prototype.slice.call(payload)),
  );
}

/** What a call or constructor refers to: tasks (to wait for and fetch) and warehouse objects (kept alive until it ran). */
export type Dependency = TaskProxy<any> | ObjectRef<any>;

/**
 * A task or object of a runtime that has stopped, among `dependencies`: it
 * would be waited for on a worker of the new runtime forever (same uids).
 */
export function staleDependency(dependencies: Dependency[]): string | undefined {
  for (const dependency of dependencies) {
    const stopped = dependency[RUNTIME_STOPPED];
    if (stopped) return `${dependency.uid} belongs to a runtime that stopped (${stopped})`;
  }
  return undefined;
}

/** A tessera proxy among a call's (or a creation's) arguments that belongs to a runtime since stopped: it names a tessera no worker has. */
export function staleProxy(proxies: object[]): string | undefined {
  for (const proxy of proxies) {
    const handle = (proxy as Record<symbol, unknown>)[ENGINE];
    const stopped = handle instanceof TesseraHandle ? handle.stoppedRuntime : undefined;
    if (stopped) return `its argument ${(handle as TesseraHandle).uid} belongs to a runtime that stopped (${stopped})`;
  }
  return undefined;
}

/** A warehouse object among `dependencies` whose only holder died (its value is gone). */
function lostObjectOf(dependencies: Dependency[], client: ActorClient): ObjectRef<any> | undefined {
  for (const dependency of dependencies) {
    if (dependency instanceof ObjectRef && !dependency.published && client.failures.isLost(dependency.holder)) return dependency;
  }
  return undefined;
}

/** Whether every value goes named by its task id (none of a retried task, named by uid). */
function namedByIds(values: readonly InlineValue[]): boolean {
  for (const [key] of values) if (typeof key !== "number") return false;
  return true;
}

/**
 * Plain arguments encoded with their references' uids and workers (as any
 * route can resolve them): by hand, or by the packer when a uid is not ASCII
 * (a class or method named so) or too long for the hand encoding.
 */
function encodeWithUids(args: readonly unknown[], references: readonly ReferenceLike[]): Uint8Array {
  return (encodePlainArguments(args, references) ?? encodeValue(args as unknown[], true, "args")).bytes;
}

export function dependenciesOf(references: ReferenceLike[]): Dependency[] {
  const dependencies = new Array<Dependency>(references.length);
  for (let i = 0; i < references.length; i++) {
    const reference = references[i];
    dependencies[i] = reference instanceof TaskOutput || reference instanceof DoneMarker ? reference.task : (reference as Dependency);
  }
  return dependencies;
}

/** Whether every task among `dependencies` has a worker (so references to it can be written). */
export function placed(dependencies: Dependency[] | undefined): boolean {
  if (!dependencies) return true;
  for (const dependency of dependencies) if (dependency instanceof TaskProxy && dependency.runtime === undefined) return false;
  return true;
}

export function failedDependency(dependencies: Dependency[] | undefined): TaskProxy<any> | undefined {
  if (!dependencies) return undefined;
  for (const dependency of dependencies) if (dependency instanceof TaskProxy && dependency.state === "failed") return dependency;
  return undefined;
}

/** Bytes of encoded arguments, raw payloads included. */
export function encodedSize(encoded: Encoded): number {
  let bytes = encoded.bytes.byteLength;
  for (const payload of encoded.payloads) bytes += payloadSize(payload);
  return bytes;
}

/**
 * The tesserae a value names (its encoded `handles`: the program's proxies, or
 * those a thread sent), each held once: a value on its way keeps them alive
 * after the program released its proxies, until its receiver holds its own.
 */
export function holdHandles(handles: object[]): TesseraHandle[] {
  const held: TesseraHandle[] = [];
  for (const proxy of handles) {
    const handle = (proxy as Record<symbol, unknown>)[ENGINE];
    if (!(handle instanceof TesseraHandle) || handle.state === "released") continue;
    handle.hold();
    held.push(handle);
  }
  return held;
}

export function letGoAll(held: TesseraHandle[]): void {
  for (const handle of held) handle.letGo();
}

/** A call's tesserae, held until it settled (a retry or a restart sends the same arguments again). */
function holdUntilSettled(task: TaskProxy<any>, tessera: TesseraHandle, handles: object[]): void {
  const held = holdHandles(handles);
  if (held.length === 0) return;
  const settled = () => letGoAll(held);
  // A completion on the thread's own link follows its holds; one through its worker may overtake them.
  task.then(() => (task[DIRECT] ? settled() : tessera.afterHoldsArrived(settled)), settled);
}

const NO_REFERENCES: readonly TaskReference[] = Object.freeze([]);

export class TesseraHandle implements TesseraEngine {
  /** Its wire id (a restarted tessera is a new one on the wire). */
  id = nextWireId();
  readonly uid: string;
  readonly className: string;
  readonly methods: ReadonlySet<string>;
  state: TesseraState = "pending";
  worker: string | undefined;
  /** Settles when it is made (again, after a restart: awaiting the proxy then waits for that). */
  readiness = Promise.withResolvers<void>();
  error: Error | undefined;
  /** Calls made before the tessera (or a task they depend on) was placed. */
  outbox: QueuedCall[] = [];
  /** The retries of its calls made without options of their own: shared until one is used (see ownRetry). */
  #defaultRetry: CallRetry | undefined;
  /** Tasks and objects its constructor arguments refer to. */
  dependencies: Dependency[] | undefined;
  /** The worker picked for it while its constructor arguments wait for tasks to be placed. */
  assigned: string | undefined;
  /** The own link to this head of the worker thread it lives on (known from its creation's reply). */
  direct: Connection | undefined;
  /**
   * Its creation was sent and has not answered: plain calls wait here for the
   * thread's own link instead of going through the worker's main thread, which
   * would decode each and post it on (~4-10 us of that thread per call, on the
   * path of a run's first calls).
   */
  creating = false;
  /** Calls sent so far: each carries its place (`seq`), by which its thread runs them whatever way they went. */
  sent = 0;
  /** What its methods' results were like, for `result()` (see task-tracker.ts's ResultSize); the last method seen small. */
  resultSizes: Map<string, ResultSize> | undefined;
  lastSmall: string | undefined;
  /** Times it may be made again when its worker or thread dies (-1: no limit), and times it was. */
  readonly maxRestarts: number;
  restarts = 0;
  /** Its thread reports each completion before starting the next call (a restartable tessera: see Recovery.restart). */
  strict = false;
  /** Calls sent and not reported done, by wire id in the order sent, with their arguments: kept only while it may restart or they may be retried. */
  inFlight: IdTable<QueuedCall> | undefined;
  /** Calls sent so far, retries and replays included (see QueuedCall.sendOrder). */
  #sendOrder = 0;
  #releaseSent = false;
  /**
   * Who holds it (see nested-calls.ts): the program (its proxy not released nor
   * collected), and holds of tessera threads and of values on their way. It is
   * released when both are gone; a program that never passes it pays nothing.
   */
  programHeld = true;
  nestedHolds = 0;
  /** Bumped each time the program gets a proxy of it again: a collected older one lets go of nothing. */
  programGeneration = 0;
  /** The program's proxy of it while alive (a result naming it gives the program that same proxy). */
  programProxy: WeakRef<object> | undefined;
  /** Tesserae its constructor arguments name: held until it is created (or released, if it may be created again). */
  #argumentHolds: TesseraHandle[] | undefined;

  constructor(
    readonly key: string,
    /** Constructor arguments, encoded at create() time (their values then). */
    readonly encodedArgs: Encoded,
    /** The task and object references among them (their workers are filled in when it is created). */
    readonly argReferences: ReferenceLike[],
    methods: ReadonlySet<string>,
    private readonly client: ActorClient,
    /** Defaults for its calls' retries. */
    private readonly retryDefaults: RetryOptions | undefined,
    maxRestarts = 0,
    /** Async calls it runs at once. */
    readonly maxConcurrency = 1,
    /** Its uid when a tessera thread named it (nested creations: the thread knows it at once). */
    uid?: string,
  ) {
    this.maxRestarts = maxRestarts;
    // By wire id: a Map of every call in flight cost ~8% of the head's time per remote function call to empty.
    if (maxRestarts !== 0) this.inFlight = new IdTable(SMALL_CHUNK);
    this.className = classNameOf(key);
    this.uid = uid ?? `tess-${this.className.toLowerCase()}-${uidSuffix(this.id)}`;
    this.methods = methods;
    this.readiness.promise.catch(() => {});
  }

  get ready(): Promise<void> {
    return this.readiness.promise;
  }

  call(method: string, args: unknown[], options?: RetryOptions): TaskProxy<any> {
    const references: ReferenceLike[] = [];
    const scan = scanArguments(args, references);
    if (scan.problem) throw new InvalidArgumentError(`cannot call ${this.className}.${method}: ${scan.problem}`);
    // Encoded now: the call gets the values its arguments have now, even if it has to wait. References to tasks
    // by id alone when the rest is plain (values that cannot change): most such calls go with their values,
    // named by id, and their tasks' uids are then never made, written or read (see flush).
    const plain = !scan.exact && args.length > 0;
    const byId = plain && references.length > 0 ? encodePlainArguments(args, references, true) : undefined;
    const encoded = byId || (plain && encodePlainArguments(args, references)) || encodeValue(args, true, "args", scan.exact);
    const client = this.client;
    const task = new TaskProxy(nextWireId(), this.uid, method, this, client.tasks);
    client.tasks.track(task, this);
    if (client.events.wants("task.submitted")) {
      client.events.emit({ type: "task.submitted", task: task.uid, id: task.id, tessera: this.uid, method, worker: this.worker, argumentBytes: encodedSize(encoded), time: Date.now() });
    }
    if (references.length > 0) task[DEPENDENCIES] = dependenciesOf(references);
    // Tessera proxies among the arguments stay held until the call ends: by then its thread holds its own.
    if (encoded.handles) holdUntilSettled(task, this, encoded.handles);
    const stale = client.stoppedReason
      ? `its runtime stopped (${client.stoppedReason})`
      : ((references.length > 0 ? staleDependency(task[DEPENDENCIES]!) : undefined) ?? (encoded.handles ? staleProxy(encoded.handles) : undefined));
    if (stale) {
      client.tasks.complete(task, new RuntimeStateError(`cannot call ${this.className}.${method}: ${stale}`));
      return task;
    }
    const lostObject = references.length > 0 ? lostObjectOf(task[DEPENDENCIES]!, client) : undefined;
    if (lostObject) {
      const error = new WorkerDiedError(lostObject.holder, `cannot call ${this.className}.${method}: its argument ${lostObject.uid} was held by ${lostObject.holder}, which died`);
      client.tasks.complete(task, error);
      return task;
    }
    if (this.state === "failed" || this.state === "released") {
      client.tasks.complete(task, this.error ?? new RuntimeStateError(`tessera ${this.uid} was released`));
      return task;
    }
    const retry = options ? callRetry(this.retryDefaults, options) : this.retryDefaults ? (this.#defaultRetry ??= callRetry(this.retryDefaults, undefined)) : undefined;
    // Most calls: nothing queued before them, nothing to resolve, no payloads, never sent again: written at once
    // straight to the thread, as flush would, without a queued record (a tenth of the head's time per pipelined call).
    if (references.length === 0 && encoded.payloads.length === 0 && retry === undefined && this.maxRestarts === 0 && this.outbox.length === 0 && !this.creating) {
      const direct = this.worker === undefined ? undefined : this.direct;
      if (direct?.isOpen) {
        this.#sendAtOnce(task, encoded, direct);
        return task;
      }
    }
    // Every field set, in one order: the queue's calls share one shape (flush reads them all).
    const queued: QueuedCall = { task, encoded, references, plainArgs: byId ? args : undefined, kept: false, retry, outOfOrder: false, sendOrder: 0 };
    this.outbox.push(queued);
    if (this.outbox.length === 1) this.flush();
    if (this.outbox.length > 0 && this.outbox[this.outbox.length - 1] === queued) {
      keep(encoded, !retry && this.maxRestarts === 0);
      queued.kept = true;
    }
    // Large arguments may take long to copy (sent or kept): the next call's submit time reads the clock.
    if (encoded.payloads.length > 0) expireStamps();
    return task;
  }

  /** flush's send of a call that has no references, payloads or retries, with nothing queued before it. */
  #sendAtOnce(task: TaskProxy<any>, encoded: Encoded, direct: Connection): void {
    try {
      direct.sendEncodedWith(prepareCallMessage(this.id, task.id, task.method, encoded.bytes, NO_REFERENCES, this.sent + 1, undefined), CALL_MESSAGE);
    } catch (error) {
      this.#drop(task, error as Error);
      return;
    }
    task[DIRECT] = true;
    this.sent++;
    task[SENT_TO] = this.worker;
  }

  /** Why the runtime this tessera belongs to stopped (undefined while it runs). */
  get stoppedRuntime(): string | undefined {
    return this.client.stoppedReason;
  }

  /** A call that will not be sent: its worker is told, in case others already wait for its result there. */
  #drop(task: TaskProxy<any>, error: Error): void {
    if (this.worker) this.client.failures.abandon(this.worker, [task.id], error);
    this.client.tasks.complete(task, error);
  }

  /**
   * Sends queued calls, in order, as far as their tessera and dependencies are
   * placed. Returns true when a call still waits for a dependency's placement.
   */
  flush(): boolean {
    if (this.worker === undefined) return false;
    // Taken off the front in one splice at the end (shift() per call is quadratic on a long queue).
    let sent = 0;
    try {
      for (; sent < this.outbox.length; sent++) {
        const queued = this.outbox[sent]!;
        const { task, encoded, references } = queued;
        // Settled while it waited here (the runtime stopped, or it was cancelled): nothing to send.
        if (task.state === "done" || task.state === "failed") continue;
        const failed = failedDependency(task[DEPENDENCIES]);
        if (failed) {
          // Never sent: it would wait on its worker for a result that will not come.
          this.#drop(task, new DependencyError(`${task.uid} not run: its dependency ${failed.uid} failed: ${failed.error?.message}`, { cause: failed.error }));
          continue;
        }
        // Held while its creation is on its way, with every call behind it (their places in the order are taken as
        // they are sent): then it goes straight to its thread's own link, a dependent call with the values the head
        // has (inline-dependencies.ts), large arguments in the pooled segments they were kept in (see keep).
        // Through the worker's main thread, which cannot run it before the creation either, each call cost that
        // thread a decode and a post, a dependent one a fetch of its value, a large argument a copy of its own.
        if (this.creating) return false;
        if (!placed(task[DEPENDENCIES])) {
          this.client.placement.waitForPlacement(this);
          return true;
        }
        // Dependency values the head has go with the call, straight to the thread (see inline-dependencies.ts).
        let values: InlineValue[] | undefined;
        if (references.length > 0 && this.direct?.isOpen) {
          const inline = inlineDependencies(references, this.client);
          if (inline instanceof TaskProxy) {
            // Its result comes here: held, with every call behind it, until it does.
            flushWhenSettled(inline, this);
            return false;
          }
          values = inline;
        }
        try {
          const refs = references.length === 0 || values ? NO_REFERENCES : references.map((reference) => reference.toReference());
          // Straight to the tessera's thread once it is known; through the worker when dependencies need resolving there.
          const direct = refs.length === 0 ? this.direct : undefined;
          // Kept until it is reported done, to be sent again: its arguments as they are now, in copies of its own.
          const tracked = this.maxRestarts !== 0 || !!queued.retry?.retryExceptions;
          if (tracked && !queued.kept) {
            keep(encoded);
            queued.kept = true;
          }
          // A call made just now is written from the caller's memory (a snapshot is taken only of what
          // cannot be written at once); one that waited here has copies of its own: no other copy, unless one is
          // in a pooled segment and goes as bytes (a link without shared memory): its segment goes back once collected.
          const kept = queued.kept && !encoded.payloads.some(isKeptCopy);
          // Arguments naming their tasks by id alone go only with those tasks' values named by the same ids.
          const bytes = queued.plainArgs && !(values && namedByIds(values)) ? encodeWithUids(queued.plainArgs, references) : encoded.bytes;
          const length = prepareCallMessage(this.id, task.id, task.method, bytes, refs, queued.outOfOrder ? 0 : this.sent + 1, values);
          if (direct?.isOpen) {
            // Written straight into the link's stage when it has no payloads (most calls).
            if (encoded.payloads.length === 0) direct.sendEncodedWith(length, CALL_MESSAGE);
            else direct.sendEncoded(preparedCallMessage(length), encoded.payloads, !kept);
            task[DIRECT] = true;
            // result() was asked while it waited here: its thread sends the result with the completion.
            if (task[WANTS_RESULT]) direct.command("want", task.id);
          } else {
            this.client.link(this.worker).sendEncoded(preparedCallMessage(length), encoded.payloads, kept);
            task[DIRECT] = false; // an earlier attempt may have gone straight to a thread
          }
          if (!queued.outOfOrder) this.sent++; // counted once sent: a call that could not be sent leaves no gap in the order
          task[SENT_TO] = this.worker;
          if (this.maxRestarts !== 0) this.client.releases.sentTo(task, this.worker);
          if (tracked) {
            queued.sendOrder = ++this.#sendOrder;
            (this.inFlight ??= new IdTable(SMALL_CHUNK)).set(task.id, queued);
          }
        } catch (error) {
          this.#drop(task, error as Error);
          continue;
        }
        // Released before it was sent: its result is let go right after it.
        if (task.released) this.client.releases.releaseTask(this.worker, task.id);
      }
    } finally {
      // All sent (the common case): emptied without the array of removed calls splice() makes.
      if (sent === this.outbox.length) this.outbox.length = 0;
      else if (sent > 0) this.outbox.splice(0, sent);
    }
    // Released while calls waited here: the release follows them.
    if (this.state === "released" && !this.#releaseSent && !this.inFlight?.size) this.#sendRelease();
    return false;
  }

  /** A call it had in flight ended: a release that waited for its retries can go now. */
  onCallEnded(): void {
    if (this.state === "released" && !this.#releaseSent && this.worker && this.outbox.length === 0 && !this.inFlight?.size) this.#sendRelease();
  }

  #sendRelease(): void {
    this.#releaseSent = true;
    this.client.releases.releaseTessera(this.worker!, this.id, this.sent);
  }

  toHandle(): HandleWire {
    return [this.uid, this.key, [...this.methods]];
  }

  /** Holds the tesserae its constructor arguments name (see #argumentHolds). */
  holdArguments(handles: object[]): void {
    const held = holdHandles(handles);
    if (held.length === 0) return;
    this.#argumentHolds = held;
    if (this.maxRestarts !== 0) return; // a restart creates it again from the same arguments: held until released
    const settled = () => this.#letGoArguments();
    this.ready.then(() => this.afterHoldsArrived(settled), settled);
  }

  /**
   * Runs `then` once the head has read what its thread sent so far on its own
   * link (a round trip there): the holds its thread took on the proxies it
   * received go on that link, while a creation or a call with dependencies is
   * reported through the worker and may arrive first.
   */
  afterHoldsArrived(then: () => void): void {
    const link = this.direct;
    if (!link?.isOpen) return then();
    link.request("caughtUp", null).then(then, then);
  }

  #letGoArguments(): void {
    const held = this.#argumentHolds;
    this.#argumentHolds = undefined;
    if (held) letGoAll(held);
  }

  /** The program lets go (its proxy released or collected): released now unless threads still hold it. */
  release(): void {
    if (!this.programHeld) return;
    this.programHeld = false;
    if (this.nestedHolds === 0) this.#releaseNow();
  }

  /** A tessera thread (or a value on its way to one) holds it. */
  hold(): void {
    this.nestedHolds++;
  }

  letGo(): void {
    if (--this.nestedHolds === 0 && !this.programHeld) this.#releaseNow();
  }

  #releaseNow(): void {
    if (this.state === "released") return;
    this.state = "released";
    this.client.forget(this);
    this.#letGoArguments();
    const events = this.client.events;
    if (events.wants("tessera.released")) events.emit({ type: "tessera.released", tessera: this.uid, className: this.className, worker: this.worker, time: Date.now() });
    // Not placed yet, or calls still waiting: it goes after them (see flush() and Placement).
    // Calls that may run again (a retry takes a place after the release's) keep it until they end.
    if (this.worker && this.outbox.length === 0 && !this.inFlight?.size) this.#sendRelease();
  }
}
