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
 * Ownership: a value encoded for sending takes the array from the program
 * (takeSharedArrays), as a transfer list does between threads: its
 * ArrayBuffer is detached and unmapped, and the payload is a stand-in that
 * holds the array's name (a mapping "held" here means the name is too).
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, linkSync, openSync, renameSync } from "node:fs";
import { OutOfMemoryError, RuntimeStateError } from "../../errors.ts";
import { countArrayHeld } from "./accounting.ts";
import { arraySegmentPath, checkSegmentFile, checkSegmentPath, freeSharedMemory, isArraySegment, sharedMemoryAvailable, unlinkQuietly } from "./files.ts";

/** One name of this thread for a shared array's file, and how many of this thread's mappings use it. */
interface ArrayName {
  path: string;
  size: number;
  mappings: number;
  /** The file's device and inode: which memory it is, whatever its name. */
  file: string;
}

const names = new WeakMap<ArrayBufferLike, ArrayName>();
/**
 * Sent arrays' stand-ins (takeSharedArrays): an empty ArrayBuffer per array,
 * which holds its name (the file) but no mapping until one is asked for
 * (sharedArrayBytes: over TCP). Sending needs only the name.
 */
const standIns = new WeakMap<ArrayBufferLike, ArrayName>();
/**
 * Mappings made for a shared array that arrived (adoptSharedArray) and not yet
 * given to a decoded value: the first value decoded from it takes this one, so
 * a pass maps the memory once. Each new mapping (and each `transfer()`) is an
 * ArrayBuffer that the engine counts at its full size towards its next
 * collection: in a runtime's head or thread, 1-2.5 ms of collection per
 * 256 MiB buffer made, whatever the memory, so a pass costs what it makes.
 */
const unclaimed = new WeakSet<ArrayBufferLike>();
/**
 * Mappings kept for reuse, by file (adoptSharedArray with `reuse`): a worker's
 * main thread, which only holds what its threads hand it and passes it on by
 * name, maps the same memory once while it holds it (a tessera returning the
 * array it was given, again and again).
 */
const reusable = new Map<string, WeakRef<ArrayBuffer>>();
const fileOf = (stat: { dev: number | bigint; ino: number | bigint }) => `${stat.dev}:${stat.ino}`;
/** Names not yet removed, for removal at exit (their mappings may outlive the runtime's stop). */
const held = new Set<ArrayName>();
const collected = new FinalizationRegistry<ArrayName>((name) => letGo(name));

