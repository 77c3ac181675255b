/**
 * The most recent keys (with a value each), forgetting the oldest in O(1).
 * Not "delete the first key of a Map": deleted entries stay as holes at the
 * front of a Map's order, so finding its first key again walks past all of
 * them, and a long burst of such deletions turns quadratic (a worker froze for
 * seconds on this). Two generations instead: the older one is dropped whole.
 */
import { IdTable } from "./id-table.ts";

export class Recent<K, V> {
  #current = new Map<K, V>();
  #previous = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  set(key: K, value: V): void {
    this.#current.set(key, value);
    if (this.#current.size >= this.capacity) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
  }

  get(key: K): V | undefined {
    return this.#current.get(key) ?? this.#previous.get(key);
  }

  has(key: K): boolean {
    return this.#current.has(key) || this.#previous.has(key);
  }

  delete(key: K): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  keys(): K[] {
    return [...this.#previous.keys(), ...this.#current.keys()];
  }

  clear(): void {
    this.#current.clear();
    this.#previous.clear();
  }
}

/**
 * Recent for integer ids (wire ids, numbered in order): two generations of
 * IdTables instead of Maps. A worker marks every result released as gone, and
 * looks each completion up there: with a Map of up to 100,000 ids that was a
 * fifth of its main thread's time in a loop of dependent calls.
 */
export class RecentIds<V> {
  #current = new IdTable<V>();
  #previous = new IdTable<V>();

  constructor(private readonly capacity: number) {}

  /** `value` must not be undefined. */
  set(id: number, value: V): void {
    this.#current.set(id, value);
    if (this.#current.size >= this.capacity) {
      this.#previous = this.#current;
      this.#current = new IdTable();
    }
  }

  get(id: number): V | undefined {
    return this.#current.get(id) ?? this.#previous.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }
}
