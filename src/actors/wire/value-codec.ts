/**
 * How values (arguments, results, warehouse objects) are encoded.
 *
 * - What structuredClone accepts arrives as structuredClone would make it (the
 *   README lists the few deliberate differences). A walk (value-scan.ts) finds
 *   what cannot travel and whether the value needs the exact encoding
 *   (exact-codec.ts: shared references, -0, holes, views with an offset, ...);
 *   the common value takes the fast one, plain msgpackr, where records keep
 *   plain objects and Maps apart.
 * - Typed arrays and buffers of PAYLOAD_MIN bytes or more leave the msgpackr
 *   body: the body holds a small descriptor, and their memory goes out as a raw
 *   payload (see comms/framing.ts), written from where it is and read once into
 *   its final memory, where the decoded array is a view (aligned, no copy).
 * - Task proxies, task outputs and `outputs.done` markers travel as references:
 *   the encoder collects them (the receiver fetches their values first), the
 *   decoder replaces them by those values.
 * - Tessera proxies travel as handles (uid, class key, methods): never a
 *   dependency; the receiving process makes a proxy of its own from one
 *   (see head/nested-calls.ts and thread/nested-client.ts).
 */
import "../../comms/_native-off.ts";
import { addExtension, Packr } from "msgpackr/pack";
import { binaryPayloads, EXTENSION_TYPES } from "../../comms/codec.ts";
import { MAX_BODY_BYTES } from "../../comms/protocol.ts";
import { takeSharedArrays } from "../../comms/shared-memory/index.ts";
import { InvalidArgumentError, messageOf } from "../../errors.ts";
import { exactValue } from "./exact-codec.ts";
import { handleClasses, MAX_DEPTH, referenceClasses, type Scan, scanArguments, scanValue } from "./value-scan.ts";

export { MAX_DEPTH, type Scan, scanArguments, scanValue };

/** Stands for "every worker has a copy" in a reference to a warehouse object. */
export const PUBLISHED = "*";

/** A reference to the result of a task, or to one element of it, or to its completion only. */
export interface TaskReference {
  /** Task uid (for messages). */
  task: string;
  /** Task id on the wire (unique per head). */
  id: number;
  /** Worker that holds the result. */
  worker: string;
  /** Element index for `outputs[i]` (a key for `outputs.key` of an object result), "done" for `outputs.done`, undefined for the whole result. */
  index?: number | string;
}

/** Anything that stands for a task's result on the wire (TaskProxy, TaskOutput, DoneMarker). */
export interface ReferenceLike {
  /** `unplaced`: a task without a worker yet gives worker "" instead of failing (the sender fills the real list in later). */
  toReference(unplaced?: boolean): TaskReference;
  /**
   * Its task's wire id and index, without its uid or worker (what a reference
   * to a value the head sends with the call needs: argument-bytes.ts's `byId`);
   * absent or undefined for what only a uid names (warehouse objects).
   */
  referenceById?(): TaskReference | undefined;
}

/** An encoded value: the msgpackr body, the task references in it, its raw payloads. */
export interface Encoded {
  bytes: Uint8Array;
  references: TaskReference[];
  payloads: Uint8Array[];
  /** The tessera handles met (only when there were some): the sender keeps them alive while the value travels. */
  handles?: object[];
}

/** A tessera proxy on the wire: its uid, class key and methods. */
export type HandleWire = [uid: string, key: string, methods: string[]];

/** Makes this process's proxies from handles (the head's client, a thread's nested client). */
let readHandle: ((wire: HandleWire) => unknown) | undefined;

export function setHandleReader(reader: (wire: HandleWire) => unknown): void {
  readHandle = reader;
}

/** Makes instances of `Class` (tessera proxies) travel as handles. */
export function registerHandleClass<C extends object>(Class: abstract new (...args: any[]) => C, toWire: (instance: C) => HandleWire): void {
  if (handleClasses.has(Class)) return;
  handleClasses.add(Class);
  addExtension({
    Class: Class as unknown as new (...args: any[]) => C,
    type: EXTENSION_TYPES.handle,
    write(instance: C) {
      if (encoding) (encoding.handles ??= []).push(instance);
      return toWire(instance);
    },
    read(wire: HandleWire) {
      const reader = decoding?.handles ?? readHandle;
      if (!reader) throw new InvalidArgumentError(`a tessera proxy (${wire[0]}) arrived where no runtime can call it`);
      return reader(wire);
    },
  });
}

/** Marker left where a `outputs.done` argument was: it is removed from the argument list. */
export const DONE = Symbol.for("mosaic.done");


interface EncodeContext {
  references: TaskReference[];
  payloads: Uint8Array[];
  unplaced: boolean;
  handles?: object[];
}
interface DecodeContext {
  resolve: ((reference: TaskReference) => unknown) | undefined;
  handles?: (wire: HandleWire) => unknown;
}
let encoding: EncodeContext | undefined;
let decoding: DecodeContext | undefined;

/** Makes instances of `Class` travel as task references. */
export function registerReferenceClass(Class: new (...args: any[]) => ReferenceLike): void {
  if (referenceClasses.has(Class)) return;
  referenceClasses.add(Class);
  addExtension({
    Class,
    type: EXTENSION_TYPES.reference,
    write(instance: ReferenceLike) {
      const reference = instance.toReference(encoding?.unplaced);
      encoding?.references.push(reference);
      return [reference.id, reference.task, reference.worker, reference.index ?? null];
    },
    read([id, task, worker, index]: [number, string, string, number | string | null]) {
      const reference: TaskReference = { id, task, worker, index: index ?? undefined };
      return decoding?.resolve ? decoding.resolve(reference) : reference;
    },
  });
}

