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

/** Reads a msgpack uint as writeUint writes it (float 64 past 2^32); undefined when `at` holds something else. */
export function readUint(body: Uint8Array, at: number): [value: number, next: number] | undefined {
  const byte = body[at]!;
  if (byte < 0x80) return [byte, at + 1];
  if (byte === 0xcd) return [(body[at + 1]! << 8) | body[at + 2]!, at + 3];
  if (byte === 0xce) return [body[at + 1]! * 0x100_0000 + ((body[at + 2]! << 16) | (body[at + 3]! << 8) | body[at + 4]!), at + 5];
  if (byte === 0xcb) {
    for (let i = 0; i < 8; i++) float64.setUint8(i, body[at + 1 + i]!);
    return [float64.getFloat64(0), at + 9];
  }
  return undefined;
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
  if (n < 0x10000) {
    body[at] = 0xdc;
    body[at + 1] = n >> 8;
    body[at + 2] = n & 0xff;
    return at + 3;
  }
  body[at] = 0xdd;
  body[at + 1] = n >>> 24;
  body[at + 2] = (n >>> 16) & 0xff;
  body[at + 3] = (n >>> 8) & 0xff;
  body[at + 4] = n & 0xff;
  return at + 5;
}

/** Reads a msgpack array header at `at`: [items, next], or undefined. */
export function readArrayHeader(body: Uint8Array, at: number): [number, number] | undefined {
  const byte = body[at]!;
  if ((byte & 0xf0) === 0x90) return [byte & 0x0f, at + 1];
  if (byte === 0xdc) return [(body[at + 1]! << 8) | body[at + 2]!, at + 3];
  if (byte === 0xdd) return [body[at + 1]! * 0x100_0000 + ((body[at + 2]! << 16) | (body[at + 3]! << 8) | body[at + 4]!), at + 5];
  return undefined;
}
