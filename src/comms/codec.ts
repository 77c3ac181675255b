/**
 * The one msgpackr codec of the runtime. Messages are tuples (see protocol.ts);
 * records are off so that any peer decodes any frame without shared state.
 *
 * msgpackr's extensions are global to the process: every extension type is
 * registered here (binary values) or named here (task references and exact
 * values, registered by the actor model's value codec), so that every process, whatever else it
 * loaded, encodes and decodes control messages alike (a nonce is a Uint8Array).
 *
 * Binary values (every TypedArray, DataView, ArrayBuffer, SharedArrayBuffer)
 * are one extension: inline as [kind][0][bytes...] or, while a value codec
 * collects raw payloads (see binaryPayloads), [kind][1][u32 payload index]:
 * their memory then travels beside the message (see framing.ts), written from
 * where it is and read once into its final memory.
 */
import "./_native-off.ts";
// msgpackr's plain entry (pack + unpack, the same modules and extension registry as "msgpackr"): the package's
// Bun/Node entry adds its streams, which load node:stream, ~10 ms of every process's start.
import { addExtension, Packr } from "msgpackr/pack";
import { InvalidArgumentError, ProtocolError } from "../errors.ts";
import type { Message } from "./protocol.ts";
import { isSharedArrayPayload, payloadSize, sharedArrayMemory } from "./shared-memory/arrays.ts";

/** msgpackr extension types of the wire format. */
export const EXTENSION_TYPES = { reference: 0x4d, binary: 0x4f, exact: 0x58, handle: 0x48 } as const;

/** Binary values at least this big travel as raw payloads (when collected); smaller ones inline. */
export const PAYLOAD_MIN = 1024;

/**
 * Raw payloads of the value being encoded or decoded: set by the value codec
 * around one pack/unpack; undefined for control messages (binary goes inline).
 */
export const binaryPayloads: { encoding: Uint8Array[] | undefined; decoding: readonly Uint8Array[] | undefined; sharedArrays: number[] } = {
  encoding: undefined,
  decoding: undefined,
  /** Indices of the encoding's payloads that are shared arrays (the encoder takes them from the program once it succeeds). */
  sharedArrays: [],
};

const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true });

export function encodeMessage(message: Message): Uint8Array {
  return packr.pack(message);
}

export function decodeMessage(bytes: Uint8Array): Message {
  let message: unknown;
  try {
    message = packr.unpack(bytes);
  } catch (error) {
    throw new ProtocolError(`malformed message body (${bytes.length} bytes): ${(error as Error).message}`);
  }
  if (!Array.isArray(message) || typeof message[0] !== "number") {
    throw new ProtocolError(`malformed message: expected a tuple with a numeric kind, got ${describeShape(message)}`);
  }
  return message as Message;
}

function describeShape(value: unknown): string {
  if (Array.isArray(value)) return `an array starting with ${typeof value[0]}`;
  return value === null ? "null" : typeof value;
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

/**
 * Header: [kind][mode: 0 inline | 1 payload | 2 shared array][u32 payload index], a shared array's followed by
 * its f64 byte length (the decoder refuses a payload of another size: a sent array travels as a stand-in
 * without bytes of its own, and a copy of that would arrive empty), or [kind][0][bytes...].
 */
function packBinary(value: ArrayBufferView | ArrayBufferLike): Uint8Array {
  const kind = kindOf(value);
  const bytes = bytesOf(value);
  // A frame carries at most 65,535 raw payloads; past that, binary values go inline.
  const payloads = binaryPayloads.encoding;
  // A shared array (all of its memory) is a payload whatever its size: between runtimes of one machine it goes by name.
  const shared = payloads !== undefined && isSharedArrayPayload(bytes);
  if (payloads && (shared || bytes.byteLength >= PAYLOAD_MIN) && payloads.length < 0xffff) {
    const header = new Uint8Array(shared ? 14 : 6);
    header[0] = kind;
    header[1] = shared ? 2 : 1;
    const index = payloads.push(bytes) - 1;
    const view = new DataView(header.buffer);
    view.setUint32(2, index, true);
    if (shared) {
      binaryPayloads.sharedArrays.push(index);
      view.setFloat64(6, bytes.byteLength, true);
    }
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
  if (data[1] === 1 || data[1] === 2) {
    const index = new DataView(data.buffer, data.byteOffset + 2, 4).getUint32(0, true);
    const payload = binaryPayloads.decoding?.[index];
    if (!payload) throw new InvalidArgumentError(`encoded value refers to raw payload ${index}, which did not arrive`);
    if (data[1] === 2 && data.length >= 14) {
      const expected = new DataView(data.buffer, data.byteOffset + 6, 8).getFloat64(0, true);
      // payloadSize: a stand-in decoded where it was made maps the array's name (sharedArrayMemory); a copy of one has no bytes.
      if (payloadSize(payload) !== expected) throw new ProtocolError(`a shared array of ${expected} bytes arrived with ${payload.byteLength}`);
    }
    // A shared array arrives as one (a plain array when /dev/shm has no room for a copy of what came over TCP).
    const shared = data[1] === 2 && kind !== undefined && kind !== "SharedArrayBuffer" ? sharedArrayMemory(payload) : undefined;
    if (shared) return kind === "ArrayBuffer" ? shared : new (kind as BinaryConstructor)(shared, 0, shared.byteLength / ((kind as BinaryConstructor).BYTES_PER_ELEMENT ?? 1));
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
  addExtension({ Class: Class as new (...args: any[]) => object, type: EXTENSION_TYPES.binary, pack: packBinary as (value: object) => Uint8Array, unpack: unpackBinary });
}
