/**
 * Declaring actors: `@tessera` on a class (or `tessera(class ...)`), then
 * `X.remote(...args)` creates one on a worker and returns its proxy.
 */
import { InvalidArgumentError } from "../../errors.ts";
import { currentCreator } from "./context.ts";
// Inside a tessera method, X.remote() and calls go through the thread's nested client.
import "./nested-client.ts";
import { declaredKey, registerClass } from "../registry.ts";
import type { RetryOptions } from "./retries.ts";
import { argumentsOf, arrayClash, type ArrayArgs, createTesseraArray, type TesseraArray } from "./tessera-array.ts";
import { RESERVED_METHOD_NAMES, type RemoteArgs, type TesseraProxy } from "./tessera-proxy.ts";

type AnyClass = abstract new (...args: any[]) => any;

/** Where and how a tessera is created: `X.options({ ... }).remote(...)`. */
export interface TesseraOptions extends RetryOptions {
  /** Uid of the worker to create the tessera on, e.g. "worker:0:1". Default: the monitor picks. */
  worker?: string;
  /**
   * How many times the tessera is re-created when the worker or thread holding
   * it dies (Ray's `max_restarts`): its constructor runs again with the
   * original arguments on a live worker, and its calls that had not started
   * run there in order. The call that was running when it died runs again only
   * if its `maxRetries` allows (at most once otherwise). Default 0: the
   * tessera fails with WorkerDiedError, and so do its calls. -1: no limit.
   */
  maxRestarts?: number;
  /**
   * Async calls it runs at once (Ray's `max_concurrency`): each starts in call
   * order and the next starts when it awaits, up to this many; they may end in
   * any order. Synchronous methods still run one at a time. Default 1.
   */
  maxConcurrency?: number;
}

/** What `X.options({...})` gives: `remote` and `array` with those options. */
export interface WithOptions<C extends AnyClass> {
  remote(...args: RemoteArgs<ConstructorParameters<C>>): TesseraProxy<InstanceType<C>>;
  array(length: number, ...args: ArrayArgs<ConstructorParameters<C>>): TesseraArray<InstanceType<C>>;
}

/** Static members that `tessera` adds to a class. */
export interface TesseraStatics<C extends AnyClass> {
  /** Creates an instance on a worker chosen by the monitor; returns its proxy at once. */
  remote(...args: RemoteArgs<ConstructorParameters<C>>): TesseraProxy<InstanceType<C>>;
  /**
   * Creates `length` instances spread over the workers (an arguments wrapped
   * in `each([...])` gives each its own value); returns the array's proxy at once.
   */
  array(length: number, ...args: ArrayArgs<ConstructorParameters<C>>): TesseraArray<InstanceType<C>>;
  /** Options form: `X.options({ worker: "worker:0:1" }).remote(...)`, `.array(...)`. */
  options(options: TesseraOptions): WithOptions<C>;
}

const KEY = Symbol.for("mosaic.tessera.key");
const METHODS = Symbol.for("mosaic.tessera.methods");

/** The class's methods; one named like a member of every proxy is refused (calls to it could never reach the tessera). */
function methodNames(Class: Function, className: string): Set<string> {
  const names = new Set<string>();
  for (let proto = Class.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (name === "constructor" || typeof descriptor?.value !== "function") continue;
      if (RESERVED_METHOD_NAMES.has(name)) {
        throw new InvalidArgumentError(
          `${className} cannot be a tessera: its method "${name}" has the name of a member every tessera proxy has (reserved: ${[...RESERVED_METHOD_NAMES].filter((n) => n !== "constructor").join(", ")}); rename the method`,
        );
      }
      names.add(name);
    }
  }
  return names;
}

function createRemote(Class: Function, args: unknown[], options?: TesseraOptions): TesseraProxy<any> {
  const key = (Class as unknown as Record<symbol, string>)[KEY]!;
  const methods = (Class as unknown as Record<symbol, Set<string>>)[METHODS]!;
  return currentCreator(`${Class.name}.remote()`).create(key, methods, args, options);
}

function createArray(Class: Function, length: number, args: unknown[], options?: TesseraOptions): TesseraArray<any> {
  const methods = (Class as unknown as Record<symbol, Set<string>>)[METHODS]!;
  if (!Number.isInteger(length) || length < 1) throw new InvalidArgumentError(`${Class.name}.array() takes a length >= 1, got ${String(length)}`);
  const clash = arrayClash(methods);
  if (clash) throw new InvalidArgumentError(`${Class.name} cannot be made an array: its method "${clash}" has the name of a member every tessera array has; rename the method`);
  const perElement = Array.from({ length }, (_, i) => argumentsOf(args, i, length, `${Class.name}.array()`));
  const elements = perElement.map((elementArgs) => createRemote(Class, elementArgs, options));
  return createTesseraArray(Class.name, methods, elements);
}

function withOptions(Class: Function, options: TesseraOptions): WithOptions<any> {
  return { remote: (...args: unknown[]) => createRemote(Class, args, options), array: (length: number, ...args: unknown[]) => createArray(Class, length, args, options) };
}

/**
 * Makes a class a tessera: instances are created on workers with `.remote()`.
 * Works as a standard decorator and as a function (which keeps full typing).
 *
 * @example
 * const Counter = tessera(class Counter {
 *   n = 0;
 *   add(k: number) { return (this.n += k); }
 * });
 * const counter = Counter.remote();
 * const task = counter.add(2);   // TaskProxy<number>, submitted at once
 * console.log(await task.result()); // 2
 */
export function tessera<C extends AnyClass>(Class: C, context?: ClassDecoratorContext<C>): C & TesseraStatics<C> {
  if (typeof Class !== "function") throw new InvalidArgumentError("tessera() takes a class");
  const name = context?.name ?? Class.name;
  const methods = methodNames(Class, name);
  const key = registerClass(Class, name, declaredKey(tessera, name));
  Object.defineProperties(Class, {
    [KEY]: { value: key },
    [METHODS]: { value: methods },
    remote: { value: (...args: unknown[]) => createRemote(Class, args), configurable: true, writable: true },
    array: { value: (length: number, ...args: unknown[]) => createArray(Class, length, args), configurable: true, writable: true },
    options: { value: (options: TesseraOptions) => withOptions(Class, options), configurable: true, writable: true },
  });
  return Class as C & TesseraStatics<C>;
}

/**
 * Optional base class that gives decorated classes typed `remote()`/`options()`:
 * `@tessera class Solver extends Tessera { ... }` then `Solver.remote(...)`.
 */
export abstract class Tessera {
  static remote<C extends AnyClass>(this: C, ...args: RemoteArgs<ConstructorParameters<C>>): TesseraProxy<InstanceType<C>> {
    if (!(KEY in this)) throw new InvalidArgumentError(`${this.name} extends Tessera but is not decorated with @tessera`);
    return createRemote(this, args) as TesseraProxy<InstanceType<C>>;
  }

  static array<C extends AnyClass>(this: C, length: number, ...args: ArrayArgs<ConstructorParameters<C>>): TesseraArray<InstanceType<C>> {
    if (!(KEY in this)) throw new InvalidArgumentError(`${this.name} extends Tessera but is not decorated with @tessera`);
    return createArray(this, length, args) as TesseraArray<InstanceType<C>>;
  }

  static options<C extends AnyClass>(this: C, options: TesseraOptions): WithOptions<C> {
    return withOptions(this, options) as WithOptions<C>;
  }
}

export function tesseraKey(Class: Function): string | undefined {
  return (Class as unknown as Record<symbol, string | undefined>)[KEY];
}
