/**
 * How values (arguments, results, warehouse objects) are encoded.
 *
 * - Any structured-clone-like value: primitives, plain objects and arrays, Map,
 *   Set, Date, BigInt, Error, RegExp, ArrayBuffer, every TypedArray and DataView.
 *   msgpackr records keep plain objects and Maps apart.
 * - Typed arrays and buffers of PAYLOAD_MIN bytes or more leave the msgpackr
 *   body: the body holds a small descriptor, and their memory goes out as a raw
 *   payload (see comms/framing.ts), written from where it is and read once into
 *   its final memory, where the decoded array is a view (aligned, no copy).
 * - Task proxies, task outputs and `outputs.done` markers travel as references:
 *   the encoder collects them (the receiver fetches their values first), the
 *   decoder replaces them by those values.
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
  /** `unplaced`: a task without a worker yet gives worker "" instead of failing (the sender fills the real list in later). */
  toReference(unplaced?: boolean): TaskReference;
}

/** An encoded value: the msgpackr body, the task references in it, its raw payloads. */
export interface Encoded {
  bytes: Uint8Array;
  references: TaskReference[];
  payloads: Uint8Array[];
}

/** Marker left where a `outputs.done` argument was: it is removed from the argument list. */
export const DONE = Symbol.for("mosaic.done");

/** Binary values at least this big travel as raw payloads; smaller ones inline. */
export const PAYLOAD_MIN = 1024;

const REFERENCE_TYPE = 0x4d; // "M"
const BINARY_TYPE = 0x4f;

interface EncodeContext {
  references: TaskReference[];
  payloads: Uint8Array[];
  unplaced: boolean;
}
interface DecodeContext {
  payloads: readonly Uint8Array[];
  resolve: ((reference: TaskReference) => unknown) | undefined;
}
let encoding: EncodeContext | undefined;
let decoding: DecodeContext | undefined;

const referenceClasses = new Set<Function>();

/** Makes instances of `Class` travel as task references. */
export function registerReferenceClass(Class: new (...args: any[]) => ReferenceLike): void {
  if (referenceClasses.has(Class)) return;
  referenceClasses.add(Class);
  addExtension({
    Class,
    type: REFERENCE_TYPE,
    write(instance: ReferenceLike) {
      const reference = instance.toReference(encoding?.unplaced);
      encoding?.references.push(reference);
      return [reference.id, reference.task, reference.worker, reference.index ?? null];
    },
    read([id, task, worker, index]: [number, string, string, number | "done" | null]) {
      const reference: TaskReference = { id, task, worker, index: index ?? undefined };
      return decoding?.resolve ? decoding.resolve(reference) : reference;
    },
  });
}

// ---------------------------------------------------------------- binary values

type BinaryConstructor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView; BYTES_PER_ELEMENT?: number };

/** Kind byte → constructor. The order is the wire format: only append. */
const BINARY_KINDS: (BinaryConstructor | "ArrayBuffer" | "SharedArrayBuffer" | undefined)[] = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView as unknown as BinaryConstructor,
  "ArrayBuffer", "SharedArrayBuffer",
  (globalThis as { Float16Array?: BinaryConstructor }).Float16Array,
];
const KIND_OF = new Map<unknown, number>(BINARY_KINDS.map((kind, index) => [kind, index]));

function bytesOf(value: ArrayBufferView | ArrayBufferLike): Uint8Array {
  return ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
}

function kindOf(value: object): number {
  if (value instanceof ArrayBuffer) return KIND_OF.get("ArrayBuffer")!;
  if (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer) return KIND_OF.get("SharedArrayBuffer")!;
  for (let proto = Object.getPrototypeOf(value); proto; proto = Object.getPrototypeOf(proto)) {
    const kind = KIND_OF.get(proto.constructor);
    if (kind !== undefined) return kind;
  }
  throw new InvalidArgumentError(`cannot encode binary value of class ${value.constructor?.name}`);
}

/** Header: [kind][mode: 0 inline | 1 payload][u32 payload index] or [kind][0][bytes...]. */
function packBinary(value: ArrayBufferView | ArrayBufferLike): Uint8Array {
  const kind = kindOf(value);
  const bytes = bytesOf(value);
  // A frame carries at most 65,535 raw payloads; past that, binary values go inline.
  if (encoding && bytes.byteLength >= PAYLOAD_MIN && encoding.payloads.length < 0xffff) {
    const header = new Uint8Array(6);
    header[0] = kind;
    header[1] = 1;
    new DataView(header.buffer).setUint32(2, encoding.payloads.push(bytes) - 1, true);
    return header;
  }
  const inline = new Uint8Array(2 + bytes.byteLength);
  inline[0] = kind;
  inline.set(bytes, 2);
  return inline;
}

/** Memory holding `bytes` at an offset that suits `alignment`, copied only when it does not already. */
function aligned(bytes: Uint8Array, alignment: number, copy: boolean): Uint8Array {
  if (!copy && bytes.byteOffset % alignment === 0) return bytes;
  const fresh = new Uint8Array(bytes.byteLength);
  fresh.set(bytes);
  return fresh;
}

