/**
 * The head's side of nested calls: tessera threads whose methods create
 * tesserae, call them and put objects ask the head over their own link, and
 * the head does it with its ActorClient on their behalf (it stays the one
 * coordinator). It keeps what each thread holds (holder = a thread uid): the
 * tesserae its proxies stand for (each a hold on the tessera, see
 * TesseraHandle.hold), its pending tasks, the objects its refs stand for (the
 * head's ObjectRef of each, kept strongly: the object is dropped when that is
 * collected, so when the program and every thread let go). A thread that dies
 * lets go of all of it. Results stay on the workers that made them; a
 * thread's request for one is passed through here, bytes as they are.
 */
import type { Connection, WithPayloads } from "../../comms/connection.ts";
import { DeadlockError, describeError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import { isWorkerUid, workerOfThread } from "../../types.ts";
import { Nested, NestedAsk, type NestedCommand, type NestedRequest, type NestedSettled } from "../nested-link.ts";
import { classNameOf, findClass } from "../registry.ts";
import { decodeValue, type HandleWire, PUBLISHED, registerHandleClass, type TaskReference } from "../wire/value-codec.ts";
import type { ActorClient } from "./actor-client.ts";
import { nextWireId, uidSuffix } from "./ids.ts";
import { ObjectRef, type ObjectOwner } from "./object-ref.ts";
import { callFunction } from "./remote-function.ts";
import { inlineResultOf, type TaskProxy } from "./task-proxy.ts";
import type { TesseraHandle } from "./tessera-handle.ts";
import { createTesseraProxy, ENGINE } from "./tessera-proxy.ts";

/** A tessera named in a value a thread sent (not a proxy of the program's): re-encoded as the same handle. */
class TesseraRef {
  constructor(readonly handle: TesseraHandle) {}
  /** As a proxy's: what holds a value's tesserae finds the handle (TesseraHandle's holdHandles). */
  get [ENGINE](): TesseraHandle {
    return this.handle;
  }
}
registerHandleClass(TesseraRef, (ref) => ref.handle.toHandle());

interface Holder {
  uid: string;
  connection: Connection;
  /** Its proxies' tesserae by the thread's local number (each one hold). */
  tesserae: Map<number, TesseraHandle>;
  /** Its tasks by the thread's local number, until it lets them go. */
  tasks: Map<number, TaskProxy<any>>;
  /** The objects its refs stand for (it put them, or met them in a value), until it lets them go. */
  objects: Map<number, ObjectRef<any>>;
  settled: NestedSettled;
}

export class NestedCalls {
  readonly #client: ActorClient;
  readonly #holders = new Map<string, Holder>();
  /** The head's ObjectRef of every object (the program's or a thread's put), for a reference to it to be that one (one owner, one release). */
  readonly #objects = new Map<number, WeakRef<ObjectRef<any>>>();
  /** Tesserae and objects named in results (or in objects a thread put), held while those are: by task (object) wire id. */
  readonly #pins = new Map<number, (TesseraHandle | ObjectRef<any>)[]>();
  /** The head's warehouse (it registers itself): owner of the objects threads put. */
  warehouse: (ObjectOwner & { adopt(id: number, uid: string, holder: string, size: number): ObjectRef<any>; workerLost(worker: string): void }) | undefined;

  constructor(client: ActorClient) {
    this.#client = client;
  }

  readonly #collectedObjects = new FinalizationRegistry<number>((id) => {
    if (!this.#objects.get(id)?.deref()) this.#objects.delete(id);
  });

  /** The head's ref of an object (the program's or a thread's put): threads that meet a reference to it hold this ref. */
  known(ref: ObjectRef<any>): void {
    this.#objects.set(ref.id, new WeakRef(ref));
    this.#collectedObjects.register(ref, ref.id);
  }

  #holder(connection: Connection): Holder {
    const uid = connection.peer!.uid;
    let holder = this.#holders.get(uid);
    if (!holder) this.#holders.set(uid, (holder = { uid, connection, tesserae: new Map(), tasks: new Map(), objects: new Map(), settled: [] }));
    return holder;
  }

  onCommand(connection: Connection, command: NestedCommand, payloads: Uint8Array[]): void {
    const holder = this.#holder(connection);
    switch (command[0]) {
      case Nested.Call:
        return this.#call(holder, command, payloads);
      case Nested.Hold: {
        const handle = this.#client.tessera(command[2]);
        if (!handle) return; // released already: calls through it fail (see #call)
        handle.hold();
        holder.tesserae.set(command[1], handle);
        return;
      }
      case Nested.LetGo: {
        const handle = holder.tesserae.get(command[1]);
        holder.tesserae.delete(command[1]);
        return handle?.letGo();
      }
      case Nested.ReleaseTask: {
        const task = holder.tasks.get(command[1]);
        holder.tasks.delete(command[1]);
        return task?.release();
      }
      case Nested.Cancel:
        return holder.tasks.get(command[1])?.cancel();
      case Nested.Pin: {
        const handle = this.#client.tessera(command[1]);
        if (!handle) return;
        handle.hold();
        return this.#pin(command[2], handle);
      }
      case Nested.LetGoObject:
        holder.objects.delete(command[1]);
        return;
      case Nested.HoldObject: {
        // Gone already (released before this thread met it): reading it fails on its worker, named.
        const ref = this.#objects.get(command[1])?.deref();
        if (ref) holder.objects.set(command[1], ref);
        return;
      }
      case Nested.PinObject: {
        const ref = this.#objects.get(command[1])?.deref();
        if (ref) this.#pin(command[2], ref);
        return;
      }
      case Nested.CallFunction: {
        const [, local, key, bytes, caller, options] = command;
        return this.#track(holder, local, bytes, payloads, (args) => callFunction(this.#client, key, args, options ?? undefined, caller));
      }
    }
  }

  /** Object `other` is named in object (or result) `id`: it lives while that one does. */
  pinObject(id: number, other: ObjectRef<any>): void {
    this.#pin(id, other);
  }

  #pin(id: number, held: TesseraHandle | ObjectRef<any>): void {
    const pinned = this.#pins.get(id);
    if (pinned) pinned.push(held);
    else this.#pins.set(id, [held]);
  }

  onRequest(connection: Connection, request: NestedRequest, payloads: Uint8Array[]): unknown {
    const holder = this.#holder(connection);
    switch (request[0]) {
      case NestedAsk.Create: {
        const [, local, uid, key, methods, bytes, options] = request;
        if (!uid.startsWith(`tess-${classNameOf(key).toLowerCase()}-${holder.uid.replace(/[:/]/g, ".")}.`) || this.#client.tessera(uid)) throw new RuntimeStateError(`${holder.uid} named a tessera ${uid}, which is not its to name`);
        findClass(key); // a class the program does not declare at module level fails here, named
        const transit: TesseraHandle[] = [];
        const args = this.#decode(holder, bytes, payloads, transit) as unknown[];
        let handle: TesseraHandle;
        try {
          const proxy = this.#client.create(key, new Set(methods), args, options ?? {}, false, uid);
          handle = (proxy as unknown as Record<symbol, TesseraHandle>)[ENGINE]!;
        } finally {
          // The constructor's arguments were encoded by then: held by the creation until it is made (holdArguments), not by us.
          for (const held of transit) held.letGo();
        }
        // The thread's proxy holds it, not the program (which never saw it).
        handle.programHeld = false;
        handle.hold();
        holder.tesserae.set(local, handle);
        return handle.ready.then(() => handle.worker);
      }
      case NestedAsk.Result:
        return this.#result(holder, request[1]);
      case NestedAsk.Put: {
        const id = nextWireId();
        const worker = workerOfThread(holder.uid);
        const ref = this.warehouse!.adopt(id, `obj-${uidSuffix(id)}`, worker, request[1]);
        this.known(ref);
        holder.objects.set(id, ref);
        return [id, ref.uid, worker];
      }
      case NestedAsk.Get: {
        const ref = this.#objects.get(request[1])?.deref();
        if (ref?.dropped) throw new RuntimeStateError(`${ref.uid} was dropped: its object is gone`);
        return this.#fetch(request[2] === PUBLISHED ? this.#client.liveWorkers()[0] : request[2], request[1], `obj #${request[1]}`);
      }
      case NestedAsk.Drop: {
        const ref = this.#objects.get(request[1])?.deref() ?? holder.objects.get(request[1]);
        holder.objects.delete(request[1]);
        return ref ? ref.drop().then(() => null) : null;
      }
    }
  }

  #call(holder: Holder, [, local, tessera, method, bytes, caller, options]: Extract<NestedCommand, [0, ...unknown[]]>, payloads: Uint8Array[]): void {
    const handle = holder.tesserae.get(tessera);
    if (!handle) return this.#settle(holder, local, "", new RuntimeStateError(`the tessera of this call was released, or never created`));
    // One call at a time in call order: the method running now would wait for a call queued behind itself.
    if (handle.id === caller && handle.maxConcurrency === 1) {
      return this.#settle(holder, local, handle.worker ?? "", new DeadlockError(`${handle.uid}.${method}() was called from a method of ${handle.uid} itself: it would run only after that method ends, which waits for it. Call the method directly (this.${method}()), or give the class maxConcurrency > 1`));
    }
    this.#track(holder, local, bytes, payloads, (args) => handle.call(method, args, options ?? undefined));
  }

  /** Submits a thread's call (`submit` with its decoded arguments) and tells the thread when it settles. */
  #track(holder: Holder, local: number, bytes: Uint8Array, payloads: Uint8Array[], submit: (args: unknown[]) => TaskProxy<any>): void {
    const transit: TesseraHandle[] = [];
    let task: TaskProxy<any>;
    try {
      task = submit(this.#decode(holder, bytes, payloads, transit) as unknown[]);
    } catch (error) {
      for (const held of transit) held.letGo();
      return this.#settle(holder, local, "", error as Error);
    }
    holder.tasks.set(local, task);
    // Tesserae passed along stay held until the call ends: by then the receiving thread holds its own.
    const ended = (error?: Error) => {
      for (const held of transit) held.letGo();
      this.#settle(holder, local, task.runtime ?? "", error, inlineResultOf(task));
    };
    task.then(() => ended(), ended);
  }

  /** Tells the thread, with the others of this tick. */
  #settle(holder: Holder, local: number, worker: string, error?: Error, inline?: Uint8Array): void {
    holder.settled.push([local, worker, error ? describeError(error, "head") : null, inline ?? null]);
    if (holder.settled.length > 1) return;
    queueMicrotask(() => {
      const batch = holder.settled;
      holder.settled = [];
      holder.connection.command("nested", batch);
    });
  }

  /** A thread's encoded arguments, with its tasks, objects and tesserae as the head's (tesserae held while they travel). */
  #decode(holder: Holder, bytes: Uint8Array, payloads: Uint8Array[], transit: TesseraHandle[]): unknown {
    const resolve = (reference: TaskReference): unknown => {
      if (reference.task.startsWith("obj-")) return this.#object(reference);
      const task = holder.tasks.get(reference.id);
      if (!task) throw new RuntimeStateError(`task ${reference.task} of ${holder.uid} was released: it cannot be passed any more`);
      return reference.index === undefined ? task : reference.index === "done" ? task.outputs.done : (task.outputs as Record<string | number, unknown>)[reference.index];
    };
    const handles = ([uid]: HandleWire): unknown => {
      const handle = this.#client.tessera(uid);
      if (!handle) throw new RuntimeStateError(`tessera ${uid} was released: it cannot be passed any more`);
      handle.hold();
      transit.push(handle);
      return new TesseraRef(handle);
    };
    return decodeValue(bytes, payloads, resolve, handles);
  }

  /** The head's object for a reference in a value: the one a thread's put made, else one that owns nothing. */
  #object(reference: TaskReference): ObjectRef<any> {
    return this.#objects.get(reference.id)?.deref() ?? new ObjectRef(reference.id, reference.task, reference.worker, 0, this.warehouse!);
  }

  /** References in a result the program reads: objects as ObjectRefs it can get and drop; tasks stay references. */
  readonly resultReference = (reference: TaskReference): unknown => (reference.task.startsWith("obj-") ? this.#object(reference) : reference);

  async #result(holder: Holder, local: number): Promise<unknown> {
    const task = holder.tasks.get(local);
    if (!task) throw new RuntimeStateError(`the task was released: its result is gone`);
    await task;
    return inlineResultOf(task) ?? this.#fetch(task.runtime!, task.id, task.uid);
  }

  /** A result or object, as its worker sends it (bytes passed on, not decoded here). */
  async #fetch(worker: string | undefined, id: number, uid: string): Promise<unknown> {
    if (!worker || this.#client.failures.isLost(worker)) throw new WorkerDiedError(worker ?? "", `${uid} was on ${worker ?? "no worker"}, which died`);
    return this.#client.link(worker).request<Uint8Array | WithPayloads<Uint8Array>>("result", [id, true]);
  }

  /** A proxy of a tessera named in a result the program reads: the program's own (it holds the tessera again). */
  programProxy([uid]: HandleWire): unknown {
    const handle = this.#client.tessera(uid);
    if (!handle) throw new RuntimeStateError(`tessera ${uid} was released before its proxy reached the program`);
    const alive = handle.programProxy?.deref();
    if (alive && handle.programHeld) return alive;
    const proxy = createTesseraProxy<any>(handle);
    handle.programGeneration++;
    handle.programHeld = true;
    handle.programProxy = new WeakRef(proxy);
    this.#client.releases.watchTessera(proxy, handle);
    return proxy;
  }

  get pinned(): boolean {
    return this.#pins.size > 0;
  }

  /** Whether the result of task `id` names tesserae or objects the head holds for it (its thread said so before its completion). */
  namesHeld(id: number): boolean {
    return this.#pins.size > 0 && this.#pins.has(id);
  }

  /** The result of task `id` was released: the tesserae it named are let go. */
  unpin(id: number): void {
    const pinned = this.#pins.get(id);
    if (!pinned) return;
    this.#pins.delete(id);
    for (const held of pinned) if (!(held instanceof ObjectRef)) held.letGo();
  }

  /** A thread (or a whole worker) is gone: what it held is let go, its pending calls' results released. */
  holderLost(uid: string): void {
    for (const [holderUid, holder] of this.#holders) {
      if (holderUid !== uid && workerOfThread(holderUid) !== uid) continue;
      this.#holders.delete(holderUid);
      for (const task of holder.tasks.values()) task.release();
      holder.objects.clear();
      for (const handle of holder.tesserae.values()) handle.letGo();
    }
    if (isWorkerUid(uid)) {
      // The objects that worker kept are gone with it: what they named (pinned under their ids) is let go.
      for (const [id, known] of this.#objects) if (known.deref()?.holder === uid) this.unpin(id);
      this.warehouse?.workerLost(uid);
    }
  }
}

