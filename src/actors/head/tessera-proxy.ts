/**
 * The head's handle on a remote tessera. Method calls on it return TaskProxy
 * objects at once and are submitted at once; awaiting it waits until the
 * object exists on its worker.
 */
import { InvalidArgumentError, UnknownTesseraMethodError } from "../../errors.ts";
import { GET_ATTRIBUTE, SET_ATTRIBUTE } from "../wire/call-message.ts";
import { type HandleWire, registerHandleClass } from "../wire/value-codec.ts";
import type { ObjectRef } from "./object-ref.ts";
import type { DoneMarker, TaskOutput, TaskProxy } from "./task-proxy.ts";
import { checkRetryOptions, type RetryOptions } from "./retries.ts";

/** `restarting`: its worker or thread died and it is being made again elsewhere (see `maxRestarts`). */
export type TesseraState = "pending" | "ready" | "restarting" | "failed" | "released";

/** A parameter of a remote method also accepts a task (or task output) producing that type, or a warehouse reference to one. */
export type Remote<T> = T | TaskProxy<T> | TaskOutput<T> | ObjectRef<T>;
export type RemoteArgs<A extends readonly unknown[]> = { [I in keyof A]: Remote<A[I]> };

type AnyFunction = (...args: any[]) => any;
export type MethodNames<T> = { [K in keyof T]: T[K] extends AnyFunction ? (K extends string ? K : never) : never }[keyof T];

/**
 * What the task of a call gives, for a method returning R: a returned task's
 * value (a synchronous method forwarding a nested call), a returned tessera
 * proxy itself (it travels as a handle), else what R resolves to (an async
 * method returning a task or proxy resolves to undefined: JS adopts them).
 */
export type CallResult<R> = R extends TaskProxy<infer V> ? V : R extends TesseraProxyBase ? R : Awaited<R>;

/** A method of T as called through a proxy: same parameters (or tasks), returns a TaskProxy; `outputs.done` markers may follow. */
export type RemoteCall<F> = F extends (...args: infer A) => infer R
  ? (...args: [...RemoteArgs<A>, ...DoneMarker[]]) => TaskProxy<CallResult<R>>
  : never;

/** A method of T through a proxy; `proxy.method.options({ maxRetries: 2 })(...)` calls it with options of its own (as Ray's `.options()`). */
export type RemoteMethod<F> = RemoteCall<F> & { options(options: CallOptions): RemoteCall<F> };

/** Options of one call (they override its tessera's defaults). */
export type CallOptions = RetryOptions;

/** What the engine behind a proxy provides (see tessera-handle.ts). */
export interface TesseraEngine {
  readonly uid: string;
  /** The class's key (module path + name): a handle names it, so its receiver knows the class. */
  readonly key: string;
  readonly className: string;
  readonly methods: ReadonlySet<string>;
  readonly state: TesseraState;
  readonly worker: string | undefined;
  readonly ready: Promise<void>;
  call(method: string, args: unknown[], options?: CallOptions): TaskProxy<any>;
  release(): void;
  /** What a proxy of it travels as (see value-codec's HandleWire). */
  toHandle(): HandleWire;
}

/** Internal: a proxy's engine, and what it travels as. */
export const ENGINE = Symbol("mosaic.tessera.engine");
const TO_HANDLE = Symbol("mosaic.tessera.to-handle");