function unpackBinary(data: Uint8Array): unknown {
  const kind = BINARY_KINDS[data[0]!];
  let bytes: Uint8Array;
  let own: boolean; // whether `bytes` is memory nobody else uses (a payload) or a view of the body
  if (data[1] === 1) {
    const index = new DataView(data.buffer, data.byteOffset + 2, 4).getUint32(0, true);
    const payload = decoding?.payloads[index];
    if (!payload) throw new InvalidArgumentError(`encoded value refers to raw payload ${index}, which did not arrive`);
    bytes = payload;
    own = true;
  } else {
    bytes = data.subarray(2);
    own = false;
  }
  if (kind === "ArrayBuffer") {
    const whole = own && bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    return whole ? bytes.buffer : aligned(bytes, 1, true).buffer;
  }
  if (kind === "SharedArrayBuffer") {
    if (own && bytes.buffer instanceof SharedArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer;
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
    shared.set(bytes);
    return shared.buffer;
  }
  if (kind === undefined) throw new InvalidArgumentError(`unknown binary kind ${data[0]} (Float16Array is not supported here?)`);
  const size = kind.BYTES_PER_ELEMENT ?? 1;
  // Inline bytes are a view of the message body: copy them so the value owns its memory.
  const memory = aligned(bytes, size, !own);
  return new kind(memory.buffer, memory.byteOffset, memory.byteLength / size);
}

for (const kind of BINARY_KINDS) {
  if (kind === undefined) continue;
  const Class = kind === "ArrayBuffer" ? ArrayBuffer : kind === "SharedArrayBuffer" ? SharedArrayBuffer : kind;
  addExtension({ Class: Class as new (...args: any[]) => object, type: BINARY_TYPE, pack: packBinary as (value: object) => Uint8Array, unpack: unpackBinary });
}

// ---------------------------------------------------------------- encode / decode

// Records keep plain objects apart from Maps (which decode as Map); each
// message carries its own record definitions, so no state is shared between peers.
const packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });

/**
 * Encodes a value, collecting its task references and raw payloads. With
 * `unplaced`, references to tasks that have no worker yet are allowed (the
 * decoder uses only ids; the caller builds the list of references later).
 */
export function encodeValue(value: unknown, unplaced = false): Encoded {
  const context: EncodeContext = { references: [], payloads: [], unplaced };
  encoding = context;
  try {
    return { bytes: packr.pack(value), references: context.references, payloads: context.payloads };
  } catch (error) {
    throw new InvalidArgumentError(`value cannot be sent to another runtime: ${(error as Error).message}`, { cause: error });
  } finally {
    encoding = undefined;
  }
}

/** Decodes a value; task references become what `resolve` returns (or stay references). */
export function decodeValue(bytes: Uint8Array, payloads: readonly Uint8Array[] = [], resolve?: (reference: TaskReference) => unknown): unknown {
  const previous = decoding;
  decoding = { payloads, resolve };
  try {
    return packr.unpack(bytes);
  } finally {
    decoding = previous;
  }
}

/**
 * Finds the first value of `value` that cannot travel, with its path, e.g.
 * `args[1].callback`; task and object references met on the way go to `found`.
 */
export function findUnsendable(value: unknown, root = "args", found?: ReferenceLike[]): string | undefined {
  // Fast path for the common case: a flat list of primitives (no allocation).
  if (Array.isArray(value) && value.every((item) => item === null || (typeof item !== "object" && typeof item !== "function" && typeof item !== "symbol"))) {
    return undefined;
  }
  const path: string[] = [root];
  const problem = walk(value, path, new Set(), found);
  return problem === undefined ? undefined : `${path.join("")} ${problem}`;
}

/** Returns what is wrong at the end of `path` (left pointing there), or undefined. */
function walk(value: unknown, path: string[], seen: Set<unknown>, found: ReferenceLike[] | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const type = typeof value;
  if (type === "function") return "is a function";
  if (type === "symbol") return "is a symbol";
  if (type !== "object") return undefined;
  if (seen.has(value)) return "is a cycle (an object that contains itself cannot be sent)";
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return undefined;
  if (value instanceof Date || value instanceof RegExp || value instanceof Error) return undefined;
  if (referenceClasses.has((value as object).constructor)) {
    found?.push(value as ReferenceLike);
    return undefined;
  }
  seen.add(value);
  const visit = (item: unknown, segment: string) => {
    path.push(segment);
    const problem = walk(item, path, seen, found);
    if (problem === undefined) path.pop();
    return problem;
  };
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const problem = visit(value[i], `[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    }
    if (value instanceof Map) {
      for (const [key, item] of value) {
        const problem = visit(key, `<key ${JSON.stringify(String(key))}>`) ?? visit(item, `.get(${JSON.stringify(String(key))})`);
        if (problem) return problem;
      }
      return undefined;
    }
    if (value instanceof Set) {
      let i = 0;
      for (const item of value) {
        const problem = visit(item, `<set item ${i++}>`);
        if (problem) return problem;
      }
      return undefined;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      return `is an instance of ${(value as object).constructor?.name ?? "a class"}, which has no codec (send plain objects, arrays, Map, Set, Date, typed arrays)`;
    }
    for (const key in value as object) {
      const problem = visit((value as Record<string, unknown>)[key], `.${key}`);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    seen.delete(value); // a value shared by two branches is fine; only a cycle is not
  }
}
