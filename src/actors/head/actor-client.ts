/**
 * The head's side of the actor model: places tesserae (asking the monitor),
 * submits their calls in order straight to their workers, tracks completion,
 * fails what a dead worker held, and releases remote objects that the program
 * no longer references.
 */
import type { Connection } from "../../comms/connection.ts";
import {
  DependencyError,
  describeError,
  localError,
  type ErrorDescription,
  InvalidArgumentError,
  RemoteError,
  RuntimeStateError,
  TimeoutError,
  WorkerDiedError,
} from "../../errors.ts";
import type { RuntimeLinks } from "../links.ts";
import type { EventStream } from "../../observe/events.ts";
import { classNameOf } from "../registry.ts";
import { DoneMarker, inlineResultOf, settleTask, TaskOutput, TaskProxy, type TaskOwner } from "./task-proxy.ts";
import { createTesseraProxy, type TesseraEngine, type TesseraProxy, type TesseraState } from "./tessera-proxy.ts";
import { decodeValue, type Encoded, encodeValue, findUnsendable, type ReferenceLike, type TaskReference } from "../wire/value-codec.ts";
import type { ObjectRef } from "./object-ref.ts";
import { encodeCallMessage } from "../wire/call-message.ts";
import { WithPayloads } from "../../comms/connection.ts";
import { isWorkerUid, threadUid, workerOfThread } from "../../types.ts";

/**
 * The head does not watch the monitor by heartbeats (see Runtime.watches): a
 * monitor that stops answering fails placements after this long instead.
 */
const PLACEMENT_TIMEOUT_MS = 30_000;

/** How long a lost link waits for the process tree to say why its worker died (see ActorClient.#linkLost). */
const LINK_LOSS_GRACE_MS = 500;

/** Task proxies watched for garbage collection together (see #collectedTasks). */
const GENERATION_SIZE = 64;

export interface PlacementOptions {
  /** Uid of the worker to create the tessera on, e.g. "worker:0:1". Default: the monitor picks. */
  worker?: string;
}

/**
 * Tesserae and tasks are named by numbers on the wire (short to encode and to
 * look up: only this head creates them); their uids, for people, add a random
 * prefix per head so that they are unique across runs too.
 */
const ID_PREFIX = crypto.randomUUID().replaceAll("-", "").slice(0, 20);
let nextId = 1;
/** A new wire id (tesserae, tasks and warehouse objects share the sequence). */
export function nextWireId(): number {
  return nextId++;
}
export function uidSuffix(id: number): string {
  return `${ID_PREFIX}${id.toString(16).padStart(12, "0")}`;
}

/** Calls and requests to one worker, written in order; queued while the connection opens. */
class WorkerLink {
  connection: Connection | undefined;
  #queue: ((connection: Connection) => void)[] = [];
  #failure: Error | undefined;

