/**
 * The warehouse, as the seeds' `put` / `get` / `drop`, on the running runtime.
 */
import { InvalidArgumentError } from "../errors.ts";
import { ObjectRef } from "../actors/head/object-ref.ts";
import type { PutOptions } from "../actors/head/warehouse-client.ts";
import { runtime } from "./lifecycle.ts";

/**
 * Stores `value` in the warehouse and resolves with a reference to it.
 *
 * @example
 * const ref = await mosaic.put(new Float32Array(1 << 20), { publish: true });
 * solver.solve(ref);                  // each worker reads its local copy
 * console.log((await mosaic.get(ref)).length);
 * await mosaic.drop(ref);
 */
export async function put<T>(value: T, options?: PutOptions): Promise<ObjectRef<T>> {
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
