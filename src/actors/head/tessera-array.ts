/**
 * Tessera arrays (the original's ArrayProxy): `X.array(4, ...args)` makes 4
 * tesserae spread over the workers; a method called on the array is called
 * on every element (a broadcast) and gives an ArrayTask, whose `result()`
 * holds the results in index order. `each([...])` gives each element its own
 * argument. `array[i]` is the i-th tessera's proxy; `array.onWorker(uid)` the
 * elements on one worker (the original's `runtime=`).
 */
import { InvalidArgumentError, MosaicError, UnknownTesseraMethodError } from "../../errors.ts";
import { scanValue } from "../wire/value-scan.ts";
import type { DoneMarker, TaskProxy } from "./task-proxy.ts";
import { type CallOptions, type CallResult, type MethodNames, PROBED, type Remote, type TesseraProxy } from "./tessera-proxy.ts";

/** An argument that differs per element of a tessera array: element i gets `values[i]`. */
export class PerElement<T> {
  constructor(readonly values: readonly T[]) {}
}

/** Marks an argument of an array call (or of `X.array`) as one value per element, in index order. */
export function each<T>(values: readonly T[]): PerElement<T> {
  if (!Array.isArray(values)) throw new InvalidArgumentError(`each() takes an array of one value per element, got ${typeof values}`);
  return new PerElement(values);
}

/** One or more elements of an array call failed; `failures` says which (by index) and why, `cause` is the first. */
export class ArrayElementError extends MosaicError {
  override readonly code = "ARRAY_ELEMENT_FAILED";
  constructor(
    readonly className: string,
    readonly failures: readonly { index: number; tessera: string; error: Error }[],
  ) {
    const [first] = failures;
    const more = failures.length > 1 ? `; ${failures.length - 1} more failed (indices ${failures.slice(1).map((f) => f.index).join(", ")})` : "";
    super(`element ${first!.index} of a ${className} array (${first!.tessera}) failed: ${first!.error.message}${more}`, { cause: first!.error });
  }

  /** The index of the first element that failed. */
  get index(): number {
    return this.failures[0]!.index;
  }
}

/** A method call broadcast over an array: one task per element, in index order. */
export class ArrayTask<R = unknown> implements PromiseLike<void> {
  #settled: Promise<void> | undefined;
  #results: Promise<R[]> | undefined;

  constructor(
    readonly className: string,
    /** One task per element, in index order. */
    readonly tasks: readonly TaskProxy<R>[],
    /** Each task's element index in the whole array (an `onWorker` view calls some of them). */
    readonly indices: readonly number[],
  ) {}

  /** `pending` until every element settled; then `failed` if any failed, else `done`. */
  get state(): "pending" | "done" | "failed" {
    if (this.tasks.some((task) => task.state === "pending" || task.state === "running")) return "pending";
    return this.tasks.some((task) => task.state === "failed") ? "failed" : "done";
  }

