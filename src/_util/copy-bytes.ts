/**
 * Copies `source` into `target` at `at` and returns the offset after it. Up to
 * SMALL bytes one by one: TypedArray.prototype.set is a call into the engine
 * that costs more than the copy for a few bytes (19 ns against 5 for 5 bytes,
 * hot), and the hot messages copy several such pieces each (a call's method
 * name and arguments, a frame's body).
 */
const SMALL = 32;

export function copyBytes(target: Uint8Array, at: number, source: Uint8Array): number {
  const length = source.length;
  // set() also for what does not fit: it throws (RangeError), where writes past the end would be dropped.
  if (length > SMALL || at + length > target.length) target.set(source, at);
  else for (let i = 0; i < length; i++) target[at + i] = source[i]!;
  return at + length;
}

/** Copies bytes `start` to `end` of `source` into `target` at `at` (as copyBytes; no view of a few bytes); returns the offset after them. */
export function copyRange(target: Uint8Array, at: number, source: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length > SMALL || at + length > target.length) target.set(source.subarray(start, end), at);
  else for (let i = 0; i < length; i++) target[at + i] = source[start + i]!;
  return at + length;
}

/** Whether two arrays hold the same bytes (Buffer's compare: about as fast as a copy, and no copy made). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
