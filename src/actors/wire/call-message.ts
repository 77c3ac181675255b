/**
 * The hot path of the head: every method call is one `call` command. Encoding
 * it by hand (msgpack of [Command, "call", [tessera, task, method, args, refs]])
 * skips a generic pack of a tuple that only wraps already-encoded arguments,
 * and sends the arguments as msgpack `bin`, which the receiver reads in place.
 */
import "../../comms/_native-off.ts";
import { Packr } from "msgpackr/pack";
import { MessageKind } from "../../comms/protocol.ts";
import type { TaskReference } from "./value-codec.ts";

const refsPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const textEncoder = new TextEncoder();
const strings = new Map<string, Uint8Array>();

/** msgpack str of `text`, cached (method names repeat). */
function str(text: string): Uint8Array {
  let encoded = strings.get(text);
  if (!encoded) {
    const utf8 = textEncoder.encode(text);
    if (utf8.length < 32) encoded = Uint8Array.of(0xa0 | utf8.length, ...utf8);
    else if (utf8.length < 256) encoded = Uint8Array.of(0xd9, utf8.length, ...utf8);
    else if (utf8.length < 65536) {
      encoded = new Uint8Array(3 + utf8.length);
      encoded.set([0xda, utf8.length >> 8, utf8.length & 0xff]);
      encoded.set(utf8, 3);
    } else {
      encoded = new Uint8Array(5 + utf8.length);
      new DataView(encoded.buffer).setUint32(1, utf8.length);
      encoded[0] = 0xdb;
      encoded.set(utf8, 5);
    }
    if (strings.size < 4096) strings.set(text, encoded);
  }
  return encoded;
}

const CALL = str("call");

/** Method names a call carries to read or write a tessera's field (`proxy.$get`, `proxy.$set`): no method may have them. */
export const GET_ATTRIBUTE = "$get";
export const SET_ATTRIBUTE = "$set";
const EMPTY_ARRAY = 0x90;

/** Size of a non-negative integer as msgpack. */
function uintSize(value: number): number {
  return value < 128 ? 1 : value < 0x10000 ? 3 : value < 0x1_0000_0000 ? 5 : 9;
}

const float64 = new DataView(new ArrayBuffer(8));

/**
 * Writes a non-negative integer as msgpack (uint 32 or smaller, float 64 past
 * 2^32: exact up to 2^53). Byte by byte: a DataView on `target` would make the
 * engine materialise its ArrayBuffer, which cost more than the rest of a call.
 */
function writeUint(target: Uint8Array, at: number, value: number): number {
  if (value < 128) {
    target[at] = value;
    return at + 1;
  }
  if (value < 0x10000) {
    target[at] = 0xcd;
    target[at + 1] = value >> 8;
    target[at + 2] = value & 0xff;
    return at + 3;
  }
  if (value < 0x1_0000_0000) {
    target[at] = 0xce;
    target[at + 1] = value >>> 24;
    target[at + 2] = (value >>> 16) & 0xff;
    target[at + 3] = (value >>> 8) & 0xff;
    target[at + 4] = value & 0xff;
    return at + 5;
  }
  target[at] = 0xcb;
  float64.setFloat64(0, value);
  for (let i = 0; i < 8; i++) target[at + 1 + i] = float64.getUint8(i);
  return at + 9;
}

/**
 * `seq`: the call's place among its tessera's calls (1, 2, ...). Calls travel
 * by two routes (straight to the tessera's thread, or through its worker's main
 * thread when they have dependencies to resolve): the thread runs them by it.
 */
/** A reference in a call message: [id, worker, task uid, index]. */
export type WireReference = [id: number, worker: string, task: string, index?: number | string];

function referenceToWire(reference: TaskReference): WireReference {
  return reference.index === undefined ? [reference.id, reference.worker, reference.task] : [reference.id, reference.worker, reference.task, reference.index];
}

export function referenceFromWire([id, worker, task, index]: WireReference): TaskReference {
  return index === undefined ? { id, worker, task } : { id, worker, task, index };
}

export function encodeCallMessage(tessera: number, task: number, method: string, args: Uint8Array, refs: readonly TaskReference[], seq: number): Uint8Array {
  const name = str(method);
  // As tuples, not objects: no key names to write and, on the worker, to decode for every reference.
  const packedRefs = refs.length > 0 ? refsPackr.pack(refs.map(referenceToWire)) : undefined;
  const binHeader = args.length < 256 ? 2 : args.length < 0x10000 ? 3 : 5;
  // Sized exactly: no subarray (a view) of a larger allocation.
  const body = new Uint8Array(
    2 + CALL.length + 1 + uintSize(tessera) + uintSize(task) + name.length + binHeader + args.length + (packedRefs?.length ?? 1) + uintSize(seq),
  );
  let at = 0;
  body[at++] = 0x93; // [kind, "call", details]
  body[at++] = MessageKind.Command;
  body.set(CALL, at);
  at += CALL.length;
  body[at++] = 0x96; // [tessera, task, method, args, refs, seq]
  at = writeUint(body, at, tessera);
  at = writeUint(body, at, task);
  body.set(name, at);
  at += name.length;
  if (binHeader === 2) {
    body[at++] = 0xc4;
    body[at++] = args.length;
  } else if (binHeader === 3) {
    body[at++] = 0xc5;
    body[at++] = args.length >> 8;
    body[at++] = args.length & 0xff;
  } else {
    body[at++] = 0xc6;
    body[at++] = args.length >>> 24;
    body[at++] = (args.length >>> 16) & 0xff;
    body[at++] = (args.length >>> 8) & 0xff;
    body[at++] = args.length & 0xff;
  }
  body.set(args, at);
  at += args.length;
  if (packedRefs) {
    body.set(packedRefs, at);
    at += packedRefs.length;
  } else body[at++] = EMPTY_ARRAY;
  at = writeUint(body, at, seq);
  return body;
}