// ---------------------------------------------------------------- encode / decode

// Records keep plain objects apart from Maps (which decode as Map); each
// message carries its own record definitions, so no state is shared between peers.
const packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });

/** msgpack's empty array: shared (encoded bytes are only read: copied into messages, never changed). */
const EMPTY_ARRAY_BYTES = new Uint8Array([0x90]);

/** The encoding of [] (the arguments of most calls): one for all, frozen (nothing that holds it may change it). */
const EMPTY_ENCODED: Encoded = Object.freeze({ bytes: EMPTY_ARRAY_BYTES, references: Object.freeze([]) as unknown as TaskReference[], payloads: Object.freeze([]) as unknown as Uint8Array[] });

/**
 * Encodes a value, collecting its task references and raw payloads. With
 * `unplaced`, references to tasks that have no worker yet are allowed (the
 * decoder uses only ids; the caller builds the list of references later).
 * `exact` is what the caller's scanValue said; without it the value is
 * scanned here (and refused, with its path, if it cannot travel).
 */
export function encodeValue(value: unknown, unplaced = false, root = "value", exact?: boolean): Encoded {
  if (exact === undefined) {
    const scan = scanValue(value, root);
    if (scan.problem) throw new InvalidArgumentError(`${root} cannot be sent to another runtime: ${scan.problem}`);
    exact = scan.exact;
  }
  // The commonest call passes nothing: its encoding is known (msgpack's empty array).
  if (!exact && Array.isArray(value) && value.length === 0) return EMPTY_ENCODED;
  const context: EncodeContext = { references: [], payloads: [], unplaced };
  encoding = context;
  binaryPayloads.encoding = context.payloads;
  const sharedArrays = (binaryPayloads.sharedArrays = []);
  let bytes: Uint8Array;
  try {
    bytes = packr.pack(exact ? exactValue(value) : value);
  } catch (error) {
    throw new InvalidArgumentError(`${root} cannot be sent to another runtime: ${messageOf(error)}`, { cause: error });
  } finally {
    encoding = undefined;
    binaryPayloads.encoding = undefined;
    binaryPayloads.sharedArrays = [];
  }
  // A larger message would be refused by its receiver, which drops the whole link: refuse it here, naming what is big.
  if (bytes.byteLength > MAX_VALUE_BYTES) {
    const largest = largestString(value, root);
    const where = largest ? `; the largest part is ${largest.path}, a string of ${largest.length} characters` : "";
    throw new InvalidArgumentError(
      `${root} encodes to ${bytes.byteLength} bytes, over the limit of ${MAX_VALUE_BYTES} bytes for a message${where} (large data travels best as typed arrays, which go beside the message without a limit)`,
    );
  }
  // Sent, shared arrays leave the program (its views of them are detached), as a transfer list moves buffers.
  if (sharedArrays.length > 0) takeSharedArrays(context.payloads, sharedArrays);
  const encoded: Encoded = { bytes, references: context.references, payloads: context.payloads };
  if (context.handles) encoded.handles = context.handles;
  return encoded;
}

/** Encoded values up to this size fit a message (what a call or reply adds to it stays well under the margin). */
export const MAX_VALUE_BYTES = MAX_BODY_BYTES - 1024 * 1024;

/** The longest string in `value` and its path (for the message of a value too large to send). */
function largestString(value: unknown, root: string): { path: string; length: number } | undefined {
  let best: { path: string; length: number } | undefined;
  const seen = new Set<unknown>();
  const visit = (item: unknown, path: string, depth: number): void => {
    if (typeof item === "string") {
      if (!best || item.length > best.length) best = { path, length: item.length };
      return;
    }
    if (item === null || typeof item !== "object" || seen.has(item) || depth > MAX_DEPTH || ArrayBuffer.isView(item)) return;
    seen.add(item);
    if (item instanceof Map) for (const [key, entry] of item) {
      visit(key, `${path}<key>`, depth + 1);
      visit(entry, `${path}.get(${JSON.stringify(String(key)).slice(0, 40)})`, depth + 1);
    }
    else if (item instanceof Set) {
      let i = 0;
      for (const entry of item) visit(entry, `${path}<set item ${i++}>`, depth + 1);
    } else if (Array.isArray(item)) item.forEach((entry, i) => visit(entry, `${path}[${i}]`, depth + 1));
    else for (const key in item) visit((item as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
  };
  visit(value, root, 0);
  return best;
}

/**
 * Decodes a value; task references become what `resolve` returns (or stay
 * references); tessera handles what `handles` makes (default: this process's reader).
 */
export function decodeValue(
  bytes: Uint8Array,
  payloads: readonly Uint8Array[] = [],
  resolve?: (reference: TaskReference) => unknown,
  handles?: (wire: HandleWire) => unknown,
): unknown {
  const previous = decoding;
  const previousPayloads = binaryPayloads.decoding;
  decoding = handles ? { resolve, handles } : { resolve };
  binaryPayloads.decoding = payloads;
  try {
    return packr.unpack(bytes);
  } finally {
    decoding = previous;
    binaryPayloads.decoding = previousPayloads;
  }
}

/**
 * Finds the first value of `value` that cannot travel, with its path, e.g.
 * `args[1].callback`; task and object references met on the way go to `found`.
 */
export function findUnsendable(value: unknown, root = "args", found?: ReferenceLike[]): string | undefined {
  return scanValue(value, root, found).problem;
}
