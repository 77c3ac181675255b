/**
 * The other half of the hot path: a tessera thread's `done` command (the
 * completions of the head's calls, small results inline), written and read by
 * hand as call-message.ts does for calls. It is the msgpack of
 * [Command, "done", [task ids, result sizes (-1: left on the worker), results end to end]],
 * so the generic decode reads it too.
 */
import { copyBytes } from "../../_util/copy-bytes.ts";
import { MessageKind } from "../../comms/protocol.ts";
import { arrayHeaderSize, intSize, readArrayHeader, readUint, uintRead, writeArrayHeader, writeHeader, writeInt } from "./msgpack-bytes.ts";

/** What a `done` command carries. */
export type DoneMessage = [tasks: number[], sizes: number[], results: Uint8Array];

/** msgpack str "done". */
const DONE = Uint8Array.of(0xa4, ...new TextEncoder().encode("done"));

/** The `done` command's body, or undefined when an id is past 2^32 - 1 (then the generic encoding writes it). */
export function encodeDoneMessage(tasks: number[], sizes: number[], results: Uint8Array): Uint8Array | undefined {
  let length = 2 + DONE.length + 1 + arrayHeaderSize(tasks.length) + arrayHeaderSize(sizes.length) + 5 + results.length;
  for (const task of tasks) {
    if (task > 0xffff_ffff) return undefined;
    length += intSize(task);
  }
  for (const size of sizes) length += intSize(size);
  const body = new Uint8Array(length);
  body[0] = 0x93;
  body[1] = MessageKind.Command;
  let at = copyBytes(body, 2, DONE);
  body[at++] = 0x93;
  at = writeArrayHeader(body, at, tasks.length);
  for (const task of tasks) at = writeInt(body, at, task);
  at = writeArrayHeader(body, at, sizes.length);
  for (const size of sizes) at = writeInt(body, at, size);
  // bin 32 whatever its size: the size is known before the body is laid out.
  copyBytes(body, writeHeader(body, at, 0xc6, results.length, 4), results);
  return body;
}

/** Reads the integers encodeDoneMessage writes into `into`; the offset after them, or -1. */
function readInts(body: Uint8Array, at: number, count: number, into: number[]): number {
  for (let i = 0; i < count; i++) {
    if (body[at] === 0xff) {
      into[i] = -1;
      at += 1;
      continue;
    }
    const value = readUint(body, at);
    if (value < 0) return -1;
    into[i] = value;
    at = uintRead.end;
  }
  return at;
}

/**
 * A `done` command as encodeDoneMessage wrote it in bytes `start` to `end` of
 * `body` (a frame read in place in its socket chunk), its results copied out
 * (tasks keep them), or undefined for anything else (then the generic decode
 * reads it).
 */
export function decodeDoneMessage(body: Uint8Array, start = 0, end = body.length): DoneMessage | undefined {
  if (end - start < 12 || body[start] !== 0x93 || body[start + 1] !== MessageKind.Command) return undefined;
  let at = start + 2;
  for (let i = 0; i < DONE.length; i++) if (body[at + i] !== DONE[i]) return undefined;
  at += DONE.length;
  if (body[at++] !== 0x93) return undefined;
  const taskHeader = readArrayHeader(body, at);
  if (!taskHeader) return undefined;
  const tasks = new Array<number>(taskHeader[0]);
  at = readInts(body, taskHeader[1], taskHeader[0], tasks);
  if (at < 0) return undefined;
  const sizeHeader = readArrayHeader(body, at);
  if (!sizeHeader) return undefined;
  const sizes = new Array<number>(sizeHeader[0]);
  at = readInts(body, sizeHeader[1], sizeHeader[0], sizes);
  if (at < 0 || body[at] !== 0xc6) return undefined;
  const length = body[at + 1]! * 0x100_0000 + ((body[at + 2]! << 16) | (body[at + 3]! << 8) | body[at + 4]!);
  at += 5;
  if (at + length !== end) return undefined;
  // Copied out of the chunk into a plain Uint8Array: a task keeping a view would keep the whole chunk, and a
  // view of a chunk first moves the chunk out of the collector's heap (see decodeCallMessage). When chunks were
  // Buffers, their slice() went through Symbol.species: 1.0-1.4 us against 0.6-0.7 with the decode of a
  // 1-byte result.
  const results = new Uint8Array(length);
  if (length <= 64) for (let i = 0; i < length; i++) results[i] = body[at + i]!;
  else results.set(body.subarray(at, end));
  return [tasks, sizes, results];
}
