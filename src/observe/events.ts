/**
 * The event surface: one typed stream of what the runtime does, on the head.
 * A dashboard, a CLI status view, a profiler, tests and user code subscribe to
 * it; producers check `wants(type)` before they build an event, so a stream
 * nobody listens to costs one property read per would-be event.
 *
 * Events that happen on workers (a task starting on its thread, transfers,
 * memory pressure, spills) are only produced there while the head has a
 * listener for them: the head tells its workers which of those types are
 * wanted (WORKER_EVENT_TYPES, see HeadNode in cluster/head.ts) and they send them up in
 * batches.
 *
 * @example
 * const stop = mosaic.events.on("task.failed", (event) => console.error(event.task, event.error.message));
 * await mosaic.init();
 * ...
 * stop();
 */
import { InvalidArgumentError, printableError, TimeoutError } from "../errors.ts";
import type { RuntimeResources } from "./resources.ts";

/** Milliseconds since the epoch, as `Date.now()` (comparable across processes of one machine). */
export type Timestamp = number;

export interface RuntimeStartedEvent {
  type: "runtime.started";
  /** The head: the network is up, every worker ready. */
  uid: string;
  workers: string[];
  time: Timestamp;
}

export interface RuntimeJoinedEvent {
  type: "runtime.joined";
  uid: string;
  role: string;
  address: string;
  port: number;
  pid: number;
  time: Timestamp;
}

export interface RuntimeLostEvent {
  type: "runtime.lost";
  uid: string;
  /** Why: the exit or signal, a heartbeat timeout, a lost connection. */
  reason: string;
  time: Timestamp;
}

export interface TesseraCreatedEvent {
  type: "tessera.created";
  tessera: string;
  className: string;
  worker: string;
  /** The worker's thread it lives on. */
  thread: number;
  /** Times it was made again after its worker or thread died before this (0: its first creation). */
  restarts: number;
  time: Timestamp;
}

/** The worker or thread holding a tessera died, and it is being made again elsewhere (see `maxRestarts`). */
export interface TesseraRestartingEvent {
  type: "tessera.restarting";
  tessera: string;
  className: string;
  /** The worker it was on (or assigned to). */
  worker: string | undefined;
  /** Restarts so far, this one included. */
  restarts: number;
  /** Calls sent to it before that will be sent again, in order. */
  replayed: number;
  /** How it was lost. */
  error: Error;
  time: Timestamp;
}

export interface TesseraFailedEvent {
  type: "tessera.failed";
  tessera: string;
  className: string;
  worker: string | undefined;
  error: Error;
  time: Timestamp;
}

export interface TesseraReleasedEvent {
  type: "tessera.released";
  tessera: string;
  className: string;
  worker: string | undefined;
  time: Timestamp;
}

interface TaskFields {
  /** The task's uid (`task-<class>-<method>-<unique>`). */
  task: string;
  /** The task's number on the wire: task.started, produced where no uid is known, names the task by it. */
  id: number;
  tessera: string;
  method: string;
  /** The worker it runs on, once its tessera is placed. */
  worker: string | undefined;
}

export interface TaskSubmittedEvent extends TaskFields {
  type: "task.submitted";
  /** Bytes of its encoded arguments (raw payloads included). */
  argumentBytes: number;
  time: Timestamp;
}

/** Produced on the worker (only while someone listens for it). */
export interface TaskStartedEvent {
  type: "task.started";
  /** The task's number on the wire (its uid is made on the head): the `id` of its task.submitted, task.done or task.failed. */
  id: number;
  worker: string;
  thread: number;
  time: Timestamp;
}

export interface TaskDoneEvent extends TaskFields {
  type: "task.done";
  submitted: Timestamp;
  /** When it started on its thread, if the head learnt it (see TaskState). */
  started: Timestamp | undefined;
  ended: Timestamp;
  /** Bytes of its encoded result when it came with the completion; undefined when it stays on the worker until fetched. */
  resultBytes: number | undefined;
}

/** A call failed and runs again (see `maxRetries`, `retryExceptions`); its next attempt has a new wire id. */
export interface TaskRetriedEvent {
  type: "task.retried";
  task: string;
  tessera: string;
  method: string;
  /** Retries so far, this one included. */
  attempt: number;
  error: Error;
  time: Timestamp;
}

export interface TaskFailedEvent extends TaskFields {
  type: "task.failed";
  submitted: Timestamp;
  /** When it started on its thread, if the head learnt it (see TaskState). */
  started: Timestamp | undefined;
  ended: Timestamp;
  error: Error;
}

/** A payload moved between runtimes (produced where it was received, while someone listens). */
export interface TransferEvent {
  type: "transfer";
  from: string;
  to: string;
  bytes: number;
  /** shm: through a /dev/shm segment; tcp: over the socket. */
  route: "shm" | "tcp";
  /** Over tcp: the bytes the socket carried, fewer than `bytes` when payloads came compressed (the `compression` option). */
  wireBytes?: number;
  time: Timestamp;
}

/** A runtime refused memory: a transfer or a result did not fit its budget. */
export interface MemoryPressureEvent {
  type: "memory.pressure";
  runtime: string;
  /** Bytes asked for. */
  requested: number;
  /** Bytes the runtime's budget allows. */
  limit: number;
  time: Timestamp;
}

/** A stored result or object went to disk (out) or came back (in). */
export interface SpillEvent {
  type: "spill";
  runtime: string;
  direction: "out" | "in";
  bytes: number;
  time: Timestamp;
}

/**
 * A node's or worker's resource sample, once per `monitorInterval` (see
 * RuntimeResources for the units).
 */