function letGo(name: ArrayName): void {
  if (--name.mappings > 0) return;
  if (reusable.has(name.file) && !reusable.get(name.file)!.deref()) reusable.delete(name.file);
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

function own(path: string, size: number, file: string): ArrayName {
  const name: ArrayName = { path, size, mappings: 0, file };
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
  let file = "";
  try {
    ftruncateSync(fd, bytes);
    file = fileOf(fstatSync(fd));
  } catch (error) {
    unlinkQuietly(path);
    throw new OutOfMemoryError(`a shared array of ${mib(bytes)} cannot be made in /dev/shm: ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return mapName(own(path, bytes, file));
}

/** Whether `payload` is all of a shared array's memory held here, or a sent array's stand-in (it then travels by name). */
export function isSharedArrayPayload(payload: Uint8Array): boolean {
  if (standIns.has(payload.buffer)) return true;
  const name = names.get(payload.buffer);
  return name !== undefined && payload.byteOffset === 0 && payload.byteLength === name.size;
}

/** Bytes a payload stands for: a sent shared array's size for its stand-in (which has none of its own). */
export function payloadSize(payload: Uint8Array): number {
  return standIns.get(payload.buffer)?.size ?? payload.byteLength;
}

/**
 * A payload's bytes: for a sent shared array's stand-in, a new mapping of its
 * file (for a socket to another machine, or when /dev/shm refused its name).
 * Throws when its file is gone.
 */
export function sharedArrayBytes(payload: Uint8Array): Uint8Array {
  const name = standIns.get(payload.buffer);
  if (!name) return payload;
  try {
    return new Uint8Array(mapName(name));
  } catch (error) {
    throw gone(name, error);
  }
}

function gone(name: ArrayName, error: unknown): RuntimeStateError {
  return new RuntimeStateError(`a shared array sent from here (${mib(name.size)}) is gone: its file ${name.path} was removed (${(error as Error).message}; the runtime stopped?)`);
}

/**
 * Takes the shared arrays among an encoded value's payloads (`indices`) from
 * the program: the program's ArrayBuffer is detached at once (`transfer(0)`
 * unmaps it), and the payload becomes a stand-in that holds the array's name.
 * No ArrayBuffer of the array's size is made on the way (the engine counts
 * each at its full size towards a collection: ~1-2.5 ms a send in a runtime's
 * head or thread, where `transfer()` made one). An array whose file is gone
 * (made before a runtime stopped) moves as before, to travel as bytes.
 */
export function takeSharedArrays(payloads: Uint8Array[], indices: readonly number[]): void {
  const moved = new Map<ArrayBufferLike, ArrayBuffer>();
  for (const index of indices) {
    const buffer = payloads[index]!.buffer as ArrayBuffer;
    let to = moved.get(buffer);
    if (!to) {
      const name = names.get(buffer)!;
      names.delete(buffer); // detached: it travels as the empty array it now is
      if (existsSync(name.path)) {
        to = new ArrayBuffer(0);
        name.mappings++; // held by the stand-in until it is collected
        standIns.set(to, name);
        collected.register(to, name);
        buffer.transfer(0);
      } else {
        to = track(buffer.transfer(), name);
      }
      moved.set(buffer, to);
    }
    payloads[index] = new Uint8Array(to);
  }
}

/** A new name of a shared array's file for a receiver, who renames it its own (adoptSharedArray). Throws when the file is gone. */
function handOverSharedArray(payload: Uint8Array): string {
  const path = arraySegmentPath();
  linkSync((names.get(payload.buffer) ?? standIns.get(payload.buffer)!).path, path);
  return path;
}

/**
 * A shared array for a receiver on this machine: a new name of its file and
 * its size; or, when its file is gone (made before a runtime stopped), its
 * bytes, to go as any payload's (a stand-in's mapped again, which throws).
 */
export function handOverOrBytes(payload: Uint8Array): { path: string; size: number } | Uint8Array {
  try {
    return { path: handOverSharedArray(payload), size: payloadSize(payload) };
  } catch {
    return sharedArrayBytes(payload);
  }
}

/**
 * A shared array's file handed over to this thread: renamed its own and
 * mapped. With `reuse` (a holder that never gives the memory to a program), a
 * mapping of the same file that this thread still has is used again, and the
 * new name removed.
 */
export function adoptSharedArray(path: string, size: number, reuse = false): Uint8Array {
  checkSegmentPath(path);
  if (!isArraySegment(path)) throw new Error(`${path} is not a shared array's file`);
  try {
    const file = fileOf(checkSegmentFile(path, size, false));
    if (reuse) {
      const known = reusable.get(file)?.deref();
      if (known && !known.detached && known.byteLength === size && names.has(known)) {
        unlinkQuietly(path); // our own name of it stays while `known` lives
        return new Uint8Array(known);
      }
    }
    const mine = arraySegmentPath();
    renameSync(path, mine);
    const memory = mapName(own(mine, size, file));
    if (reuse) reusable.set(file, new WeakRef(memory));
    else unclaimed.add(memory);
    return new Uint8Array(memory);
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
  const name = names.get(payload.buffer) ?? standIns.get(payload.buffer);
  if (name && isSharedArrayPayload(payload)) {
    if (unclaimed.delete(payload.buffer)) return payload.buffer as ArrayBuffer;
    try {
      return mapName(name);
    } catch (error) {
      // A stand-in has no bytes to copy instead.
      if (standIns.has(payload.buffer)) throw gone(name, error);
    } // its name was removed (the runtime stopped): a copy
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