  constructor(readonly uid: string, runtime: RuntimeLinks, onLost: (uid: string, reason: string) => void) {
    if (!runtime.knows(uid)) {
      this.#failure = new RuntimeStateError(`no worker "${uid}" on the network`);
      return;
    }
    runtime.connect(uid).then(
      (connection) => {
        this.connection = connection;
        for (const send of this.#queue.splice(0)) send(connection);
        connection.closed.then((reason) => onLost(uid, `connection lost: ${reason.message}`));
      },
      (error: Error) => {
        this.#failure = error;
        for (const send of this.#queue.splice(0)) send(undefined as never);
        onLost(uid, `cannot connect: ${error.message}`);
      },
    );
  }

  command(method: string, args: unknown, payloads?: Uint8Array[]): void {
    if (this.connection) this.connection.command(method, args, payloads);
    else if (!this.#failure) this.#queue.push((connection) => connection?.command(method, args, payloads));
  }

  /** A message encoded by the caller, in order with the rest. */
  /** A call, with its arguments taken as they are now (the caller may change them right after). */
  sendEncoded(body: Uint8Array, payloads?: Uint8Array[]): void {
    if (this.connection) this.connection.sendEncoded(body, payloads, true);
    else if (!this.#failure) {
      const taken = payloads?.map((payload) => Uint8Array.prototype.slice.call(payload)); // waiting for the link: keep a copy
      this.#queue.push((connection) => connection?.sendEncoded(body, taken, true));
    }
  }

  /** `lasting`: the worker keeps the payloads (see RequestOptions). */
  request<T>(method: string, args: unknown, payloads?: Uint8Array[], timeout?: number, lasting = false): Promise<T> {
    if (this.connection) return this.connection.request<T>(method, args, { payloads, snapshot: true, timeout, lasting });
    if (this.#failure) return Promise.reject(this.#failure);
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const taken = payloads?.map((payload) => Uint8Array.prototype.slice.call(payload));
    this.#queue.push((connection) => {
      if (!connection) reject(this.#failure);
      else connection.request<T>(method, args, { payloads: taken, snapshot: true, timeout, lasting }).then(resolve, reject);
    });
    return promise;
  }
}

interface QueuedCall {
  task: TaskProxy<any>;
  /** The arguments, encoded when the call was made (their values then), references filled in when sent. */
  encoded: Encoded;
  references: ReferenceLike[];
}

/** Binary payloads of a call that waits: copied, so that later changes by the caller do not reach it. */
function keep(encoded: Encoded): void {
  encoded.payloads = encoded.payloads.map((payload) => Uint8Array.prototype.slice.call(payload));
}

/** What a call or constructor refers to: tasks (to wait for and fetch) and warehouse objects (kept alive until it ran). */
type Dependency = TaskProxy<any> | ObjectRef<any>;

function dependenciesOf(references: ReferenceLike[]): Dependency[] {
  return references.map((reference) => (reference instanceof TaskOutput || reference instanceof DoneMarker ? reference.task : (reference as Dependency)));
}

/** Whether every task among `dependencies` has a worker (so references to it can be written). */
function placed(dependencies: Dependency[] | undefined): boolean {
  return !dependencies || dependencies.every((dependency) => !(dependency instanceof TaskProxy) || dependency.runtime !== undefined);
}

function failedDependency(dependencies: Dependency[] | undefined): TaskProxy<any> | undefined {
  return dependencies?.find((dependency): dependency is TaskProxy<any> => dependency instanceof TaskProxy && dependency.state === "failed");
}

class TesseraHandle implements TesseraEngine {
  readonly id = nextId++;
  readonly uid: string;
  readonly className: string;
  readonly methods: ReadonlySet<string>;
  state: TesseraState = "pending";
  worker: string | undefined;
  readonly readiness = Promise.withResolvers<void>();
  error: Error | undefined;
  /** Calls made before the tessera (or a task they depend on) was placed. */
  outbox: QueuedCall[] = [];
  /** Tasks and objects its constructor arguments refer to. */
  dependencies: Dependency[] | undefined;
  /** The worker picked for it while its constructor arguments wait for tasks to be placed. */
  assigned: string | undefined;
  /** The worker thread it lives on (from its creation's reply), and that thread's own link to this head. */
  thread: number | undefined;
  direct: Connection | undefined;
  /** Calls sent so far: each carries its place (`seq`), by which its thread runs them whatever way they went. */
  sent = 0;
  /** Methods whose last result was too large to come with its completion: `result()` asks for theirs at once. */
  largeResults: Set<string> | undefined;

  constructor(
    readonly key: string,
    /** Constructor arguments, encoded at create() time (their values then). */
    readonly encodedArgs: Encoded,
    /** The task and object references among them (their workers are filled in when it is created). */
    readonly argReferences: ReferenceLike[],
    methods: ReadonlySet<string>,
    private readonly client: ActorClient,
  ) {
    this.className = classNameOf(key);
    this.uid = `tess-${this.className.toLowerCase()}-${uidSuffix(this.id)}`;
    this.methods = methods;
    this.readiness.promise.catch(() => {});
  }

  get ready(): Promise<void> {
    return this.readiness.promise;
  }

  call(method: string, args: unknown[]): TaskProxy<any> {
    const references: ReferenceLike[] = [];
    const unsendable = findUnsendable(args, "args", references);
    if (unsendable) throw new InvalidArgumentError(`cannot call ${this.className}.${method}: ${unsendable}`);
    // Encoded now: the call gets the values its arguments have now, even if it has to wait.
    const encoded = encodeValue(args, true);
    const task = new TaskProxy(nextId++, this.uid, method, this, this.client, uidSuffix);
    this.client.track(task, this);
    if (references.length > 0) task.dependencies = dependenciesOf(references);
    if (this.state === "failed" || this.state === "released") {
      this.client.complete(task, this.error ?? new RuntimeStateError(`tessera ${this.uid} was released`));
      return task;
    }
    const queued: QueuedCall = { task, encoded, references };
    this.outbox.push(queued);
    if (this.outbox.length === 1) this.flush();
    if (this.outbox.length > 0 && this.outbox[this.outbox.length - 1] === queued) keep(encoded);
    return task;
  }

  /** A call that will not be sent: its worker is told, in case others already wait for its result there. */
  #drop(task: TaskProxy<any>, error: Error): void {
    if (this.worker) this.client.abandon(this.worker, [task.id], error);
    this.client.complete(task, error);
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
        const { task, encoded, references } = this.outbox[sent]!;
        const failed = failedDependency(task.dependencies);
        if (failed) {
          // Never sent: it would wait on its worker for a result that will not come.
          this.#drop(task, new DependencyError(`${task.uid} not run: its dependency ${failed.uid} failed: ${failed.error?.message}`, { cause: failed.error }));
          continue;
        }
        if (!placed(task.dependencies)) {
          this.client.waitForPlacement(this);
          return true;
        }
        try {
          const refs = references.map((reference) => reference.toReference());
          const frame = encodeCallMessage(this.id, task.id, task.method, encoded.bytes, refs, this.sent + 1);
          // Straight to the tessera's thread once it is known; through the worker when dependencies need resolving there.
          const direct = refs.length === 0 ? this.direct : undefined;
          if (direct?.isOpen) {
            direct.sendEncoded(frame, encoded.payloads, true);
            task.direct = true;
          } else this.client.link(this.worker).sendEncoded(frame, encoded.payloads);
          this.sent++; // counted once sent: a call that could not be sent leaves no gap in the order
        } catch (error) {
          this.#drop(task, error as Error);
          continue;
        }
        // Released before it was sent: its result is let go right after it.
        if (task.released) this.client.queueRelease(this.worker, "tasks", task.id);
      }
    } finally {
      this.outbox.splice(0, sent);
    }
    // Released while calls waited here: the release follows them.
    if (this.state === "released" && !this.releaseSent) this.#sendRelease();
    return false;
  }

