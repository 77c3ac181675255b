/**
 * The hot path of the head: every method call is one `call` command. Encoding
 * it by hand (msgpack of [Command, "call", [tessera, task, method, args, refs, seq]],
 * and a seventh element, the places of dependency values the head sends with
 * the arguments) skips a generic pack of a tuple that only wraps
 * already-encoded arguments, and sends the arguments as msgpack `bin`, which
 * the receiver reads in place.
 */
import "../../comms/_native-off.ts";
import { copyBytes, copyRange } from "../../_util/copy-bytes.ts";
import { Packr } from "msgpackr/pack";
import { arrayHeaderSize, binHeaderSize, readArrayHeader, readUint, strHeaderSize, uintRead, uintSize, writeArrayHeader, writeBinHeader, writeStrHeader, writeUint } from "./msgpack-bytes.ts";
import { MessageKind } from "../../comms/protocol.ts";
import type { TaskReference } from "./value-codec.ts";

const refsPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const textEncoder = new TextEncoder();
const strings = new Map<string, Uint8Array>();

/** msgpack str of `text`. */
function utf8Str(text: string): Uint8Array {
  const utf8 = textEncoder.encode(text);
  const encoded = new Uint8Array(strHeaderSize(utf8.length) + utf8.length);
  encoded.set(utf8, writeStrHeader(encoded, 0, utf8.length));
  return encoded;
}

/** The last method name written, with its msgpack str: calls that follow one another mostly name the same one. */
let lastText = "";
let lastStr: Uint8Array = new Uint8Array(0);

/** msgpack str of `text`, cached (method names repeat). */
function str(text: string): Uint8Array {
  if (text === lastText) return lastStr;
  let encoded = strings.get(text);
  if (!encoded) {
    encoded = utf8Str(text);
    if (strings.size < 4096) strings.set(text, encoded);
  }
  lastText = text;
  lastStr = encoded;
  return encoded;
}

const CALL = str("call");

/** Method names a call carries to read or write a tessera's field (`proxy.$get`, `proxy.$set`): no method may have them. */
export const GET_ATTRIBUTE = "$get";
export const SET_ATTRIBUTE = "$set";
const EMPTY_ARRAY = 0x90;

/** A reference in a call message: [id, worker, task uid, index]. */
export type WireReference = [id: number, worker: string, task: string, index?: number | string];

function referenceToWire(reference: TaskReference): WireReference {
  return reference.index === undefined ? [reference.id, reference.worker, reference.task] : [reference.id, reference.worker, reference.task, reference.index];
}

export function referenceFromWire([id, worker, task, index]: WireReference): TaskReference {
  return index === undefined ? { id, worker, task } : { id, worker, task, index };
}

/**
 * A dependency's value as the head sends it with a call: the task's key (its
 * wire id, which the reference in the arguments carries, or for a retried
 * task its uid; see inline-dependencies.ts) and its encoded result, bytes
 * `start` to `end` of `bytes` (its completion batch's results: copied once,
 * into the message).
 */
export type InlineValue = readonly [key: string | number, bytes: Uint8Array, start: number, end: number];

/**
 * Where a call's dependency values are: [argumentsLength, key, start, end, ...] (key: a task id or uid, see InlineValue).
 * They follow the arguments' bytes in the same `bin`, each at [start, end) of
 * it: the layout in which the worker's main thread posts a call with its
 * dependencies to a thread (thread/protocol.ts's InlineDependencies), so the
 * thread decodes both alike.
 */
export type InlinePlaces = [argsLength: number, ...places: (string | number)[]];

/**
 * A uid to write as msgpack str: ASCII (every uid the head makes of ASCII
 * names) as it is, other text as its UTF-8 str (not cached: uids do not repeat).
 */
function strOf(text: string): string | Uint8Array {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return utf8Str(text);
  return text;
}

/** A dependency's key as written: a task id (uint), an ASCII uid (str) or a uid's UTF-8 str. */
type WireKey = string | Uint8Array | number;

function keySize(text: WireKey): number {
  if (typeof text === "number") return uintSize(text);
  if (typeof text !== "string") return text.length;
  return strHeaderSize(text.length) + text.length;
}

function writeKey(body: Uint8Array, at: number, text: WireKey): number {
  if (typeof text === "number") return writeUint(body, at, text);
  if (typeof text !== "string") return copyBytes(body, at, text);
  at = writeStrHeader(body, at, text.length);
  for (let i = 0; i < text.length; i++) body[at++] = text.charCodeAt(i);
  return at;
}

/**
 * `seq`: the call's place among its tessera's calls (1, 2, ...). Calls travel
 * by two routes (straight to the tessera's thread, or through its worker's main
 * thread when they have dependencies to resolve there): the thread runs them by it.
 * `deps`: the values of the call's dependencies, for a call sent straight to
 * its thread (`refs` are then empty: the references inside the arguments name
 * the values by uid); the message then carries their places (InlinePlaces).
 */
