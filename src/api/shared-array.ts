/**
 * `mosaic.sharedArray`: typed arrays in shared memory, which move between the
 * runtimes of one machine (as arguments, results, dependencies, warehouse
 * objects) without being copied. The memory is comms' (shared-memory/arrays.ts);
 * here the arguments are checked and the budget of the runtime asked.
 */
import { fitsMemory } from "../comms/memory-budget.ts";
import { allocateSharedMemory } from "../comms/shared-memory/index.ts";
import { InvalidArgumentError, OutOfMemoryError } from "../errors.ts";
import { state } from "../cluster/state.ts";
import { threadData } from "../actors/thread/thread-data.ts";

/** The typed array classes a shared array can be made of. */
export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** The array a `sharedArray(type, n)` call gives: an instance of `type` over an ArrayBuffer. */
export type SharedArray<C extends TypedArrayConstructor> = InstanceType<C>;

const TYPES = new Set<unknown>([
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  (globalThis as { Float16Array?: unknown }).Float16Array,
].filter((type) => type !== undefined));

/** The memory budget of the runtime this code runs in (a tessera thread's worker, the running head), if any. */
function budget(): { limit: number; of: string } | undefined {
  if (typeof threadData?.memoryLimit === "number") return { limit: threadData.memoryLimit, of: threadData.uid ?? "this worker" };
  const runtime = state.runtime;
  return runtime ? { limit: runtime.resources.memoryLimit, of: runtime.uid } : undefined;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * A typed array of `length` elements (zeros) in shared memory. Passed to a
 * method, returned from one, passed on as a dependency or `put` in the
 * warehouse, it moves to the other runtime of this machine without a copy:
 * sending it detaches the sender's array (its length becomes 0), as a transfer
 * list does between threads, and the receiver gets a view of the same memory.
 * Between machines it is copied over TCP and arrives as a shared array there.
 *
 * @example
 * const field = mosaic.sharedArray(Float64Array, 32 * 2 ** 20); // 256 MiB
 * field.fill(1);
 * const updated = await solver.step(field).result(); // no copy either way; `field` is now detached
 */
export function sharedArray<C extends TypedArrayConstructor>(type: C, length: number): SharedArray<C> {
  if (!TYPES.has(type)) {
    const name = typeof type === "function" ? (type as { name?: string }).name || "an anonymous class" : String(type);
    throw new InvalidArgumentError(`sharedArray() takes a typed array class (Float64Array, Int32Array, BigInt64Array, ...): ${name} is not one`);
  }
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    throw new InvalidArgumentError(`sharedArray(${type.name}, n) takes a whole number of elements n >= 0, not ${String(length)}`);
  }
  if (length === 0) return new type(0) as SharedArray<C>; // no memory to share
  const bytes = length * type.BYTES_PER_ELEMENT;
  const own = budget();
  if (own && !fitsMemory(bytes, own.limit)) {
    throw new OutOfMemoryError(
      `sharedArray(${type.name}, ${length}) needs ${mib(bytes)}, which does not fit the memory budget of ${own.of} (${mib(own.limit)}): allocate less, or give the runtime more memory (memoryLimit, memoryFraction)`,
    );
  }
  return new type(allocateSharedMemory(bytes)) as SharedArray<C>;
}
