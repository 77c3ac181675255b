/**
 * The most recent keys (with a value each), forgetting the oldest in O(1).
 * Not "delete the first key of a Map": deleted entries stay as holes at the
 * front of a Map's order, so finding its first key again walks past all of
 * them, and a long burst of such deletions turns quadratic (a worker froze for
 * seconds on this). Two generations instead: the older one is dropped whole.
 */
import { IdTable } from "./id-table.ts";

/** A generation: a Map, or an IdTable for integer ids (see recentIds). */
interface Generation<K, V> {
  readonly size: number;
  get(key: K): V | undefined;
  set(key: K, value: V): unknown;
  has(key: K): boolean;
  delete(key: K): boolean;
  keys(): Iterable<K>;
}

export class Recent<K, V> {
  readonly #make: () => Generation<K, V>;
  #current: Generation<K, V>;
  #previous: Generation<K, V>;

  constructor(
    private readonly capacity: number,
    make: () => Generation<K, V> = () => new Map<K, V>(),
  ) {
    this.#make = make;
    this.#current = make();
    this.#previous = make();
  }

  set(key: K, value: V): void {
    this.#current.set(key, value);
    if (this.#current.size >= this.capacity) {
      this.#previous = this.#current;
      this.#current = this.#make();
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
    this.#current = this.#make();
    this.#previous = this.#make();
  }
}

/**
 * Recent for integer ids (wire ids, numbered in order), its generations
 * IdTables: a worker marks every result released as gone, and looks each
 * completion up there; with a Map of up to 100,000 ids that was a fifth of its
 * main thread's time in a loop of dependent calls. Values must not be undefined.
 */
export function recentIds<V>(capacity: number): Recent<number, V> {
  return new Recent<number, V>(capacity, () => new IdTable<V>());
}