/** Members every tessera proxy has besides the class's methods. */
export interface TesseraProxyBase {
  readonly uid: string;
  readonly state: TesseraState;
  /** Uid of the worker the tessera lives on, once placed. */
  readonly runtime: string | undefined;
  /** Waits until the object exists on its worker; rejects if its constructor threw. */
  then<A = void, B = never>(onReady?: ((value: void) => A | PromiseLike<A>) | null, onFailed?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B>;
  /** Frees the remote object (after the calls already made on it) instead of waiting for garbage collection. */
  release(): void;
  [Symbol.dispose](): void;
}

/** Names of T's fields (its members that are not methods). */
export type FieldNames<T> = { [K in keyof T]: T[K] extends AnyFunction ? never : K extends string ? K : never }[keyof T];

/** Reading and writing a tessera's fields, ordered with its calls. */
export interface AttributeAccess<T> {
  /** The field's value, read after the calls made before (a task: `await proxy.$get("n").result()`). */
  $get<K extends FieldNames<T>>(name: K): TaskProxy<T[K]>;
  /** Sets the field, after the calls made before and before those made after. */
  $set<K extends FieldNames<T>>(name: K, value: Remote<T[K]>): TaskProxy<void>;
}

export type TesseraProxy<T> = { readonly [K in Exclude<MethodNames<T>, keyof TesseraProxyBase>]: RemoteMethod<T[K]> } & TesseraProxyBase & AttributeAccess<T>;



/** Property names that tools probe on any object; never treated as remote methods. */
export const PROBED: ReadonlySet<string> = new Set(["asymmetricMatch", "$$typeof", "nodeType", "toJSON", "constructor", "inspect", "catch", "finally"]);

class ProxyBase implements TesseraProxyBase {
  readonly #engine: TesseraEngine;
  constructor(engine: TesseraEngine) {
    this.#engine = engine;
  }
  get uid() {
    return this.#engine.uid;
  }
  get [ENGINE](): TesseraEngine {
    return this.#engine;
  }
  [TO_HANDLE](): HandleWire {
    return this.#engine.toHandle();
  }
  get state() {
    return this.#engine.state;
  }
  get runtime() {
    return this.#engine.worker;
  }
  then<A = void, B = never>(onReady?: ((value: void) => A | PromiseLike<A>) | null, onFailed?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#engine.ready.then(onReady, onFailed);
  }
  release(): void {
    this.#engine.release();
  }
  $get(name: string): TaskProxy<unknown> {
    if (typeof name !== "string") throw new InvalidArgumentError(`${this.#engine.className}.$get() takes a field name, got ${typeof name}`);
    return this.#engine.call(GET_ATTRIBUTE, [name]);
  }
  $set(name: string, value: unknown): TaskProxy<void> {
    if (typeof name !== "string") throw new InvalidArgumentError(`${this.#engine.className}.$set() takes a field name, got ${typeof name}`);
    return this.#engine.call(SET_ATTRIBUTE, [name, value]);
  }
  [Symbol.dispose](): void {
    this.#engine.release();
  }
  // Symbol-keyed, unlike toString: String(proxy) and `${proxy}` read it, and it clashes with no method name.
  [Symbol.toPrimitive](): string {
    return `<TesseraProxy ${this.uid} ${this.runtime ? `on ${this.runtime}` : "not placed yet"}, ${this.state}>`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this[Symbol.toPrimitive]();
  }
}

/**
 * Names a tessera's method cannot have: the proxy answers them itself (its
 * own members, what tools probe, what every object has), so calls to such a
 * method would never reach the tessera.
 */
export const RESERVED_METHOD_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(ProxyBase.prototype),
  ...PROBED,
  ...Object.getOwnPropertyNames(Object.prototype),
]);

// A proxy in an argument or a result travels as a handle: its receiver gets a proxy of its own (nested calls).
registerHandleClass(ProxyBase, (proxy) => proxy[TO_HANDLE]());

/** A proxy's base (its engine and members): an own property of the object the program holds. */
const BASE = Symbol("mosaic.tessera.base");

function unknownMethod(engine: TesseraEngine, key: string): never {
  throw new UnknownTesseraMethodError(`${engine.className} has no method "${key}" (its methods: ${[...engine.methods].join(", ") || "none"})`);
}

/**
 * What every tessera proxy's names not its own reach: one JS Proxy, the
 * prototype of them all, whose get trap answers with the proxy (the
 * receiver) at hand. A method of the class is made once per proxy and becomes
 * the proxy's own property, so every later call finds it as any property (the
 * engine caches where it is): through the trap each time, with a lookup of
 * its caller, it was ~8% of the head's samples per pipelined call. Proxies of
 * one class share their shapes (one prototype for all).
 */
const FALLBACK: object = new Proxy(Object.create(ProxyBase.prototype) as object, {
  get(target, key, receiver) {
    if (key === BASE) return undefined;
    // Unbound: what a value's class is (the value codec reads it) must be the class itself.
    if (key === "constructor") return ProxyBase;
    const base = (receiver as Record<symbol, ProxyBase | undefined>)[BASE];
    // Read on this prototype itself (a tool walking prototypes): the base's getters have no proxy to read.
    if (!base) return undefined;
    if (typeof key === "symbol" || key in base || PROBED.has(key)) {
      // Members of the base read its private fields: call them on the base, not on the proxy.
      const value = Reflect.get(base, key, base);
      return typeof value === "function" ? value.bind(base) : value;
    }
    const engine = base[ENGINE];
    const known = engine.methods.has(key);
    const caller = known ? (...args: unknown[]) => engine.call(key, args) : () => unknownMethod(engine, key);
    (caller as unknown as Record<string, unknown>).options = (options: CallOptions) => {
      if (!known) unknownMethod(engine, key);
      checkRetryOptions(options ?? {}, `${engine.className}.${key}.options()`);
      return (...args: unknown[]) => engine.call(key, args, options);
    };
    // Not on a proxy the program froze or sealed (its callers are then made on each use).
    if (known) Reflect.defineProperty(receiver, key, { value: caller, writable: true, configurable: true });
    return caller;
  },
});

export function createTesseraProxy<T>(engine: TesseraEngine): TesseraProxy<T> {
  const proxy = Object.create(FALLBACK) as object;
  Object.defineProperty(proxy, BASE, { value: new ProxyBase(engine) });
  return proxy as TesseraProxy<T>;
}
