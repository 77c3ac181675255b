/**
 * The commonest argument lists, encoded by hand: numbers, booleans, nulls,
 * short ASCII strings and task references (`a.add(i)`, `b.add(a.add(i))`).
 * The bytes are those the value codec's packer gives the same list (records
 * on, so positive fixints stop at 0x3f; numbers that are not 32-bit integers
 * as float 64; a reference as its extension's fixext 1 header, then
 * [id, task, worker, index] packed after it), so receivers decode them as
 * any other; test/actors/wire/argument-bytes.test.ts compares the two on a
 * sweep of values. The packer's per-call setup and its extension callback
 * were ~1.5 us of the head per dependent call (a third of its time in
 * `b.add(a.add(i))`); anything else returns undefined and takes the packer.
 */
import { EXTENSION_TYPES } from "../../comms/codec.ts";
import { writeHeader, writeStrHeader } from "./msgpack-bytes.ts";
import type { Encoded, ReferenceLike, TaskReference } from "./value-codec.ts";

/** Longest list and string this writes (a fixarray; a fixstr or str 8 of ASCII). */
const MAX_ARGUMENTS = 15;
const MAX_STRING = 255;

/** Bytes of `value` as the packer writes it; -1 when this does not write it. */
function numberSize(value: number): number {
  if (value >>> 0 === value) return value < 0x40 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : 5;
  if (value >> 0 === value) return value >= -0x20 ? 1 : value >= -0x80 ? 2 : value >= -0x8000 ? 3 : 5;
  return 9;
}

function writeNumber(target: Uint8Array, at: number, value: number): number {
  if (value >>> 0 === value) {
    if (value < 0x40) {
      target[at] = value;
      return at + 1;
    }
    if (value < 0x100) {
      target[at] = 0xcc;
      target[at + 1] = value;
      return at + 2;
    }
    return value < 0x10000 ? writeHeader(target, at, 0xcd, value, 2) : writeHeader(target, at, 0xce, value, 4);
  }
  if (value >> 0 === value) {
    if (value >= -0x20) {
      target[at] = 0x100 + value;
      return at + 1;
    }
    if (value >= -0x80) {
      target[at] = 0xd0;
      target[at + 1] = value + 0x100;
      return at + 2;
    }
    return value >= -0x8000 ? writeHeader(target, at, 0xd1, value & 0xffff, 2) : writeHeader(target, at, 0xd2, value >>> 0, 4);
  }
  target[at] = 0xcb;
  FLOAT.setFloat64(0, value);
  for (let i = 0; i < 8; i++) target[at + 1 + i] = FLOAT_BYTES[i]!;
  return at + 9;
}

const FLOAT_BYTES = new Uint8Array(8);
const FLOAT = new DataView(FLOAT_BYTES.buffer);

/** Bytes of `text` as a msgpack str when it is ASCII and short; -1 otherwise. */
function stringSize(text: string): number {
  if (text === lastSized) return lastSize;
  if (text.length > MAX_STRING) return -1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return -1;
  const size = (text.length < 32 ? 1 : 2) + text.length;
  // Long ones repeat (a remote function's key, in every call to it): the last is remembered.
  if (text.length >= 16) {
    lastSized = text;
    lastSize = size;
  }
  return size;
}

let lastSized = "";
let lastSize = 1;

/** `text` as a msgpack str (ASCII: a byte per character, the header as the packer writes it up to 255). */
function writeString(target: Uint8Array, at: number, text: string): number {
  at = writeStrHeader(target, at, text.length);
  for (let i = 0; i < text.length; i++) target[at++] = text.charCodeAt(i);
  return at;
}

/** Bytes of one argument (a reference: its extension and tuple); -1 when this does not write it. */
function argumentSize(arg: unknown, reference: TaskReference | undefined): number {
  if (reference) {
    const index = reference.index;
    const indexSize = index === undefined ? 1 : typeof index === "number" ? numberSize(index) : stringSize(index);
    const task = stringSize(reference.task);
    const worker = stringSize(reference.worker);
    if (indexSize < 0 || task < 0 || worker < 0) return -1;
    return 3 + 1 + numberSize(reference.id) + task + worker + indexSize;
  }
  switch (typeof arg) {
    case "number":
      return numberSize(arg);
    case "boolean":
      return 1;
    case "string":
      return stringSize(arg);
    case "object":
      return arg === null ? 1 : -1;
    default:
      return -1;
  }
}

function writeArgument(target: Uint8Array, at: number, arg: unknown, reference: TaskReference | undefined): number {
  if (reference) {
    target[at++] = 0xd4; // fixext 1: the extension's type and one byte, then its value packed after it
    target[at++] = EXTENSION_TYPES.reference;
    target[at++] = 0;
    target[at++] = 0x94;
    at = writeNumber(target, at, reference.id);
    at = writeString(target, at, reference.task);
    at = writeString(target, at, reference.worker);
    const index = reference.index;
    if (index === undefined) target[at++] = 0xc0;
    else at = typeof index === "number" ? writeNumber(target, at, index) : writeString(target, at, index);
    return at;
  }
  if (typeof arg === "number") return writeNumber(target, at, arg);
  if (typeof arg === "string") return writeString(target, at, arg);
  target[at] = arg === null ? 0xc0 : arg ? 0xc3 : 0xc2;
  return at + 1;
}

