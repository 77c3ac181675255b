/**
 * A reference to an object in the warehouse (`mosaic.put`). Pass it as an
 * argument and the worker reads the object (from its own copy when it was
 * published, else fetched once from the worker that holds it, then cached).
 */
import { PUBLISHED, registerReferenceClass, type ReferenceLike, type TaskReference } from "../wire/value-codec.ts";

export { PUBLISHED };

/** On task proxies and object refs: why their runtime stopped (undefined while it runs). */
export const RUNTIME_STOPPED = Symbol("mosaic.runtime-stopped");

export interface ObjectOwner {
  /** Why the runtime that holds the object stopped (undefined while it runs). */
  readonly stoppedReason: string | undefined;
  getObject(ref: ObjectRef<any>): Promise<unknown>;
  dropObject(ref: ObjectRef<any>): Promise<void>;
}

export class ObjectRef<T = unknown> implements ReferenceLike {
  /** Phantom member carrying the type of the object. */
  declare readonly __mosaicValue?: T;
  readonly id: number;
  readonly uid: string;
  /** Worker holding the object, or every worker when published. */
  readonly holder: string;
  readonly size: number;
  #owner: ObjectOwner;

  /** Internal: why the runtime that holds the object stopped (undefined while it runs). */
  get [RUNTIME_STOPPED](): string | undefined {
    return this.#owner.stoppedReason;
  }
  #dropped = false;

  constructor(id: number, uid: string, holder: string, size: number, owner: ObjectOwner) {
    this.id = id;
    this.uid = uid;
    this.holder = holder;
    this.size = size;
    this.#owner = owner;
  }

  get published(): boolean {
    return this.holder === PUBLISHED;
  }

  get dropped(): boolean {
    return this.#dropped;
  }

  /** Fetches the object (same as `mosaic.get(ref)`). */
  get(): Promise<T> {
    return this.#owner.getObject(this) as Promise<T>;
  }

  /** Frees the object on its worker(s) (same as `mosaic.drop(ref)`). */
  drop(): Promise<void> {
    if (this.#dropped) return Promise.resolve();
    this.#dropped = true;
    return this.#owner.dropObject(this);
  }

  [Symbol.dispose](): void {
    void this.drop();
  }

  toReference(): TaskReference {
    return { id: this.id, task: this.uid, worker: this.holder };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  toString(): string {
    return `<ObjectRef uid=${this.uid}, holder=${this.published ? "all workers" : this.holder}, size=${this.size}${this.#dropped ? ", dropped" : ""}>`;
  }
}

registerReferenceClass(ObjectRef);
