/**
 * One walk over a value before it is encoded: does it travel at all (and
 * where is the first part that cannot, by path), and does it need the exact
 * encoding (exact-codec.ts) or can it take the fast one (plain msgpackr)?
 *
 * The fast encoding is exact for trees of ordinary values; the walk sends a
 * value to the exact one when it holds anything msgpackr would change: an
 * object reached twice (a shared reference or a cycle), -0, a string that is
 * not well-formed UTF-16 (also as a key), an own "__proto__" key, an array
 * with holes or named properties, a typed array that does not own its whole
 * ArrayBuffer, a resizable or growable buffer, an Error, a boxed primitive.
 * It allocates nothing for the common case beyond one Set.
 */
import { jscDescribe as describeCell } from "bun:jsc";
import { serializableKey } from "./serializable.ts";

/**
 * Values nested deeper than this are refused (with their path): encoding and
 * decoding recurse, and a tessera thread's stack is smaller than the main one's.
 */
export const MAX_DEPTH = 1000;

/** The result of a walk: `problem` (path and reason) when the value cannot travel; `exact` when it needs the exact encoding. */
export interface Scan {
  problem: string | undefined;
  exact: boolean;
}

/** Classes whose instances travel as task references (registered by the value codec). */
export const referenceClasses = new Set<Function>();
/** Classes that travel as a tessera handle (a proxy, not a dependency: see value-codec's registerHandleClass). */
export const handleClasses = new Set<Function>();

type TypedArrayClass = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): ArrayBufferView; readonly name: string };

/** Every view class the codec carries, by exact prototype (a subclass such as Node's Buffer is not one of them). */
export const VIEW_CLASSES: TypedArrayClass[] = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView as unknown as TypedArrayClass,
  ...((globalThis as { Float16Array?: TypedArrayClass }).Float16Array ? [(globalThis as { Float16Array?: TypedArrayClass }).Float16Array!] : []),
];
const VIEW_PROTOTYPES = new Set<object>(VIEW_CLASSES.map((Class) => Class.prototype));

/** The Error classes structuredClone knows, by prototype; an instance of any other (a subclass) is refused. */
export const ERROR_CLASSES: Record<string, ErrorConstructor> = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError: AggregateError as unknown as ErrorConstructor };
const ERROR_PROTOTYPES = new Set<object>(Object.values(ERROR_CLASSES).map((Class) => Class.prototype));
const BOXED_PROTOTYPES = new Set<object>([Number.prototype, String.prototype, Boolean.prototype, BigInt.prototype]);

/** Arrays longer than this are first asked whether they have named properties at all (one engine call instead of a key per element). */
const LONG_ARRAY = 64;

/**
 * Walks `value`: task and object references met on the way go to `found`.
 * `problem` reads like `args[0].list[1].callback is a function`.
 */
export function scanValue(value: unknown, root: string, found?: unknown[]): Scan {
  const state: State = { exact: false, seen: new Set(), found };
  const failure = walk(value, state, 0);
  if (failure === undefined) return { problem: undefined, exact: state.exact };
  const path = [root, ...failure.path.reverse()];
  // A deep path is shown by its ends.
  const shown = path.length > 12 ? `${path.slice(0, 6).join("")}…${path.slice(-3).join("")}` : path.join("");
  return { problem: `${shown} ${failure.reason}`, exact: state.exact };
}

const PLAIN: Scan = Object.freeze({ problem: undefined, exact: false });
const EXACT: Scan = Object.freeze({ problem: undefined, exact: true });

/**
 * `scanValue` of an argument list (rest parameters, or a list decoded from
 * one): dense, no named properties. Most calls pass nothing, primitives or
 * task references only, which need no walk (a walk of even an empty array
 * lists its keys); the first other object among them sends the whole list
 * through the walk.
 */