export interface ResourcesEvent extends RuntimeResources {
  type: "resources";
}

export type RuntimeEvent =
  | RuntimeStartedEvent
  | RuntimeJoinedEvent
  | RuntimeLostEvent
  | TesseraCreatedEvent
  | TesseraFailedEvent
  | TesseraReleasedEvent
  | TaskSubmittedEvent
  | TaskStartedEvent
  | TaskDoneEvent
  | TaskFailedEvent
  | TesseraRestartingEvent
  | TaskRetriedEvent
  | TransferEvent
  | MemoryPressureEvent
  | SpillEvent
  | ResourcesEvent;

export type RuntimeEventType = RuntimeEvent["type"];
export type EventOf<K extends RuntimeEventType> = Extract<RuntimeEvent, { type: K }>;

export const EVENT_TYPES: readonly RuntimeEventType[] = [
  "runtime.started",
  "runtime.joined",
  "runtime.lost",
  "tessera.created",
  "tessera.failed",
  "tessera.released",
  "task.submitted",
  "task.started",
  "task.done",
  "task.failed",
  "tessera.restarting",
  "task.retried",
  "transfer",
  "memory.pressure",
  "spill",
  "resources",
];

/** Types produced on workers: they are asked for only while the head has listeners for them. */
export const WORKER_EVENT_TYPES: readonly RuntimeEventType[] = ["task.started", "transfer", "memory.pressure", "spill"];

/** An event as a worker sends it up (`events` command): only worker-side types travel, and they hold no Error. */
export type WireEvent = EventOf<"task.started" | "transfer" | "memory.pressure" | "spill">;

type Listener<E> = (event: E) => void;

export class EventStream {
  /** Where a listener's own error goes: it must not break the runtime that reports to it. */
  readonly #onListenerError: (error: unknown, event: RuntimeEvent) => void;

  constructor(onListenerError?: (error: unknown, event: RuntimeEvent) => void) {
    this.#onListenerError =
      onListenerError ?? ((error, event) => console.error(`mosaic: a listener of ${event.type} events threw: ${printableError(error)}`));
  }

  #listeners = new Map<RuntimeEventType, Set<Listener<any>>>();
  /** Per type: whether anyone listens (read on hot paths: one property lookup). */
  #wanted: Partial<Record<RuntimeEventType, true>> = {};
  #onInterest: ((types: RuntimeEventType[]) => void)[] = [];

  /**
   * Calls `listener` with every event of `type` ("*" for all) until the
   * returned function is called.
   */
  on<K extends RuntimeEventType>(type: K | "*", listener: Listener<EventOf<K>>): () => void {
    if (typeof listener !== "function") throw new InvalidArgumentError("events.on(type, listener) needs a function as listener");
    const types = type === "*" ? EVENT_TYPES : [type];
    for (const one of types) {
      if (!EVENT_TYPES.includes(one)) throw new InvalidArgumentError(`unknown event type "${one}": the types are ${EVENT_TYPES.join(", ")}`);
    }
    for (const one of types) {
      let set = this.#listeners.get(one);
      if (!set) this.#listeners.set(one, (set = new Set()));
      set.add(listener);
    }
    this.#interestChanged();
    let on = true;
    return () => {
      if (!on) return;
      on = false;
      for (const one of types) {
        const set = this.#listeners.get(one);
        set?.delete(listener);
        if (set?.size === 0) this.#listeners.delete(one);
      }
      this.#interestChanged();
    };
  }

  /**
   * The next event of `type` for which `match` holds (every one without it).
   * Rejects with TimeoutError after `timeout` ms, when given.
   */
  next<K extends RuntimeEventType>(type: K, match?: (event: EventOf<K>) => boolean, timeout?: number): Promise<EventOf<K>> {
    const { promise, resolve, reject } = Promise.withResolvers<EventOf<K>>();
    let timer: Timer | undefined;
    const off = this.on(type, (event) => {
      if (match && !match(event)) return;
      off();
      clearTimeout(timer);
      resolve(event);
    });
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        off();
        reject(new TimeoutError(`no ${type} event within ${timeout} ms`));
      }, timeout);
    }
    return promise;
  }

  /** Whether anyone listens for `type`: producers check this before building an event. */
  wants(type: RuntimeEventType): boolean {
    return this.#wanted[type] === true;
  }

  /** Types someone listens for now. */
  get wantedTypes(): RuntimeEventType[] {
    return Object.keys(this.#wanted) as RuntimeEventType[];
  }

  emit(event: RuntimeEvent): void {
    const set = this.#listeners.get(event.type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }

  /** Called with the wanted types whenever they change (the head forwards worker-side interest to its workers). */
  onInterest(callback: (types: RuntimeEventType[]) => void): () => void {
    this.#onInterest.push(callback);
    return () => {
      this.#onInterest = this.#onInterest.filter((one) => one !== callback);
    };
  }

  #interestChanged(): void {
    const wanted: Partial<Record<RuntimeEventType, true>> = {};
    for (const type of this.#listeners.keys()) wanted[type] = true;
    const before = Object.keys(this.#wanted).sort().join();
    this.#wanted = wanted;
    if (Object.keys(wanted).sort().join() === before) return;
    for (const callback of this.#onInterest) callback(this.wantedTypes);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `<EventStream listening for ${this.wantedTypes.join(", ") || "nothing"}>`;
  }
}

const KEY = Symbol.for("mosaic.events");

/** The process's event stream (one per process: the head's runtimes emit into it, whichever is running). */
export const events: EventStream = ((globalThis as Record<symbol, EventStream | undefined>)[KEY] ??= new EventStream());
