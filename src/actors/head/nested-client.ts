/**
 * A tessera thread's client (nested calls): inside a method, `X.remote()`,
 * calls on the proxies it makes or receives, `mosaic.put` / `get` / `drop`
 * work as on the head, with the same proxies and tasks. The head does the
 * work (head/nested-calls.ts): this client numbers its tesserae and tasks
 * locally and sends, in order, over the thread's own link to the head.
 *
 * Its proxies, tasks and object refs hold what they stand for: the head
 * releases a tessera (drops an object) when the program and every thread
 * holding it have let go; a thread lets go when its proxy (ref) is released or
 * collected. One proxy and one ref per tessera and object in a thread: each is
 * one hold at the head.
 */
import { WithPayloads } from "../../comms/connection.ts";
import { InvalidArgumentError, localError, RuntimeStateError } from "../../errors.ts";
import { callingTessera } from "../current-call.ts";
import { Nested, NestedAsk, type NestedCommand, nestedLink, type NestedRequest, type NestedSettled, PUT_VALUE } from "../nested-link.ts";
import { classNameOf } from "../registry.ts";
import { decodeValue, encodeValue, type HandleWire, scanValue, setHandleReader, type TaskReference } from "../wire/value-codec.ts";
import { setNestedClient, type TesseraCreator } from "./context.ts";
import { ObjectRef, type ObjectOwner } from "./object-ref.ts";
import { RESULT_COMES, type ResultRoute, resultOf, SENT_TO, settleTask, type TaskOwner, type TaskPlacement, TaskProxy } from "./task-proxy.ts";
import { type CallOptions, createTesseraProxy, type TesseraEngine, type TesseraProxy, type TesseraState } from "./tessera-proxy.ts";
import type { TesseraOptions } from "./tessera.ts";

/** A tessera as a thread's proxy sees it. */
class NestedTessera implements TesseraEngine {
  readonly className: string;
  state: TesseraState = "ready";
  worker: string | undefined;
  error: Error | undefined;
  readiness = Promise.withResolvers<void>();

  constructor(
    readonly client: NestedClient,
    readonly local: number,
    readonly uid: string,
    readonly key: string,
    readonly methods: ReadonlySet<string>,
  ) {
    this.className = classNameOf(key);
    this.readiness.promise.catch(() => {});
  }

  get ready(): Promise<void> {
    return this.readiness.promise;
  }

  call(method: string, args: unknown[], options?: CallOptions): TaskProxy<any> {
    return this.client.call(this, method, args, options);
  }

  release(): void {
    this.client.letGo(this);
  }

  toHandle(): HandleWire {
    return [this.uid, this.key, [...this.methods]];
  }
}

/** A remote function's call as a thread sees it: the head picks its host (see remote-function.ts). */
const FUNCTION_PLACEMENT: TaskPlacement = { worker: undefined, className: "FunctionHost" };

const taskSuffix = (id: number) => `${nestedLink.thread.replace(/[:/]/g, ".")}.${id}`;