export function scanArguments(args: unknown[], found?: unknown[]): Scan {
  let exact = false;
  let references: unknown[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    switch (typeof arg) {
      case "number":
        if (arg === 0 && 1 / arg < 0) exact = true;
        continue;
      case "string":
        if (!arg.isWellFormed()) exact = true;
        continue;
      case "boolean":
      case "bigint":
        continue;
      case "undefined":
        if (i in args) continue;
        return scanValue(args, "args", found); // a hole after all
      case "object": {
        if (arg === null) continue;
        // A task or object reference (a dependent call's argument) needs no walk either. (Its own constructor
        // too: a Proxy that only claims the prototype is walked, and refused there.)
        const prototype = Object.getPrototypeOf(arg) as object | null;
        if (prototype !== null && referenceClasses.has(prototype.constructor) && (arg as object).constructor === prototype.constructor) {
          (references ??= []).push(arg);
          continue;
        }
        return scanValue(args, "args", found);
      }
      default:
        return scanValue(args, "args", found);
    }
  }
  if (references && found) found.push(...references);
  return exact ? EXACT : PLAIN;
}

interface State {
  exact: boolean;
  /** Every object met so far: one met again is shared (or a cycle), which only the exact encoding keeps. */
  seen: Set<unknown>;
  found: unknown[] | undefined;
}

/** What cannot travel; `path` is built on the way back out (innermost segment first), so a value that travels allocates none. */
interface Failure {
  reason: string;
  path: string[];
}

function fail(failure: Failure | undefined, segment: string): Failure | undefined {
  failure?.path.push(segment);
  return failure;
}

function walk(value: unknown, state: State, depth: number): Failure | undefined {
  switch (typeof value) {
    case "number":
      if (value === 0 && 1 / value < 0) state.exact = true;
      return undefined;
    case "string":
      if (!value.isWellFormed()) state.exact = true;
      return undefined;
    case "function":
      return { reason: "is a function", path: [] };
    case "symbol":
      return { reason: "is a symbol", path: [] };
    case "object":
      return value === null ? undefined : walkObject(value, state, depth);
    default:
      return undefined;
  }
}

function walkObject(value: object, state: State, depth: number): Failure | undefined {
  if (depth > MAX_DEPTH) return { reason: `is nested more than ${MAX_DEPTH} levels deep`, path: [] };
  if (state.seen.has(value)) {
    state.exact = true;
    return undefined;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) {
    state.seen.add(value);
    for (const key in value) {
      if (key === "__proto__" || !key.isWellFormed()) state.exact = true;
      const failure = walk((value as Record<string, unknown>)[key], state, depth + 1);
      if (failure) return fail(failure, `.${key}`);
    }
    return undefined;
  }
  if (prototype === Array.prototype) {
    state.seen.add(value);
    return walkArray(value as unknown[], state, depth);
  }
  if (VIEW_PROTOTYPES.has(prototype)) {
    const view = value as ArrayBufferView;
    const buffer = view.buffer;
    state.seen.add(value);
    // The fast encoding sends a view's own bytes as a new ArrayBuffer: right only for a view that is all of a fixed ArrayBuffer.
    if (state.seen.has(buffer) || view.byteOffset !== 0 || view.byteLength !== buffer.byteLength || !(buffer instanceof ArrayBuffer) || buffer.resizable) state.exact = true;
    state.seen.add(buffer);
    return undefined;
  }
  if (prototype === ArrayBuffer.prototype || prototype === SharedArrayBuffer.prototype) {
    state.seen.add(value);
    if (!ownsFixedBuffer(value as ArrayBufferLike)) state.exact = true;
    return undefined;
  }
  if (prototype === Map.prototype) {
    state.seen.add(value);
    for (const [key, item] of value as Map<unknown, unknown>) {
      const failure = walk(key, state, depth + 1);
      if (failure) return fail(failure, `<key ${JSON.stringify(String(key))}>`);
      const itemFailure = walk(item, state, depth + 1);
      if (itemFailure) return fail(itemFailure, `.get(${JSON.stringify(String(key))})`);
    }
    return undefined;
  }
  if (prototype === Set.prototype) {
    state.seen.add(value);
    let i = 0;
    for (const item of value as Set<unknown>) {
      const failure = walk(item, state, depth + 1);
      if (failure) return fail(failure, `<set item ${i}>`);
      i++;
    }
    return undefined;
  }
  if (prototype === Date.prototype || prototype === RegExp.prototype) {
    state.seen.add(value);
    return undefined;
  }
  if (ERROR_PROTOTYPES.has(prototype)) {
    state.seen.add(value);
    state.exact = true; // msgpackr's own Error extension keeps only name, message and cause
    for (const key of errorKeys(value as Error)) {
      const failure = walk((value as unknown as Record<string, unknown>)[key], state, depth + 1);
      if (failure) return fail(failure, `.${key}`);
    }
    return undefined;
  }
  if (BOXED_PROTOTYPES.has(prototype)) {
    state.seen.add(value);
    state.exact = true;
    return undefined;
  }
  if (referenceClasses.has(value.constructor)) {
    state.found?.push(value);
    return undefined;
  }
  if (handleClasses.size > 0 && handleClasses.has(value.constructor)) return undefined;
  if (serializableKey(value.constructor) !== undefined && prototype === value.constructor.prototype) {
    state.seen.add(value);
    state.exact = true; // its class travels with it: only the exact encoding carries that
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const failure = walk((value as Record<string, unknown>)[key], state, depth + 1);
      if (failure) return fail(failure, `.${key}`);
    }
    return undefined;
  }
  return { reason: `is ${describeInstance(value, prototype)}, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))`, path: [] };
}