export function encodeCallMessage(...call: Parameters<typeof prepareCallMessage>): Uint8Array {
  return preparedCallMessage(prepareCallMessage(...call));
}

/**
 * The call message prepareCallMessage sized last, written at `at` of
 * `target` by encodeInto (a frame writer's stage: no message of its own per
 * call, which was half of encoding one). One at a time: it must be written
 * before the next is prepared.
 */
export const CALL_MESSAGE = {
  tessera: 0,
  task: 0,
  name: CALL,
  args: CALL,
  packedRefs: undefined as Uint8Array | undefined,
  seq: 0,
  deps: undefined as readonly InlineValue[] | undefined,
  keys: undefined as WireKey[] | undefined,
  binLength: 0,
  encodeInto(body: Uint8Array, at: number): void {
    const { args, deps, packedRefs, keys } = this;
    body[at++] = 0x93; // [kind, "call", details]
    body[at++] = MessageKind.Command;
    at = copyBytes(body, at, CALL);
    body[at++] = deps ? 0x97 : 0x96; // [tessera, task, method, args, refs, seq, places?]
    at = writeUint(body, at, this.tessera);
    at = writeUint(body, at, this.task);
    at = copyBytes(body, at, this.name);
    at = writeBinHeader(body, at, this.binLength);
    at = copyBytes(body, at, args);
    // Indexed, not destructured: destructuring goes through the arrays' iterator, whose cache missed on this path.
    if (deps) {
      for (let i = 0; i < deps.length; i++) {
        const value = deps[i]!;
        at = copyRange(body, at, value[1], value[2], value[3]);
      }
    }
    if (packedRefs) {
      body.set(packedRefs, at);
      at += packedRefs.length;
    } else body[at++] = EMPTY_ARRAY;
    at = writeUint(body, at, this.seq);
    if (deps) {
      at = writeArrayHeader(body, at, 1 + 3 * deps.length);
      let end = args.length;
      at = writeUint(body, at, end);
      for (let i = 0; i < deps.length; i++) {
        at = writeKey(body, at, keys![i]!);
        at = writeUint(body, at, end);
        const value = deps[i]!;
        at = writeUint(body, at, (end += value[3] - value[2]));
      }
    }
    // Let go of what it names (arguments, values) until the next one.
    this.args = CALL;
    this.deps = undefined;
    this.packedRefs = undefined;
    this.keys = undefined;
  },
};

/** Sizes a call message (see encodeCallMessage) and keeps its parts in CALL_MESSAGE, to write next: its length in bytes. */
export function prepareCallMessage(
  tessera: number,
  task: number,
  method: string,
  args: Uint8Array,
  refs: readonly TaskReference[],
  seq: number,
  deps?: readonly InlineValue[],
): number {
  const name = str(method);
  // As tuples, not objects: no key names to write and, on the worker, to decode for every reference.
  const packedRefs = refs.length > 0 ? refsPackr.pack(refs.map(referenceToWire)) : undefined;
  let binLength = args.length;
  let placesSize = 0;
  let keys: WireKey[] | undefined;
  if (deps) {
    keys = new Array(deps.length);
    placesSize = arrayHeaderSize(1 + 3 * deps.length) + uintSize(args.length);
    for (let i = 0; i < deps.length; i++) {
      const value = deps[i]!;
      const key = value[0];
      const size = value[3] - value[2];
      keys[i] = typeof key === "number" ? key : strOf(key);
      placesSize += keySize(keys[i]!) + uintSize(binLength) + uintSize(binLength + size);
      binLength += size;
    }
  }
  const message = CALL_MESSAGE;
  message.tessera = tessera;
  message.task = task;
  message.name = name;
  message.args = args;
  message.packedRefs = packedRefs;
  message.seq = seq;
  message.deps = deps;
  message.keys = keys;
  message.binLength = binLength;
  return 2 + CALL.length + 1 + uintSize(tessera) + uintSize(task) + name.length + binHeaderSize(binLength) + binLength + (packedRefs?.length ?? 1) + uintSize(seq) + placesSize;
}

/** The call message prepared last, in memory of its own (sized exactly: no view of a larger allocation). */
export function preparedCallMessage(length: number): Uint8Array {
  const body = new Uint8Array(length);
  CALL_MESSAGE.encodeInto(body, 0);
  return body;
}

/**
 * A call without references to resolve, as its thread reads it: [tessera, task,
 * method, argument bytes (a view of the body; with the dependency values after
 * them when it has places), refs (none), seq, places of its dependency values].
 */