/**
 * `args` encoded by hand, or undefined when they hold anything but numbers,
 * booleans, nulls, short ASCII strings and `references` (the references among
 * them, in order, as the argument scan found them: each must be an argument
 * itself, not inside one). References to tasks not placed yet are written
 * with worker "" (the value codec's `unplaced`). `byId`: references are written
 * with their task's id and index only (uid and worker ""), for a call whose
 * values go with it named by those ids (see thread/values.ts's resolve);
 * undefined when one cannot be (see ReferenceLike.referenceById).
 */
export function encodePlainArguments(args: readonly unknown[], references: readonly ReferenceLike[], byId = false): Encoded | undefined {
  if (args.length > MAX_ARGUMENTS) return undefined;
  const wire: TaskReference[] = [];
  let size = 1;
  let next = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let reference: TaskReference | undefined;
    if (typeof arg === "object" && arg !== null) {
      if (arg !== references[next]) return undefined;
      const like = references[next++]!;
      reference = byId ? like.referenceById?.() : like.toReference(true);
      if (!reference) return undefined;
      wire.push(reference);
    } else if (arg === undefined) return undefined; // the packer's own encoding (moreTypes); rare
    const bytes = argumentSize(arg, reference);
    if (bytes < 0) return undefined;
    size += bytes;
  }
  if (next !== references.length) return undefined; // a reference inside an argument: the packer's walk
  const bytes = new Uint8Array(size);
  bytes[0] = 0x90 | args.length;
  let at = 1;
  next = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    at = writeArgument(bytes, at, arg, typeof arg === "object" && arg !== null ? wire[next++] : undefined);
  }
  return { bytes, references: wire, payloads: [] };
}

// ---------------------------------------------------------------- decoding

/** Where the last `readPlain` that read a value stopped. */
const cursor = { at: 0 };
/** Marks "not a value this reads" (the caller then takes the packer's decoder). */
const NOT_PLAIN = Symbol("not plain");

/**
 * One number, boolean, null, ASCII string or reference (resolved by `resolve`)
 * at `at`, as encodePlainArguments writes them (and as the packer writes the
 * same values); NOT_PLAIN for anything else.
 */
