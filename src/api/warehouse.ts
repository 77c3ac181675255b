/**
 * The warehouse, as the seeds' `put` / `get` / `drop`, on the running runtime.
 */
import { InvalidArgumentError } from "../errors.ts";
import { ObjectRef } from "../actors/head/object-ref.ts";
import type { PutOptions } from "../actors/head/warehouse-client.ts";
import { runtime } from "./lifecycle.ts";
import { nestedPut } from "../actors/head/nested-client.ts";
import { nestedLink } from "../actors/nested-link.ts";

/**
 * Stores `value` in the warehouse and resolves with a reference to it.
 *
 * @example
 * const ref = await mosaic.put(new Float32Array(1 << 20), { publish: true });
 * solver.solve(ref);                  // each worker reads its local copy
 * console.log((await mosaic.get(ref)).length);
 * await mosaic.drop(ref);
 *
 * Inside a tessera method, `put` stores the object on that method's worker
 * (not shipped to the head); the ref can be returned or passed on, and read
 * or dropped by whoever holds it.
 */
export async function put<T>(value: T, options?: PutOptions): Promise<ObjectRef<T>> {
  if (nestedLink.onThread) {
    // Inside a tessera method: stored on this worker, where it was made.
    if (options?.publish || options?.worker !== undefined) throw new InvalidArgumentError("put() inside a tessera method stores the object on its own worker: publish and worker are for the head's put()");
    return nestedPut(value);
  }
  return runtime().put(value, options);
}

export async function get<T>(ref: ObjectRef<T>): Promise<T> {
  if (!(ref instanceof ObjectRef)) throw new InvalidArgumentError("get() takes an ObjectRef returned by put()");
  return ref.get();
}

export async function drop(ref: ObjectRef<unknown>): Promise<void> {
  if (!(ref instanceof ObjectRef)) throw new InvalidArgumentError("drop() takes an ObjectRef returned by put()");
  return ref.drop();
}