function walkArray(array: unknown[], state: State, depth: number): Failure | undefined {
  const length = array.length;
  for (let i = 0; i < length; i++) {
    const item = array[i];
    if (item === undefined) {
      if (!(i in array)) state.exact = true; // a hole
      continue;
    }
    if (typeof item === "number") {
      if (item === 0 && 1 / item < 0) state.exact = true;
      continue;
    }
    const failure = walk(item, state, depth + 1);
    if (failure) return fail(failure, `[${i}]`);
  }
  if (!state.exact && hasNamedProperties(array)) state.exact = true;
  if (state.exact) {
    // Named properties travel too (exact encoding): they must be sendable.
    for (const key in array) {
      if (isIndex(key, length)) continue;
      if (!key.isWellFormed()) state.exact = true;
      const failure = walk((array as unknown as Record<string, unknown>)[key], state, depth + 1);
      if (failure) return fail(failure, `.${key}`);
    }
  }
  return undefined;
}

/**
 * Whether an array has own enumerable properties besides its elements. Listing
 * keys costs a string per element, so a long array first asks the engine for
 * its shape: one with no named property slots at all has none (any other
 * answer, or a change of that format, falls back to counting keys).
 */
function hasNamedProperties(array: unknown[]): boolean {
  if (array.length > LONG_ARRAY && describeCell(array).includes(", (0/0, 0/0){}, ")) return false;
  let keys = 0;
  for (const _ in array) keys++;
  return keys !== array.length;
}

export function isIndex(key: string, length: number): boolean {
  const index = Number(key);
  return index < length && String(index >>> 0) === key;
}

/** A buffer the fast encoding keeps as it is: fixed-length (and, for a SharedArrayBuffer, not growable). */
function ownsFixedBuffer(buffer: ArrayBufferLike): boolean {
  return buffer instanceof ArrayBuffer ? !buffer.resizable : !(buffer as SharedArrayBuffer).growable;
}

/** The own properties of an error that travel: message, stack, cause, errors, and every own enumerable one (code, name, ...). */
export function errorKeys(error: Error): string[] {
  const keys: string[] = [];
  for (const key of ["message", "stack", "cause", "errors"]) {
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    if (descriptor && "value" in descriptor && !descriptor.enumerable) keys.push(key);
  }
  for (const key of Object.keys(error)) keys.push(key);
  return keys;
}

function describeInstance(value: object, prototype: object): string {
  const name = (value.constructor as Function | undefined)?.name || "a class";
  for (let base = Object.getPrototypeOf(prototype); base; base = Object.getPrototypeOf(base)) {
    const builtin = base.constructor as Function | undefined;
    if (builtin && base !== Object.prototype && (globalThis as Record<string, unknown>)[builtin.name] === builtin) {
      return `an instance of ${name}, a subclass of ${builtin.name}`;
    }
  }
  return `an instance of ${name}`;
}