class NestedClient implements TesseraCreator, TaskOwner, ObjectOwner {
  #next = 0;
  /** Tasks not settled yet, by local number. */
  readonly #pending = new Map<number, TaskProxy<any>>();
  /** This thread's proxy of each tessera it holds (one per tessera: it is one hold). */
  readonly #proxies = new Map<string, WeakRef<TesseraProxy<any>>>();
  readonly #collectedTesserae = new FinalizationRegistry<NestedTessera>((engine) => this.letGo(engine));
  readonly #collectedTasks = new FinalizationRegistry<number>((local) => this.#send([Nested.ReleaseTask, local]));
  /** This thread's ref of each object it holds. */
  readonly #objects = new Map<number, WeakRef<ObjectRef<any>>>();
  readonly #collectedObjects = new FinalizationRegistry<number>((id) => {
    // A newer ref of the object (made after this one was collected) holds it now.
    if (this.#objects.get(id)?.deref()) return;
    this.#objects.delete(id);
    this.#send([Nested.LetGoObject, id]);
  });
  /** What the value being put names (resultHolds with PUT_VALUE), held under its id once the head gives one. */
  #putHolds: [handles: object[] | undefined, references: TaskReference[]] | undefined;
  readonly stoppedReason = undefined;

  #link(what: string) {
    const link = nestedLink.connection;
    if (!link?.isOpen) throw new RuntimeStateError(`${what} inside a tessera method needs the thread's own link to the head, which is not open`);
    return link;
  }

  #send(command: NestedCommand, payloads?: Uint8Array[]): void {
    nestedLink.connection?.command("nested", command, payloads);
  }

  #request<T>(request: NestedRequest, what: string, payloads?: Uint8Array[]): Promise<T> {
    try {
      return this.#link(what).request<T>("nested", request, payloads ? { payloads } : {});
    } catch (error) {
      return Promise.reject(error);
    }
  }

  create<T>(key: string, methods: ReadonlySet<string>, args: unknown[], options: TesseraOptions = {}): TesseraProxy<T> {
    const what = `${classNameOf(key)}.remote()`;
    this.#link(what);
    const { bytes, payloads } = this.#encode(args, `cannot create ${classNameOf(key)}`);
    const local = ++this.#next;
    const uid = `tess-${classNameOf(key).toLowerCase()}-${nestedLink.thread.replace(/[:/]/g, ".")}.${local}`;
    const engine = new NestedTessera(this, local, uid, key, methods);
    engine.state = "pending";
    const request: NestedRequest = [NestedAsk.Create, local, uid, key, [...methods], bytes, Object.keys(options).length > 0 ? (options as Record<string, unknown>) : null];
    this.#request<string>(request, what, payloads).then(
      (worker) => {
        engine.worker = worker;
        if (engine.state === "pending") engine.state = "ready";
        engine.readiness.resolve();
      },
      (error: Error) => {
        engine.error = error;
        if (engine.state === "pending") engine.state = "failed";
        engine.readiness.reject(error);
      },
    );
    return this.#watch<T>(engine);
  }

  #watch<T>(engine: NestedTessera): TesseraProxy<T> {
    const proxy = createTesseraProxy<T>(engine);
    this.#proxies.set(engine.uid, new WeakRef(proxy));
    this.#collectedTesserae.register(proxy, engine, engine);
    return proxy;
  }

  /** A proxy arrived in a value: this thread's own proxy of that tessera (it holds it from now on). */
  adopt([uid, key, methods]: HandleWire): TesseraProxy<any> {
    const known = this.#proxies.get(uid)?.deref();
    if (known && known.state !== "released") return known;
    const engine = new NestedTessera(this, ++this.#next, uid, key, new Set(methods));
    engine.readiness.resolve();
    this.#send([Nested.Hold, engine.local, uid]);
    return this.#watch(engine);
  }

  letGo(engine: NestedTessera): void {
    if (engine.state === "released") return;
    engine.state = "released";
    this.#collectedTesserae.unregister(engine);
    if (this.#proxies.get(engine.uid)?.deref()?.state === "released") this.#proxies.delete(engine.uid);
    this.#send([Nested.LetGo, engine.local]);
  }

  call(engine: NestedTessera, method: string, args: unknown[], options?: CallOptions): TaskProxy<any> {
    const local = ++this.#next;
    const task = new TaskProxy(local, engine.uid, method, engine, this);
    if (engine.state === "released" || engine.state === "failed") {
      settleTask(task, engine.error ?? new RuntimeStateError(`tessera ${engine.uid} was released by this thread`));
      return task;
    }
    const { bytes, payloads } = this.#encode(args, `cannot call ${engine.className}.${method}`);
    this.#link(`${engine.className}.${method}()`);
    this.#pending.set(local, task);
    this.#collectedTasks.register(task, local, task);
    this.#send([Nested.Call, local, engine.local, method, bytes, callingTessera(), options ? (options as Record<string, unknown>) : null], payloads);
    return task;
  }

  /** A call of the remote function `key`: the head runs it on a FunctionHost, as the program's calls. */
  callFunction(key: string, name: string, args: unknown[], options?: CallOptions): TaskProxy<any> {
    const { bytes, payloads } = this.#encode(args, `cannot call ${name}`);
    this.#link(name);
    const local = ++this.#next;
    const task = new TaskProxy(local, "", "run", FUNCTION_PLACEMENT, this);
    this.#pending.set(local, task);
    this.#collectedTasks.register(task, local, task);
    this.#send([Nested.CallFunction, local, key, bytes, callingTessera(), options ? (options as Record<string, unknown>) : null], payloads);
    return task;
  }

  #encode(value: unknown[], what: string): { bytes: Uint8Array; payloads: Uint8Array[] } {
    const scan = scanValue(value, "args");
    if (scan.problem) throw new InvalidArgumentError(`${what}: ${scan.problem}`);
    const encoded = encodeValue(value, true, "args", scan.exact);
    return { bytes: encoded.bytes, payloads: encoded.payloads };
  }

  /** The head says tasks settled. */
  onSettled(settled: NestedSettled): void {
    for (const [local, worker, error, inline] of settled) {
      const task = this.#pending.get(local);
      if (!task) continue;
      this.#pending.delete(local);
      if (worker) task[SENT_TO] = worker;
      settleTask(task, error ? localError(error) : undefined, inline ?? undefined);
    }
  }

  /** Tessera proxies and objects in the result of `task` (this thread's method): held by the head while that result lives. */
  holdFor(task: number, handles: object[] | undefined, references: TaskReference[]): void {
    if (task === PUT_VALUE) this.#putHolds = [handles, references];
    else this.#pin(task, handles, references);
  }

  #pin(task: number, handles: object[] | undefined, references: TaskReference[]): void {
    if (handles) for (const handle of handles) this.#send([Nested.Pin, (handle as TesseraProxy<any>).uid, task]);
    for (const reference of references) if (reference.task.startsWith("obj-")) this.#send([Nested.PinObject, reference.id, task]);
  }

  /** A reference in a value this thread decoded: an object becomes this thread's ref (a hold at the head), a task stays a reference. */
  readonly readReference = (reference: TaskReference): unknown => (reference.task.startsWith("obj-") ? this.#adoptObject(reference) : reference);

  #adoptObject(reference: TaskReference): ObjectRef<any> {
    const known = this.#objects.get(reference.id)?.deref();
    if (known) return known;
    const ref = new ObjectRef(reference.id, reference.task, reference.worker, 0, this);
    // Sent before anything this thread does with it: the head holds the object from the hold until the let-go.
    this.#send([Nested.HoldObject, reference.id]);
    this.#keep(ref);
    return ref;
  }

  #keep(ref: ObjectRef<any>): void {
    this.#objects.set(ref.id, new WeakRef(ref));
    this.#collectedObjects.register(ref, ref.id, ref);
  }

  // TaskOwner: the tasks of this thread's calls.
  uidSuffix(id: number): string {
    return taskSuffix(id);
  }

  isSent(): boolean {
    return false; // result() waits for the completion, which says whether the result came with it
  }

  resultRoute(): ResultRoute {
    return RESULT_COMES; // result() waits for the completion, which says whether the result came with it
  }

  asked(): void {}

  wantResult(): boolean {
    return false;
  }

  fetchResult(task: TaskProxy<any>): Promise<unknown> {
    if (task.released) return Promise.reject(new RuntimeStateError(`task ${task.uid} was released: its result is gone`));
    return this.#request<Uint8Array | WithPayloads<Uint8Array>>([NestedAsk.Result, task.id], `${task.uid}.result()`).then((reply) => resultOf(task, this.#decode(reply)));
  }

  #decode(reply: Uint8Array | WithPayloads<Uint8Array>): unknown {
    return reply instanceof WithPayloads ? decodeValue(reply.value, reply.payloads, this.readReference) : decodeValue(reply, [], this.readReference);
  }

  releaseTask(task: TaskProxy<any>): void {
    this.#collectedTasks.unregister(task);
    this.#send([Nested.ReleaseTask, task.id]);
  }

  cancelTask(task: TaskProxy<any>): void {
    this.#send([Nested.Cancel, task.id]);
  }

  // The warehouse, from a method: objects stay on this worker.
  async put<T>(value: T): Promise<ObjectRef<T>> {
    const scan = scanValue(value, "value");
    if (scan.problem) throw new InvalidArgumentError(`cannot put: ${scan.problem}`);
    const { encoded, size } = nestedLink.encode!(value);
    const holds = this.#putHolds;
    this.#putHolds = undefined;
    const [id, uid, worker] = await this.#request<[number, string, string]>([NestedAsk.Put, size], "mosaic.put()");
    // What the value names is held while the object lives (`value` keeps this thread's refs of them until then).
    if (holds) this.#pin(id, holds[0], holds[1]);
    nestedLink.store!(id, encoded);
    const ref = new ObjectRef<T>(id, uid, worker, size, this);
    this.#keep(ref);
    return ref;
  }

  getObject(ref: ObjectRef<any>): Promise<unknown> {
    if (ref.dropped) return Promise.reject(new RuntimeStateError(`${ref.uid} was dropped: its object is gone`));
    return this.#request<Uint8Array | WithPayloads<Uint8Array>>([NestedAsk.Get, ref.id, ref.holder], "mosaic.get()").then((reply) => this.#decode(reply));
  }

  async dropObject(ref: ObjectRef<any>): Promise<void> {
    this.#collectedObjects.unregister(ref);
    await this.#request([NestedAsk.Drop, ref.id], "mosaic.drop()");
  }
}

const client = new NestedClient();

/** A remote function called inside a tessera method. */
export function nestedFunctionCall(key: string, name: string, args: unknown[], options?: CallOptions): TaskProxy<any> {
  return client.callFunction(key, name, args, options);
}

/** `mosaic.put` inside a tessera method: stored on this worker. */
export function nestedPut<T>(value: T): Promise<ObjectRef<T>> {
  return client.put(value);
}

// Installed in every process; used only on a tessera thread (the head's ActorClient sets the head's own reader).
if (!Bun.isMainThread) {
  setNestedClient(client);
  setHandleReader((wire) => client.adopt(wire));
  nestedLink.onSettled = (settled) => client.onSettled(settled);
  nestedLink.resultHolds = (task, handles, references) => client.holdFor(task, handles, references);
  nestedLink.readReference = client.readReference;
}
