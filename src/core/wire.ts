/**
 * How arguments and results of tasks are encoded. Task proxies, task outputs
 * and `outputs.done` markers travel as references (msgpackr extensions): the
 * sender collects them as dependencies while encoding, and the receiver
 * replaces them by the values it fetched, while decoding.
 */
import "../comms/_native-off.ts";
import { addExtension, Packr } from "msgpackr";
import { InvalidArgumentError } from "../errors.ts";

/** A reference to the result of a task, or to one element of it, or to its completion only. */
export interface TaskReference {
  /** Task uid (for messages). */
  task: string;
  /** Task id on the wire (unique per head). */
  id: number;
  /** Worker that holds the result. */
  worker: string;
  /** Element index for `outputs[i]`, "done" for `outputs.done`, undefined for the whole result. */
  index?: number | "done";
}

/** Anything that stands for a task's result on the wire (TaskProxy, TaskOutput, DoneMarker). */
export interface ReferenceLike {
  toReference(): TaskReference;
}

/** Marker left where a `outputs.done` argument was: it is removed from the argument list. */
export const DONE = Symbol.for("mosaic.done");

const EXTENSION_TYPE = 0x4d; // "M"
const registeredClasses = new Set<Function>();

let collecting: TaskReference[] | undefined;
let resolving: ((reference: TaskReference) => unknown) | undefined;

/** Makes instances of `Class` travel as task references. */
export function registerReferenceClass(Class: new (...args: any[]) => ReferenceLike): void {
  if (registeredClasses.has(Class)) return;
  registeredClasses.add(Class);
  addExtension({
    Class,
    type: EXTENSION_TYPE,
    write(instance: ReferenceLike) {
      const reference = instance.toReference();
      collecting?.push(reference);
      return [reference.id, reference.task, reference.worker, reference.index ?? null];
    },
    read([id, task, worker, index]: [number, string, string, number | "done" | null]) {
      const reference: TaskReference = { id, task, worker, index: index ?? undefined };
      if (!resolving) return reference;
      return resolving(reference);
    },
  });
}

const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true, structuredClone: false });

/** Encodes a value, returning the task references found inside it. */
export function encodeWithReferences(value: unknown): { bytes: Uint8Array; references: TaskReference[] } {
  const references: TaskReference[] = [];
  collecting = references;
  try {
    return { bytes: packr.pack(value), references };
  } catch (error) {
    throw new InvalidArgumentError(`value cannot be sent to another runtime: ${(error as Error).message}`, { cause: error });
  } finally {
    collecting = undefined;
  }
}

/** Decodes a value, replacing each task reference by what `resolve` returns for it. */
export function decodeWithReferences(bytes: Uint8Array, resolve: (reference: TaskReference) => unknown): unknown {
  resolving = resolve;
  try {
    return packr.unpack(bytes);
  } finally {
    resolving = undefined;
  }
}

export function encodePlain(value: unknown): Uint8Array {
  return encodeWithReferences(value).bytes;
}

export function decodePlain(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Finds the first value of `value` that cannot travel, with its path, e.g. `args[1].callback`. */
export function findUnsendable(value: unknown, root = "args"): string | undefined {
  // Fast path for the common case: a flat list of primitives (no allocation).
  if (Array.isArray(value) && value.every((item) => item === null || (typeof item !== "object" && typeof item !== "function" && typeof item !== "symbol"))) {
    return undefined;
  }
  const path: string[] = [root];
  const problem = walk(value, path, new Set());
  return problem === undefined ? undefined : `${path.join("")} ${problem}`;
}

/** Returns what is wrong at the end of `path` (left pointing there), or undefined. */
function walk(value: unknown, path: string[], seen: Set<unknown>): string | undefined {
  if (value === null || value === undefined) return undefined;
  const type = typeof value;
  if (type === "function") return "is a function";
  if (type === "symbol") return "is a symbol";
  if (type !== "object") return undefined;
  if (seen.has(value)) return undefined;
  seen.add(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp || value instanceof Error) return undefined;
  if (registeredClasses.has((value as object).constructor)) return undefined;
  const visit = (item: unknown, segment: string) => {
    path.push(segment);
    const found = walk(item, path, seen);
    if (found === undefined) path.pop();
    return found;
  };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = visit(value[i], `[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value instanceof Map) {
    for (const [key, item] of value) {
      const found = visit(item, `.get(${JSON.stringify(String(key))})`);
      if (found) return found;
    }
    return undefined;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const item of value) {
      const found = visit(item, `<set item ${i++}>`);
      if (found) return found;
    }
    return undefined;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    return `is an instance of ${(value as object).constructor?.name ?? "a class"}, which has no codec (send plain objects, arrays, Map, Set, Date, typed arrays)`;
  }
  for (const key in value as object) {
    const found = visit((value as Record<string, unknown>)[key], `.${key}`);
    if (found) return found;
  }
  return undefined;
}

/** Encodes call arguments, refusing (with the path) values that cannot travel. */
export function encodeArguments(args: unknown[]): { bytes: Uint8Array; references: TaskReference[] } {
  const unsendable = findUnsendable(args);
  if (unsendable) throw new InvalidArgumentError(`cannot send arguments: ${unsendable}`);
  return encodeWithReferences(args);
}
