/**
 * The hot path of the head: every method call is one `call` command. Encoding
 * it by hand (msgpack of [Command, "call", [tessera, task, method, args, refs]])
 * skips a generic pack of a tuple that only wraps already-encoded arguments,
 * and sends the arguments as msgpack `bin`, which the receiver reads in place.
 */
import "../../comms/_native-off.ts";
import { Packr } from "msgpackr/pack";
import { readUint, uintSize, writeUint } from "./msgpack-bytes.ts";
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

/** A call without references, as its thread reads it: [tessera, task, method, argument bytes (a view of the body), refs (none), seq]. */
export type PlainCall = [tessera: number, task: number, method: string, args: Uint8Array, refs: [], seq: number];

/** The last method name read, with its bytes: the calls that follow one another mostly name the same one. */
let lastName = "";
let lastNameBytes = new Uint8Array(0);
const textDecoder = new TextDecoder();

function readName(body: Uint8Array, from: number, length: number): string {
  if (length === lastNameBytes.length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (body[from + i] !== lastNameBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastName;
  }
  lastNameBytes = body.slice(from, from + length);
  lastName = textDecoder.decode(lastNameBytes);
  return lastName;
}

/**
 * The receiving half of the hot path: a `call` command without references (the
 * only kind the head sends straight to a thread), read by hand as it was
 * written, about five times faster than the generic unpack. Anything else
 * (another command, references, a layout this does not know) is undefined:
 * the caller decodes it the generic way.
 */
export function decodeCallMessage(body: Uint8Array): PlainCall | undefined {
  if (body.length < 10 || body[0] !== 0x93 || body[1] !== MessageKind.Command) return undefined;
  let at = 2;
  for (let i = 0; i < CALL.length; i++) if (body[at + i] !== CALL[i]) return undefined;
  at += CALL.length;
  if (body[at++] !== 0x96) return undefined;
  const tessera = readUint(body, at);
  if (!tessera) return undefined;
  const task = readUint(body, tessera[1]);
  if (!task) return undefined;
  at = task[1];
  let nameLength: number;
  const nameByte = body[at]!;
  if ((nameByte & 0xe0) === 0xa0) {
    nameLength = nameByte & 0x1f;
    at += 1;
  } else if (nameByte === 0xd9) {
    nameLength = body[at + 1]!;
    at += 2;
  } else if (nameByte === 0xda) {
    nameLength = (body[at + 1]! << 8) | body[at + 2]!;
    at += 3;
  } else return undefined;
  if (at + nameLength > body.length) return undefined;
  const method = readName(body, at, nameLength);
  at += nameLength;
  let argsLength: number;
  const binByte = body[at]!;
  if (binByte === 0xc4) {
    argsLength = body[at + 1]!;
    at += 2;
  } else if (binByte === 0xc5) {
    argsLength = (body[at + 1]! << 8) | body[at + 2]!;
    at += 3;
  } else if (binByte === 0xc6) {
    argsLength = body[at + 1]! * 0x100_0000 + ((body[at + 2]! << 16) | (body[at + 3]! << 8) | body[at + 4]!);
    at += 5;
  } else return undefined;
  if (at + argsLength > body.length) return undefined;
  const args = body.subarray(at, at + argsLength);
  at += argsLength;
  if (body[at++] !== EMPTY_ARRAY) return undefined;
  const seq = readUint(body, at);
  if (!seq || seq[1] !== body.length) return undefined;
  return [tessera[0], task[0], method, args, [], seq[0]];
}