function readPlain(bytes: Uint8Array, at: number, resolve: ((reference: TaskReference) => unknown) | undefined): unknown {
  if (at >= bytes.length) return NOT_PLAIN;
  const byte = bytes[at]!;
  if (byte < 0x40) {
    cursor.at = at + 1;
    return byte;
  }
  if (byte >= 0xe0) {
    cursor.at = at + 1;
    return byte - 0x100;
  }
  if (byte >= 0xa0 && byte < 0xc0) return readAscii(bytes, at + 1, byte - 0xa0);
  const end = bytes.length;
  switch (byte) {
    case 0xc0:
      cursor.at = at + 1;
      return null;
    case 0xc2:
    case 0xc3:
      cursor.at = at + 1;
      return byte === 0xc3;
    case 0xcc:
      if (at + 2 > end) return NOT_PLAIN;
      cursor.at = at + 2;
      return bytes[at + 1]!;
    case 0xcd:
      if (at + 3 > end) return NOT_PLAIN;
      cursor.at = at + 3;
      return (bytes[at + 1]! << 8) | bytes[at + 2]!;
    case 0xce:
      if (at + 5 > end) return NOT_PLAIN;
      cursor.at = at + 5;
      return ((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0;
    case 0xd0:
      if (at + 2 > end) return NOT_PLAIN;
      cursor.at = at + 2;
      return (bytes[at + 1]! << 24) >> 24;
    case 0xd1:
      if (at + 3 > end) return NOT_PLAIN;
      cursor.at = at + 3;
      return (((bytes[at + 1]! << 8) | bytes[at + 2]!) << 16) >> 16;
    case 0xd2:
      if (at + 5 > end) return NOT_PLAIN;
      cursor.at = at + 5;
      return (bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!;
    case 0xcb:
      if (at + 9 > end) return NOT_PLAIN;
      for (let i = 0; i < 8; i++) FLOAT_BYTES[i] = bytes[at + 1 + i]!;
      cursor.at = at + 9;
      return FLOAT.getFloat64(0);
    case 0xd9:
      if (at + 2 > end) return NOT_PLAIN;
      return readAscii(bytes, at + 2, bytes[at + 1]!);
    case 0xd4:
      return bytes[at + 1] === EXTENSION_TYPES.reference && bytes[at + 2] === 0 ? readReference(bytes, at + 3, resolve) : NOT_PLAIN;
    default:
      return NOT_PLAIN;
  }
}

/** Past this many characters a string is made by the decoder in one call (a task's uid: ~130 ns against ~600 a character at a time). */
const DECODER_FROM = 16;
/** The last string of DECODER_FROM characters or more that was read (ASCII). */
let lastLong = "";
const latin1 = new TextDecoder("latin1");

function readAscii(bytes: Uint8Array, at: number, length: number): unknown {
  const end = at + length;
  if (end > bytes.length) return NOT_PLAIN;
  if (knownTexts !== undefined) {
    const known = knownText(knownTexts, bytes, at, length);
    if (known !== undefined) {
      cursor.at = end;
      return known;
    }
  }
  if (length >= DECODER_FROM) {
    // The same long string as last time (a remote function's key, in every call to it): that string again.
    // Compared from its end: uids differ there.
    if (length === lastLong.length) {
      let i = length - 1;
      while (i >= 0 && bytes[at + i] === lastLong.charCodeAt(i)) i--;
      if (i < 0) {
        cursor.at = end;
        return lastLong;
      }
    }
    for (let i = at; i < end; i++) if (bytes[i]! > 0x7f) return NOT_PLAIN; // UTF-8: the packer's decoder
    cursor.at = end;
    // slice(), not subarray(): the bytes are often a small typed array in the collector's heap, which a view first
    // moves into an ArrayBuffer of its own (a task's uid: 150 ns against 280).
    lastLong = latin1.decode(bytes.slice(at, end));
    return lastLong;
  }
  for (let i = at; i < end; i++) if (bytes[i]! > 0x7f) return NOT_PLAIN; // UTF-8: the packer's decoder
  cursor.at = end;
  let text = "";
  for (let i = at; i < end; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

/**
 * Strings the arguments being read may name, at the even places of a list (a
 * call's dependency values, [uid, value, ...]): a reference to one of them
 * takes that string instead of making its uid again (compared char by char,
 * ASCII only). Values named by task id (numbers there) go to references by
 * id: those are written without uids (see encodePlainArguments' `byId`).
 */
let knownTexts: readonly unknown[] | undefined;

function knownText(texts: readonly unknown[], bytes: Uint8Array, at: number, length: number): string | undefined {
  for (let k = 0; k < texts.length; k += 2) {
    const text = texts[k];
    if (typeof text !== "string" || text.length !== length) continue; // a task id names the value
    let i = 0;
    while (i < length && bytes[at + i]! < 0x80 && text.charCodeAt(i) === bytes[at + i]) i++;
    if (i === length) return text;
  }
  return undefined;
}

/** A reference's [id, task, worker, index] after its extension header; resolved as the value codec's reader does. */
function readReference(bytes: Uint8Array, at: number, resolve: ((reference: TaskReference) => unknown) | undefined): unknown {
  if (bytes[at] !== 0x94) return NOT_PLAIN;
  const id = readPlain(bytes, at + 1, undefined);
  if (typeof id !== "number") return NOT_PLAIN;
  const task = readPlain(bytes, cursor.at, undefined);
  if (typeof task !== "string") return NOT_PLAIN;
  const worker = readPlain(bytes, cursor.at, undefined);
  if (typeof worker !== "string") return NOT_PLAIN;
  const index = readPlain(bytes, cursor.at, undefined);
  if (index !== null && typeof index !== "number" && typeof index !== "string") return NOT_PLAIN;
  const end = cursor.at;
  const reference: TaskReference = { id, task, worker, index: index ?? undefined };
  const value = resolve ? resolve(reference) : reference;
  cursor.at = end;
  return value;
}

/**
 * An argument list as encodePlainArguments writes it, references resolved by
 * `resolve`; undefined when `bytes` (up to `end`) hold anything else (decode
 * them with the value codec). Reads exactly the bytes up to `end`. `known`:
 * strings the references may name (see knownTexts).
 */
export function decodePlainArguments(
  bytes: Uint8Array,
  resolve?: (reference: TaskReference) => unknown,
  end = bytes.length,
  known?: readonly unknown[],
): unknown[] | undefined {
  const header = bytes[0];
  if (header === undefined || header < 0x90 || header > 0x9f) return undefined;
  const count = header - 0x90;
  const args = new Array<unknown>(count);
  let at = 1;
  knownTexts = known;
  try {
    for (let i = 0; i < count; i++) {
      const value = readPlain(bytes, at, resolve);
      if (value === NOT_PLAIN) return undefined;
      args[i] = value;
      at = cursor.at;
    }
  } finally {
    knownTexts = undefined;
  }
  return at === end ? args : undefined;
}

/** The number, boolean, null or ASCII string that is all of bytes `at` to `end` of `bytes` (a small result); NOT_PLAIN_VALUE otherwise. */
export function decodePlainValue(bytes: Uint8Array, at = 0, end = bytes.length): unknown {
  const value = readPlain(bytes, at, undefined);
  return value !== NOT_PLAIN && cursor.at === end && (value === null || typeof value !== "object") ? value : NOT_PLAIN_VALUE;
}

export const NOT_PLAIN_VALUE: unknown = NOT_PLAIN;