export type PlainCall = [tessera: number, task: number, method: string, args: Uint8Array, refs: [], seq: number, places?: InlinePlaces];

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

/** Where the str whose header readStrHeader read starts (its bytes). */
let strStart = 0;

/** The length of the msgpack str at `at` (fixstr, str8 or str16, as writeKey writes a uid), its bytes from strStart; -1 for anything else. */
function readStrHeader(body: Uint8Array, at: number): number {
  const byte = body[at]!;
  if ((byte & 0xe0) === 0xa0) {
    strStart = at + 1;
    return byte & 0x1f;
  }
  if (byte === 0xd9) {
    strStart = at + 2;
    return body[at + 1]!;
  }
  if (byte === 0xda) {
    strStart = at + 3;
    return (body[at + 1]! << 8) | body[at + 2]!;
  }
  return -1;
}

/** A msgpack str at `at` (as writeKey writes a uid): [text, next], or undefined. */
function readStr(body: Uint8Array, at: number, end: number): [string, number] | undefined {
  const length = readStrHeader(body, at);
  if (length < 0) return undefined;
  const start = strStart;
  const next = start + length;
  if (next > end) return undefined;
  // slice(), not subarray(): `body` is a socket chunk, which a first view moves out of the collector's heap.
  return [textDecoder.decode(body.slice(start, next)), next];
}

/** References of a call read by hand (none): one array for all, never changed. */
const NO_REFERENCES = Object.freeze([]) as unknown as [];
/** Arguments of one byte (`[]`, most calls), one array each for all calls: never changed where they arrive. */
const ONE_BYTE_ARGUMENTS = Array.from({ length: 256 }, (_, byte) => Uint8Array.of(byte));

/** The places of a call's dependency values (see InlinePlaces), ending the body; undefined for anything else. */
function readPlaces(body: Uint8Array, at: number, end: number): InlinePlaces | undefined {
  const header = readArrayHeader(body, at);
  if (!header || header[0] % 3 !== 1) return undefined;
  at = header[1];
  const argsLength = readUint(body, at);
  if (argsLength < 0) return undefined;
  at = uintRead.end;
  const places: InlinePlaces = [argsLength];
  for (let i = 1; i < header[0]; i += 3) {
    // A task id, or a uid (a retried task's).
    let key: string | number = readUint(body, at);
    if (key >= 0) at = uintRead.end;
    else {
      const uid = readStr(body, at, end);
      if (!uid) return undefined;
      [key, at] = uid;
    }
    const from = readUint(body, at);
    if (from < 0) return undefined;
    const to = readUint(body, uintRead.end);
    if (to < 0) return undefined;
    places.push(key, from, to);
    at = uintRead.end;
  }
  return at === end ? places : undefined;
}

/**
 * The receiving half of the hot path: a `call` command without references to
 * resolve (the only kind the head sends straight to a thread), read by hand as
 * it was written, about five times faster than the generic unpack. Anything
 * else (another command, references, a layout this does not know) is
 * undefined: the caller decodes it the generic way. Reads bytes `start` to
 * `end` of `body` (a frame read in place in its socket chunk); the arguments
 * are a copy.
 */
export function decodeCallMessage(body: Uint8Array, start = 0, end = body.length): PlainCall | undefined {
  if (end - start < 10 || body[start] !== 0x93 || body[start + 1] !== MessageKind.Command) return undefined;
  let at = start + 2;
  for (let i = 0; i < CALL.length; i++) if (body[at + i] !== CALL[i]) return undefined;
  at += CALL.length;
  const items = body[at++];
  if (items !== 0x96 && items !== 0x97) return undefined;
  const tessera = readUint(body, at);
  if (tessera < 0) return undefined;
  const task = readUint(body, uintRead.end);
  if (task < 0) return undefined;
  at = uintRead.end;
  const nameLength = readStrHeader(body, at);
  if (nameLength < 0) return undefined;
  at = strStart;
  if (at + nameLength > end) return undefined;
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
  if (at + argsLength > end) return undefined;
  // A copy (slice() of a socket chunk copies its bytes; subarray() would first move the whole chunk out of the
  // collector's heap into an ArrayBuffer of its own: ~0.3 us per message, more when caches are cold).
  const args = argsLength === 1 ? ONE_BYTE_ARGUMENTS[body[at]!]! : body.slice(at, at + argsLength);
  at += argsLength;
  if (body[at++] !== EMPTY_ARRAY) return undefined;
  const seq = readUint(body, at);
  if (seq < 0) return undefined;
  if (items === 0x96) return uintRead.end === end ? [tessera, task, method, args, NO_REFERENCES, seq] : undefined;
  const places = readPlaces(body, uintRead.end, end);
  return places && places[0] <= argsLength ? [tessera, task, method, args, NO_REFERENCES, seq, places] : undefined;
}