  releaseSent = false;

  #sendRelease(): void {
    this.releaseSent = true;
    this.client.queueRelease(this.worker!, "tesserae", this.id, this.sent);
  }

  release(): void {
    if (this.state === "released") return;
    this.state = "released";
    this.client.forget(this);
    // Not placed yet, or calls still waiting: it goes after them (see flush() and ActorClient.#place).
    if (this.worker && this.outbox.length === 0) this.#sendRelease();
  }
}

export class ActorClient implements TaskOwner {
  #runtime: RuntimeLinks;
  #links = new Map<string, WorkerLink>();
  #tesserae = new Map<string, TesseraHandle>();
  /** Tasks submitted and not completed, by id (in submission order). */
  #pendingTasks = new Map<number, TaskProxy<any>>();
  #toPlace: TesseraHandle[] = [];
  /** Workers seen dying here (the monitor may hear of it later): never placed on again. */
  #lostWorkers = new Set<string>();
  #releases = new Map<string, { tesserae: number[]; tasks: number[] }>();
  #releaseScheduled = false;
  #idleWaiters: (() => void)[] = [];
  #collectedTesserae = new FinalizationRegistry<TesseraHandle>((handle) => handle.release());
  /**
   * Task proxies are watched for collection in generations of up to
   * GENERATION_SIZE: each proxy holds its generation's token, and when every
   * proxy of a generation is gone, their results are released together. One
   * registration per generation instead of per task (it was a third of the
   * cost of a call); holding one proxy keeps at most that many results alive.
   */
  #collectedTasks = new FinalizationRegistry<(TesseraHandle | number)[]>((entries) => {
    for (let i = 0; i < entries.length; i += 2) {
      const tessera = entries[i] as TesseraHandle;
      if (tessera.worker) this.queueRelease(tessera.worker, "tasks", entries[i + 1] as number);
    }
  });
  /** The generation being filled: [tessera, task id] pairs, flat. */
  #generation: { token: object; entries: (TesseraHandle | number)[] } | undefined;

  /** Where the head's actor events go (see observe/events.ts): emitted only when wanted. */
  readonly events: EventStream;

  constructor(runtime: RuntimeLinks, events: EventStream) {
    this.#runtime = runtime;
    this.events = events;
  }

  /** Creates a tessera remotely; the proxy is returned at once. */
  create<T>(key: string, methods: ReadonlySet<string>, args: unknown[], options: PlacementOptions = {}): TesseraProxy<T> {
    const references: ReferenceLike[] = [];
    const unsendable = findUnsendable(args, "args", references);
    if (unsendable) throw new InvalidArgumentError(`cannot create ${classNameOf(key)}: ${unsendable}`);
    const encodedArgs = encodeValue(args, true);
    const handle = new TesseraHandle(key, encodedArgs, references, methods, this);
    if (references.length > 0) handle.dependencies = dependenciesOf(references);
    this.#tesserae.set(handle.uid, handle);
    const proxy = createTesseraProxy<T>(handle);
    this.#collectedTesserae.register(proxy, handle, handle);
    if (options.worker !== undefined) {
      if (!isWorkerUid(options.worker) || !this.#runtime.knows(options.worker)) {
        throw new InvalidArgumentError(
          `no worker "${options.worker}" to place ${handle.className} on: the workers are ${this.#runtime.workers().join(", ")}`,
        );
      }
      this.#place(handle, options.worker);
    } else {
      this.#toPlace.push(handle);
      if (this.#toPlace.length === 1) queueMicrotask(() => this.#requestPlacement());
    }
    // Created later (placement pending): the arguments keep the values they have now.
    if (handle.worker === undefined) keep(encodedArgs);
    return proxy;
  }

  /** Workers that are alive as far as this head knows. */
  liveWorkers(): string[] {
    return this.#runtime.workers().filter((uid) => !this.#lostWorkers.has(uid));
  }

  /** One worker picked by the monitor (round-robin), skipping those seen dead here. */
  placeOne(): Promise<string> {
    return this.#runtime.request<string[]>("monitor", "place", [1, this.#avoided()], PLACEMENT_TIMEOUT_MS).then((workers) => workers[0]!);
  }

  /** Asks the monitor where to put every tessera created in this tick, in one request. */
  #requestPlacement(): void {
    const batch = this.#toPlace.splice(0);
    this.#runtime.request<string[]>("monitor", "place", [batch.length, this.#avoided()], PLACEMENT_TIMEOUT_MS).then(
      (workers) => batch.forEach((handle, i) => this.#place(handle, workers[i]!)),
      (error: Error) => batch.forEach((handle) => this.#fail(handle, error)),
    );
  }

  /**
   * Creates the tessera on `worker` (once the tasks its constructor arguments
   * refer to have workers) and sends the calls queued meanwhile. A tessera
   * released before this is still created, gets its calls, and is then released.
   */
  #place(handle: TesseraHandle, worker: string): void {
    if (handle.state === "failed" || handle.worker !== undefined) return; // placed once only
    if (this.#lostWorkers.has(worker)) {
      return this.#fail(handle, new WorkerDiedError(worker, `cannot create ${handle.className} on ${worker}: that worker died`));
    }
    const failed = failedDependency(handle.dependencies);
    if (failed) return this.#fail(handle, new DependencyError(`${handle.uid} not created: its argument ${failed.uid} failed: ${failed.error?.message}`, { cause: failed.error }));
    if (!placed(handle.dependencies)) {
      handle.assigned = worker;
      this.#deferredCreates.add(handle);
      return;
    }
    this.#deferredCreates.delete(handle);
    handle.worker = worker;
    let refs: TaskReference[];
    try {
      refs = handle.argReferences.map((reference) => reference.toReference());
    } catch (error) {
      return this.#fail(handle, error as Error);
    }
    const encoded = handle.encodedArgs;
    this.link(worker)
      .request<number>("createTessera", [handle.id, handle.key, encoded.bytes, refs], encoded.payloads)
      .then(
        (thread) => {
          handle.thread = thread;
          handle.direct = this.#runtime.connection(threadUid(worker, thread));
          if (handle.state === "pending") handle.state = "ready";
          handle.readiness.resolve();
        },
        (error: Error) => this.#fail(handle, error instanceof RemoteError ? new RemoteError({ ...describeError(error), tessera: handle.uid }) : error),
      );
    handle.flush(); // sends its queued calls, then its release if it was released meanwhile
    this.#retryWaiting();
  }

  #retrying = false;

  /**
   * Calls and creations elsewhere may have waited for a task to get a worker
   * (or to fail). Loops until nothing moves, instead of recursing through #place.
   */
  #retryWaiting(): void {
    if (this.#retrying) {
      this.#retryAgain = true;
      return;
    }
    this.#retrying = true;
    try {
      do {
        this.#retryAgain = false;
        for (const other of [...this.#waitingForPlacement]) {
          this.#waitingForPlacement.delete(other);
          other.flush();
        }
        for (const deferred of [...this.#deferredCreates]) if (this.#deferredCreates.has(deferred)) this.#place(deferred, deferred.assigned!);
      } while (this.#retryAgain);
    } finally {
      this.#retrying = false;
    }
  }

  #retryAgain = false;

  /** Tells a worker that calls it never received will not come (whoever waits there for their results fails). */
  abandon(worker: string, ids: number[], error: Error): void {
    if (!this.#lostWorkers.has(worker)) this.link(worker).command("abandon", [ids, describeError(error)]);
  }

  #waitingForPlacement = new Set<TesseraHandle>();
  #deferredCreates = new Set<TesseraHandle>();

  waitForPlacement(handle: TesseraHandle): void {
    this.#waitingForPlacement.add(handle);
  }

  #fail(handle: TesseraHandle, error: Error): void {
    if (handle.state === "failed" || handle.error) return;
    if (handle.state !== "released") handle.state = "failed";
    handle.error = error;
    handle.readiness.reject(error);
    this.#deferredCreates.delete(handle);
    const unsent = handle.outbox.splice(0);
    // Another worker may already wait for these results: tell their worker they will not come.
    if (handle.worker && unsent.length > 0) this.abandon(handle.worker, unsent.map(({ task }) => task.id), error);
    for (const { task } of unsent) this.complete(task, this.#forTask(task, error));
    for (const task of this.#tasksOn(handle)) this.complete(task, this.#forTask(task, error));
    this.#retryWaiting(); // calls that depend on these now fail instead of waiting
  }

  /** A remote error as a task fails with it: naming the task and its method (whichever report of the failure comes first). */
  #forTask(task: TaskProxy<any>, error: Error): Error {
    return error instanceof RemoteError ? new RemoteError({ ...describeError(error), task: task.uid, tessera: task.tessera, method: task.method }) : error;
  }

  link(worker: string): WorkerLink {
    let link = this.#links.get(worker);
    if (!link) this.#links.set(worker, (link = new WorkerLink(worker, this.#runtime, (uid, reason) => this.#linkLost(uid, reason))));
    return link;
  }

  track(task: TaskProxy<any>, tessera: TesseraHandle): void {
    this.#pendingTasks.set(task.id, task);
    let generation = this.#generation;
    if (!generation || generation.entries.length >= 2 * GENERATION_SIZE) {
      generation = this.#generation = { token: {}, entries: [] };
      this.#collectedTasks.register(generation.token, generation.entries);
    }
    generation.entries.push(tessera, task.id);
    task.generation = generation.token;
  }

  forget(handle: TesseraHandle): void {
    this.#tesserae.delete(handle.uid);
  }

  /** Pending tasks of one tessera, in call order (a scan: only for failures). */
  #tasksOn(handle: TesseraHandle): TaskProxy<any>[] {
    return [...this.#pendingTasks.values()].filter((task) => task.placement === handle);
  }

  /** Settles a task (error: failed) and lets it go from the pending set. */
  complete(task: TaskProxy<any>, error?: ErrorDescription | Error): void {
    this.#pendingTasks.delete(task.id);
    settleTask(task, error);
    if (this.#pendingTasks.size === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /**
   * Tessera threads report completions with their small results: task ids,
   * each one's result size (-1: too large, left on the worker), and the
   * results end to end.
   */
  onDone([tasks, sizes, results]: [number[], number[], Uint8Array]): void {
    let at = 0;
    for (let i = 0; i < tasks.length; i++) {
      const size = sizes[i]!;
      // A view: `results` is memory of its own (decoded from the message), small, shared by the batch's tasks.
      const inline = size >= 0 ? results.subarray(at, at + size) : undefined;
      if (size > 0) at += size;
      const task = this.#pendingTasks.get(tasks[i]!);
      if (!task) continue;
      const handle = task.placement as TesseraHandle;
      if (inline) handle.largeResults?.delete(task.method);
      else (handle.largeResults ??= new Set()).add(task.method);
      this.#pendingTasks.delete(task.id);
      settleTask(task, undefined, inline);
    }
    if (this.#pendingTasks.size === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  expectsInlineResult(task: TaskProxy<any>): boolean {
    return !(task.placement as TesseraHandle).largeResults?.has(task.method);
  }

  /** Workers report completed tasks in batches. */
  onCompleted(ids: number[]): void {
    for (const id of ids) {
      const task = this.#pendingTasks.get(id);
      if (!task) continue;
      // No result with it (the thread could not reach the head directly): `result()` asks at once next time.
      ((task.placement as TesseraHandle).largeResults ??= new Set()).add(task.method);
      this.complete(task);
    }
  }

  /** Workers know tasks by number: name the task, tessera and method here. */
  onFailed(failures: [number, ErrorDescription][]): void {
    for (const [id, error] of failures) {
      const task = this.#pendingTasks.get(id);
      if (task) this.complete(task, localError({ ...error, task: task.uid, tessera: task.tessera, method: task.method }));
    }
  }

  #diedError(worker: string, handle: TesseraHandle, reason: string): WorkerDiedError {
    const running = this.#tasksOn(handle)[0];
    const what = running ? ` while running ${running.uid} (${handle.className}.${running.method})` : "";
    return new WorkerDiedError(worker, `${worker} holding tessera ${handle.uid} died${what}: ${reason}`);
  }

  /**
   * A tessera thread's own link closed. If its worker died, the worker's
   * death fails everything it held (with that reason). If only the thread is
   * gone (or its link), its tesserae are: the calls sent over the link (which
   * the worker's main thread never saw) are abandoned there, so that other
   * workers waiting for their results hear of it, and the tesserae fail.
   */
  onThreadLost(uid: string, reason: string): void {
    const worker = workerOfThread(uid);
    const handles = new Set<TesseraHandle>();
    for (const handle of this.#tesserae.values()) if (handle.direct?.peer?.uid === uid) handles.add(handle);
    for (const task of this.#pendingTasks.values()) {
      const handle = task.placement as TesseraHandle;
      if (handle.direct?.peer?.uid === uid) handles.add(handle);
    }
    if (handles.size === 0 || this.#lostWorkers.has(worker)) return;
    // Asked over the worker's own link: it answers if the worker lives (a hung one is found out by heartbeats).
    // Bounded: a worker too hung to answer is its node's to end (and then its death fails everything).
    this.link(worker)
      .request("ping", null, undefined, this.#runtime.heartbeatTimeout)
      .then(
        () => {
          const error = new RemoteError(describeError(new WorkerDiedError(worker, `the tessera thread of ${worker} behind ${uid} is gone (${reason})`), worker));
          const direct = [...this.#pendingTasks.values()].filter((task) => task.direct && handles.has(task.placement as TesseraHandle));
          if (direct.length > 0) this.abandon(worker, direct.map((task) => task.id), error);
          for (const handle of handles) {
            handle.direct = undefined;
            if (handle.state === "released") for (const task of this.#tasksOn(handle)) this.complete(task, this.#forTask(task, error));
            else this.#fail(handle, error);
          }
        },
        () => {}, // the worker is gone: its death fails what it held
      );
  }

  #pendingLosses = new Map<string, Timer>();
  /** Workers whose link closed, waiting for the report of their death: placement avoids them too. */
  #suspects = new Set<string>();

  #avoided(): string[] {
    return this.#suspects.size === 0 ? [...this.#lostWorkers] : [...this.#lostWorkers, ...this.#suspects];
  }

  /**
   * The link to a worker closed. Its parent usually reports why within
   * milliseconds (killed, crashed, ended for not answering): that report fails
   * what the worker held, with its reason; this link's reason is used if none
   * comes within LINK_LOSS_GRACE_MS.
   */
  #linkLost(worker: string, reason: string): void {
    if (this.#lostWorkers.has(worker) || this.#pendingLosses.has(worker)) return;
    this.#suspects.add(worker); // not placed on meanwhile
    if (this.#runtime.stopping) return this.onWorkerLost(worker, reason);
    const timer = setTimeout(() => this.onWorkerLost(worker, reason), LINK_LOSS_GRACE_MS);
    timer.unref(); // the head's other links keep it running; a stopped head must not wait for this
    this.#pendingLosses.set(worker, timer);
  }

  /** Everything that lived on a dead worker fails now, and so does every later call on it. */
  onWorkerLost(worker: string, reason: string): void {
    clearTimeout(this.#pendingLosses.get(worker));
    this.#pendingLosses.delete(worker);
    this.#suspects.delete(worker);
    this.#links.delete(worker);
    this.#lostWorkers.add(worker);
    if (this.#runtime.stopping) return;
    const died = (handle: TesseraHandle) => this.#diedError(worker, handle, reason);
    for (const handle of this.#tesserae.values()) {
      if (handle.worker === worker && handle.state !== "failed") this.#fail(handle, died(handle));
    }
    // Released tesserae are no longer listed, but their calls may still be pending there.
    for (const task of [...this.#pendingTasks.values()]) {
      const handle = task.placement as TesseraHandle;
      if (handle.worker === worker) this.complete(task, died(handle));
    }
    // Its threads' links too (a silent worker's sockets may still be open), once its calls have failed with the reason above.
    for (const [uid, connection] of [...this.#runtime.connections()]) if (uid.startsWith(`${worker}/`)) connection.close();
  }

  /** The runtime stops: nothing pending will complete any more. */
  shutdown(reason: string): void {
    for (const timer of this.#pendingLosses.values()) clearTimeout(timer);
    this.#pendingLosses.clear();
    for (const task of [...this.#pendingTasks.values()]) this.complete(task, new RuntimeStateError(`${task.uid} did not complete: ${reason}`));
    for (const handle of this.#tesserae.values()) if (handle.state === "pending") handle.readiness.reject(new RuntimeStateError(`${handle.uid} was not created: ${reason}`));
  }

  isSent(task: TaskProxy<any>): boolean {
    if (!this.#pendingTasks.has(task.id)) return false;
    const tessera = task.placement as TesseraHandle;
    // The outbox holds only calls waiting for a placement: it is empty in the common case.
    return tessera.worker !== undefined && (tessera.outbox.length === 0 || !tessera.outbox.some((queued) => queued.task === task));
  }

  fetchResult(task: TaskProxy<any>): Promise<unknown> {
    if (task.released) return Promise.reject(new RuntimeStateError(`task ${task.uid} was released: its result is gone`));
    const inline = inlineResultOf(task);
    if (inline) {
      try {
        return Promise.resolve(decodeValue(inline));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const worker = task.runtime;
    if (!worker) return Promise.reject(new RuntimeStateError(`task ${task.uid} was never placed`));
    if (this.#lostWorkers.has(worker)) return Promise.reject(new WorkerDiedError(worker, `the result of ${task.uid} was on ${worker}, which died`));
    return this.link(worker)
      .request<Uint8Array | WithPayloads<Uint8Array>>("result", [task.id, true])
      .then(
        (reply) => (reply instanceof WithPayloads ? decodeValue(reply.value, reply.payloads) : decodeValue(reply)),
        (error: Error) => {
          throw error instanceof RemoteError ? new RemoteError({ ...describeError(error), task: task.uid, tessera: task.tessera, method: task.method }) : error;
        },
      );
  }

  releaseTask(task: TaskProxy<any>): void {
    const worker = task.runtime;
    if (worker) this.queueRelease(worker, "tasks", task.id);
  }

  /** Releases go out in one command per worker and tick; a tessera's carries the number of calls sent to it (they run first). */
  queueRelease(worker: string, kind: "tasks" | "tesserae", id: number, calls = 0): void {
    let batch = this.#releases.get(worker);
    if (!batch) this.#releases.set(worker, (batch = { tesserae: [], tasks: [] }));
    if (kind === "tasks") batch.tasks.push(id);
    else batch.tesserae.push(id, calls);
    if (this.#releaseScheduled) return;
    this.#releaseScheduled = true;
    setTimeout(() => {
      this.#releaseScheduled = false;
      for (const [to, { tesserae, tasks }] of this.#releases) if (!this.#lostWorkers.has(to)) this.link(to).command("release", [tesserae, tasks]);
      this.#releases.clear();
    }, 0);
  }

  /** Tasks submitted from here that have not completed. */
  get pendingCount(): number {
    return this.#pendingTasks.size;
  }

  /** Resolves when every task submitted so far has completed (or failed). */
  barrier(timeout?: number): Promise<void> {
    if (this.#pendingTasks.size === 0) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    let timer: Timer | undefined;
    const wake = () => {
      clearTimeout(timer);
      resolve();
    };
    this.#idleWaiters.push(wake);
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== wake);
        reject(new TimeoutError(`barrier: ${this.#pendingTasks.size} tasks still pending after ${timeout} ms`));
      }, timeout);
    }
    return promise;
  }
}
