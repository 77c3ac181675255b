/**
 * The msgpack pieces the hand-written hot messages share (call-message.ts,
 * done-message.ts): integers and array headers, written and read byte by byte
 * (a DataView on the target would make the engine materialise its
 * ArrayBuffer, which cost more than the rest of a call).
 */

/** Size of a non-negative integer as msgpack. */
export function uintSize(value: number): number {
  return value < 128 ? 1 : value < 0x10000 ? 3 : value < 0x1_0000_0000 ? 5 : 9;
}

const float64 = new DataView(new ArrayBuffer(8));

/**
 * Writes a non-negative integer as msgpack (uint 32 or smaller, float 64 past
 * 2^32: exact up to 2^53). Byte by byte: a DataView on `target` would make the
 * engine materialise its ArrayBuffer, which cost more than the rest of a call.
 */
export function writeUint(target: Uint8Array, at: number, value: number): number {
  if (value < 128) {
    target[at] = value;
    return at + 1;
  }
  if (value < 0x10000) return writeHeader(target, at, 0xcd, value, 2);
  if (value < 0x1_0000_0000) return writeHeader(target, at, 0xce, value, 4);
  target[at] = 0xcb;
  float64.setFloat64(0, value);
  for (let i = 0; i < 8; i++) target[at + 1 + i] = float64.getUint8(i);
  return at + 9;
}

/** Writes a msgpack header: `marker`, then `value` big-endian in `width` bytes. Returns the offset after it. */
export function writeHeader(target: Uint8Array, at: number, marker: number, value: number, width: 1 | 2 | 4): number {
  target[at++] = marker;
  if (width === 4) {
    target[at++] = value >>> 24;
    target[at++] = (value >>> 16) & 0xff;
  }
  if (width !== 1) target[at++] = (value >>> 8) & 0xff;
  target[at++] = value & 0xff;
  return at;
}

/** Bytes of a msgpack str header for `length` bytes of text. */
export function strHeaderSize(length: number): number {
  return length < 32 ? 1 : length < 256 ? 2 : length < 0x10000 ? 3 : 5;
}

/** Writes a msgpack str header for `length` bytes of text. */
export function writeStrHeader(target: Uint8Array, at: number, length: number): number {
  if (length < 32) {
    target[at] = 0xa0 | length;
    return at + 1;
  }
  return length < 256 ? writeHeader(target, at, 0xd9, length, 1) : length < 0x10000 ? writeHeader(target, at, 0xda, length, 2) : writeHeader(target, at, 0xdb, length, 4);
}

/** Bytes of a msgpack bin header for `length` bytes. */
export function binHeaderSize(length: number): number {
  return length < 256 ? 2 : length < 0x10000 ? 3 : 5;
}

/** Writes a msgpack bin header for `length` bytes. */
export function writeBinHeader(target: Uint8Array, at: number, length: number): number {
  return length < 256 ? writeHeader(target, at, 0xc4, length, 1) : length < 0x10000 ? writeHeader(target, at, 0xc5, length, 2) : writeHeader(target, at, 0xc6, length, 4);
}

/** Bytes of an integer from -1 to 2^32 - 1 as msgpack (-1: a negative fixint). */
export function intSize(value: number): number {
  return value < 0 ? 1 : uintSize(value);
}

/** Writes an integer from -1 up as msgpack. */
export function writeInt(target: Uint8Array, at: number, value: number): number {
  if (value >= 0) return writeUint(target, at, value);
  target[at] = 0xff;
  return at + 1;
}

/**
 * Where the last readUint that found a uint ended (read it right after the
 * call). An object, not an exported `let`: a worker's library modules may be
 * served from a bundle as snapshots of their exports (cluster/child-bundle.ts).
 */
export const uintRead = { end: 0 };

/**
 * Reads a msgpack uint as writeUint writes it (float 64 past 2^32), and sets
 * uintRead.end past it; -1 when `at` holds something else. No tuple per integer:
 * the hot paths read several per message (a done message, one per task).
 */
export function readUint(body: Uint8Array, at: number): number {
  const byte = body[at]!;
  if (byte < 0x80) {
    uintRead.end = at + 1;
    return byte;
  }
  if (byte === 0xcd) {
    uintRead.end = at + 3;
    return (body[at + 1]! << 8) | body[at + 2]!;
  }
  if (byte === 0xce) {
    uintRead.end = at + 5;
    return body[at + 1]! * 0x100_0000 + ((body[at + 2]! << 16) | (body[at + 3]! << 8) | body[at + 4]!);
  }
  if (byte === 0xcb) {
    for (let i = 0; i < 8; i++) float64.setUint8(i, body[at + 1 + i]!);
    const value = float64.getFloat64(0);
    if (!(value >= 0)) return -1;
    uintRead.end = at + 9;
    return value;
  }
  return -1;
}

/** Bytes of a msgpack array header of `n` items. */
export function arrayHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

export function writeArrayHeader(body: Uint8Array, at: number, n: number): number {
  if (n < 16) {
    body[at] = 0x90 | n;
    return at + 1;
  }
  return n < 0x10000 ? writeHeader(body, at, 0xdc, n, 2) : writeHeader(body, at, 0xdd, n, 4);
}

/** Reads a msgpack array header at `at`: [items, next], or undefined. */
export function readArrayHeader(body: Uint8Array, at: number): [number, number] | undefined {
  const byte = body[at]!;
  if ((byte & 0xf0) === 0x90) return [byte & 0x0f, at + 1];
  if (byte === 0xdc) return [(body[at + 1]! << 8) | body[at + 2]!, at + 3];
  if (byte === 0xdd) return [body[at + 1]! * 0x100_0000 + ((body[at + 2]! << 16) | (body[at + 3]! << 8) | body[at + 4]!), at + 5];
  return undefined;
}