  #failure(): ArrayElementError | undefined {
    const failures = this.tasks.flatMap((task, i) => (task.state === "failed" ? [{ index: this.indices[i]!, tessera: task.tessera, error: task.error! }] : []));
    return failures.length > 0 ? new ArrayElementError(this.className, failures) : undefined;
  }

  /** Every element settled: waits for all of them, then rejects with ArrayElementError if any failed. */
  #all(): Promise<void> {
    this.#settled ??= Promise.allSettled(this.tasks).then(() => {
      const failure = this.#failure();
      if (failure) throw failure;
    });
    return this.#settled;
  }

  then<A = void, B = never>(onDone?: ((value: void) => A | PromiseLike<A>) | null, onFailed?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#all().then(onDone, onFailed);
  }

  /** The results in index order (fetched from the workers together). */
  result(): Promise<R[]> {
    this.#results ??= this.#all().then(() => Promise.all(this.tasks.map((task) => task.result())));
    return this.#results;
  }

  /** Frees every element's result on its worker. */
  release(): void {
    for (const task of this.tasks) task.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }

  toString(): string {
    return `<ArrayTask ${this.className}[${this.tasks.length}] state=${this.state}>`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** An argument of an array call: the same for every element, or one per element. */
export type ArrayArg<T> = Remote<T> | PerElement<Remote<T>>;
export type ArrayArgs<A extends readonly unknown[]> = { [I in keyof A]: ArrayArg<A[I]> };

/** A method of T called on an array: broadcast, one task per element. */
export type ArrayCall<F> = F extends (...args: infer A) => infer R ? (...args: [...ArrayArgs<A>, ...DoneMarker[]]) => ArrayTask<CallResult<R>> : never;
export type ArrayMethod<F> = ArrayCall<F> & { options(options: CallOptions): ArrayCall<F> };

/** Members every tessera array has besides the class's methods (a class with a method of these names cannot be made an array). */
export interface TesseraArrayBase<T> {
  readonly length: number;
  /** The elements' proxies, in index order. */
  readonly tesserae: readonly TesseraProxy<T>[];
  /** The i-th element (also `array[i]`); a negative index counts from the end. */
  at(index: number): TesseraProxy<T>;
  /** The elements on one worker, as an array (indices keep their place in the whole array). */
  onWorker(worker: string): TesseraArray<T>;
  /** Waits until every element exists on its worker; rejects with ArrayElementError if a constructor failed. */
  then<A = void, B = never>(onReady?: ((value: void) => A | PromiseLike<A>) | null, onFailed?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B>;
  /** Frees every element. */
  release(): void;
  [Symbol.dispose](): void;
  [Symbol.iterator](): Iterator<TesseraProxy<T>>;
  readonly [index: number]: TesseraProxy<T>;
}

export type TesseraArray<T> = { readonly [K in Exclude<MethodNames<T>, keyof TesseraArrayBase<T>>]: ArrayMethod<T[K]> } & TesseraArrayBase<T>;

const BASE_MEMBERS = new Set(["length", "tesserae", "at", "onWorker", "then", "release", "catch", "finally", "toString", "toJSON", "constructor"]);

/** Names a class's methods must not have to be made an array (the array answers them itself). */
export function arrayClash(methods: ReadonlySet<string>): string | undefined {
  for (const name of methods) if (BASE_MEMBERS.has(name)) return name;
  return undefined;
}

/** The arguments of element `index`: per-element ones resolved. */
export function argumentsOf(args: readonly unknown[], index: number, length: number, what: string): unknown[] {
  return args.map((arg, position) => {
    if (!(arg instanceof PerElement)) return arg;
    if (arg.values.length !== length) {
      throw new InvalidArgumentError(`${what}: argument ${position} has ${arg.values.length} values for ${length} elements (each() takes one per element)`);
    }
    return arg.values[index];
  });
}

/** Builds the array's proxy over its elements. */
export function createTesseraArray<T>(className: string, methods: ReadonlySet<string>, elements: readonly TesseraProxy<T>[], indices: readonly number[] = elements.map((_, i) => i)): TesseraArray<T> {
  const length = elements.length;
  const call = (method: string, args: unknown[], options?: CallOptions): ArrayTask<unknown> => {
    const what = `${className}[${length}].${method}`;
    // Every element's arguments first: a bad one fails the whole call before any is sent.
    const perElement = elements.map((_, i) => argumentsOf(args, i, length, what));
    for (let i = 0; i < length; i++) {
      const problem = args.some((arg) => arg instanceof PerElement) ? scanValue(perElement[i], "args").problem : undefined;
      if (problem) throw new InvalidArgumentError(`cannot call ${what} (element ${indices[i]}): ${problem}`);
    }
    const tasks = elements.map((element, i) => {
      const caller = (element as unknown as Record<string, ((...a: unknown[]) => TaskProxy<unknown>) & { options(o: CallOptions): (...a: unknown[]) => TaskProxy<unknown> }>)[method]!;
      return options ? caller.options(options)(...perElement[i]!) : caller(...perElement[i]!);
    });
    return new ArrayTask(className, tasks, indices);
  };
  const base: Record<string | symbol, unknown> = {
    length,
    tesserae: elements,
    at(index: number) {
      const element = elements.at(index);
      if (!Number.isInteger(index) || !element) throw new InvalidArgumentError(`${className} array has ${length} elements: no index ${index}`);
      return element;
    },
    onWorker(worker: string) {
      const picked = elements.flatMap((element, i) => (element.runtime === worker ? [[element, indices[i]!] as const] : []));
      return createTesseraArray(className, methods, picked.map(([element]) => element), picked.map(([, index]) => index));
    },
    then(onReady?: (value: void) => unknown, onFailed?: (reason: unknown) => unknown) {
      return Promise.allSettled(elements)
        .then(() => {
          const failures = elements.flatMap((element, i) => (element.state === "failed" ? [i] : []));
          if (failures.length === 0) return;
          // The constructor's error, as awaiting the element gives it.
          return Promise.all(failures.map((i) => Promise.resolve(elements[i]).then(() => undefined, (error: Error) => ({ index: indices[i]!, tessera: elements[i]!.uid, error })))).then((found) => {
            throw new ArrayElementError(className, found.filter((f) => f !== undefined));
          });
        })
        .then(onReady, onFailed);
    },
    release() {
      for (const element of elements) element.release();
    },
    [Symbol.dispose]() {
      for (const element of elements) element.release();
    },
    [Symbol.iterator]() {
      return elements[Symbol.iterator]();
    },
    [Symbol.toPrimitive]() {
      return `<TesseraArray ${className}[${length}]>`;
    },
    [Symbol.for("nodejs.util.inspect.custom")]() {
      return `<TesseraArray ${className}[${length}]>`;
    },
  };
  const callers = new Map<string, unknown>();
  return new Proxy(base, {
    get(target, key) {
      if (typeof key === "symbol" || key in target) return target[key];
      if (/^\d+$/.test(key)) return elements[Number(key)];
      if (PROBED.has(key)) return undefined;
      let caller = callers.get(key);
      if (!caller) {
        if (!methods.has(key)) {
          return () => {
            throw new UnknownTesseraMethodError(`${className} has no method "${key}" (its methods: ${[...methods].join(", ") || "none"})`);
          };
        }
        const broadcast = (...args: unknown[]) => call(key, args);
        (broadcast as unknown as Record<string, unknown>).options = (options: CallOptions) => (...args: unknown[]) => call(key, args, options);
        callers.set(key, (caller = broadcast));
      }
      return caller;
    },
  }) as unknown as TesseraArray<T>;
}
