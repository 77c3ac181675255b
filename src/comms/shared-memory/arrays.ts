/**
 * Shared arrays (`mosaic.sharedArray`): typed arrays whose memory is a
 * /dev/shm file mapped shared, so that they move between runtimes of one
 * machine by name and are never copied.
 *
 * Names: each thread holding such memory has a name of its own for the file
 * (a hard link carrying its pid, so that a dead process's names go with its
 * other segments, and the cluster's go at stop). The kernel keeps the memory
 * while any name or mapping is left; a thread's name is removed when its last
 * mapping under it is collected, or when the process exits. To send, the
 * sender links a new name for the receiver, which renames it its own: the
 * receiver never races the sender's collection, and nothing is acknowledged.
 *
 * Ownership: a value encoded for sending takes the array's memory with it
 * (takeSharedArrays): the program's ArrayBuffer is detached by `transfer()`,
 * which moves the mapping to a new ArrayBuffer without copying it, as a
 * transfer list does between threads.
 */
import { closeSync, ftruncateSync, linkSync, openSync, renameSync } from "node:fs";
import { OutOfMemoryError } from "../../errors.ts";
import { countArrayHeld } from "./accounting.ts";
import { arraySegmentPath, checkSegmentFile, checkSegmentPath, freeSharedMemory, isArraySegment, sharedMemoryAvailable, unlinkQuietly } from "./files.ts";

/** One name of this thread for a shared array's file, and how many of this thread's mappings use it. */
interface ArrayName {
  path: string;
  size: number;
  mappings: number;
}

const names = new WeakMap<ArrayBufferLike, ArrayName>();
/** Names not yet removed, for removal at exit (their mappings may outlive the runtime's stop). */
const held = new Set<ArrayName>();
const collected = new FinalizationRegistry<ArrayName>((name) => letGo(name));

function letGo(name: ArrayName): void {
  if (--name.mappings > 0) return;
  held.delete(name);
  unlinkQuietly(name.path);
  countArrayHeld(-name.size);
}

function track(buffer: ArrayBuffer, name: ArrayName): ArrayBuffer {
  name.mappings++;
  names.set(buffer, name);
  collected.register(buffer, name);
  return buffer;
}

let exitHooked = false;

function own(path: string, size: number): ArrayName {
  const name: ArrayName = { path, size, mappings: 0 };
  held.add(name);
  countArrayHeld(size);
  if (!exitHooked) {
    exitHooked = true;
    process.once("exit", () => {
      for (const name of held) unlinkQuietly(name.path);
    });
  }
  return name;
}

function mapName(name: ArrayName): ArrayBuffer {
  return track(Bun.mmap(name.path, { shared: true, size: name.size }).buffer as ArrayBuffer, name);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * `bytes` (> 0) of new shared memory, zeroed. Its pages are taken when first
 * written, as a plain typed array's are; /dev/shm must have room for them now.
 */
export function allocateSharedMemory(bytes: number): ArrayBuffer {
  if (!sharedMemoryAvailable()) throw new OutOfMemoryError("shared arrays need /dev/shm (Linux): use a plain typed array here");
  const free = freeSharedMemory();
  if (bytes > free) throw new OutOfMemoryError(`a shared array of ${mib(bytes)} does not fit in /dev/shm (${mib(free)} free): allocate less, or free shared memory`);
  const path = arraySegmentPath();
  const fd = openSync(path, "wx", 0o600);
  try {
    ftruncateSync(fd, bytes);
  } catch (error) {
    unlinkQuietly(path);
    throw new OutOfMemoryError(`a shared array of ${mib(bytes)} cannot be made in /dev/shm: ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return mapName(own(path, bytes));
}

/** Whether `payload` is all of a shared array's memory held here (it then travels by name). */
export function isSharedArrayPayload(payload: Uint8Array): boolean {
  const name = names.get(payload.buffer);
  return name !== undefined && payload.byteOffset === 0 && payload.byteLength === name.size;
}

/**
 * Takes the shared arrays among an encoded value's payloads (`indices`) from
 * the program: each one's memory moves to a new ArrayBuffer (no copy), which
 * the payload now views, and the program's ArrayBuffer is detached.
 */
export function takeSharedArrays(payloads: Uint8Array[], indices: readonly number[]): void {
  const moved = new Map<ArrayBufferLike, ArrayBuffer>();
  for (const index of indices) {
    const buffer = payloads[index]!.buffer as ArrayBuffer;
    let to = moved.get(buffer);
    if (!to) {
      const name = names.get(buffer)!;
      names.delete(buffer); // detached: it travels as the empty array it now is
      moved.set(buffer, (to = track(buffer.transfer(), name)));
    }
    payloads[index] = new Uint8Array(to);
  }
}

/** A new name of a shared array's file for a receiver, who renames it its own (adoptSharedArray). Throws when the file is gone. */
export function handOverSharedArray(payload: Uint8Array): string {
  const path = arraySegmentPath();
  linkSync(names.get(payload.buffer)!.path, path);
  return path;
}

/** A shared array's file handed over to this thread: renamed its own and mapped. */
export function adoptSharedArray(path: string, size: number): Uint8Array {
  checkSegmentPath(path);
  if (!isArraySegment(path)) throw new Error(`${path} is not a shared array's file`);
  try {
    checkSegmentFile(path, size, false);
    const mine = arraySegmentPath();
    renameSync(path, mine);
    return new Uint8Array(mapName(own(mine, size)));
  } catch (error) {
    unlinkQuietly(path);
    throw error;
  }
}

/**
 * The memory of a shared array that arrived as `payload`: a mapping of its own
 * when the payload is a shared array's (each decoded value has its own
 * ArrayBuffer, so sending one on leaves the others), else a copy in new shared
 * memory (it came over TCP); undefined when /dev/shm has no room for that.
 */
export function sharedArrayMemory(payload: Uint8Array): ArrayBuffer | undefined {
  const name = names.get(payload.buffer);
  if (name && isSharedArrayPayload(payload)) {
    try {
      return mapName(name);
    } catch {} // its name was removed (the runtime stopped): a copy
  }
  if (payload.byteLength === 0) return undefined;
  try {
    const memory = allocateSharedMemory(payload.byteLength);
    new Uint8Array(memory).set(payload);
    return memory;
  } catch {
    return undefined;
  }
}
