/**
 * Values by increasing integer ids (wire ids: numbered in order, mostly
 * removed in about that order), in chunks of CHUNK slots. A Map of hundreds
 * of thousands of pipelined tasks cost ~0.3-0.8 us per task to add and remove
 * (hashing, growing, cache misses); a slot in a chunk costs ~0.03 us.
 */
const CHUNK = 4096;
/** Slots per chunk of a small table (one tessera's calls in flight): 64 x 8 bytes, not 32 KiB, for a table of a few. */
export const SMALL_CHUNK = 64;

interface Chunk<T> {
  slots: (T | undefined)[];
  count: number;
}

export class IdTable<T> {
  readonly #chunk: number;
  #chunks = new Map<number, Chunk<T>>();
  #size = 0;
  /**
   * The last chunk emptied, kept for the next one needed: one task in flight at a time (a program
   * awaiting each call) empties its chunk on every delete, and a new 4096-slot array per call cost
   * a fifth of the head's CPU in a round-trip loop.
   */
  #spare: Chunk<T> | undefined;

  /** `chunk`: slots per chunk (a table that stays small: SMALL_CHUNK). */
  constructor(chunk = CHUNK) {
    this.#chunk = chunk;
  }

  get size(): number {
    return this.#size;
  }

  get(id: number): T | undefined {
    const key = Math.floor(id / this.#chunk);
    return this.#chunks.get(key)?.slots[id - key * this.#chunk];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** `value` must not be undefined (an empty slot). */
  set(id: number, value: T): void {
    const key = Math.floor(id / this.#chunk);
    let chunk = this.#chunks.get(key);
    if (!chunk) {
      chunk = this.#spare ?? { slots: new Array<T | undefined>(this.#chunk), count: 0 };
      this.#spare = undefined;
      this.#chunks.set(key, chunk);
    }
    const slot = id - key * this.#chunk;
    if (chunk.slots[slot] === undefined) {
      chunk.count++;
      this.#size++;
    }
    chunk.slots[slot] = value;
  }

  delete(id: number): boolean {
    const key = Math.floor(id / this.#chunk);
    const chunk = this.#chunks.get(key);
    const slot = id - key * this.#chunk;
    if (!chunk || chunk.slots[slot] === undefined) return false;
    chunk.slots[slot] = undefined;
    this.#size--;
    if (--chunk.count === 0) {
      this.#chunks.delete(key);
      this.#spare = chunk; // every slot is empty again
    }
    return true;
  }

  /** Empties the table. */
  clear(): void {
    this.#chunks.clear();
    this.#size = 0;
    this.#spare = undefined;
  }

  /** Ids in increasing order. */
  *keys(): IterableIterator<number> {
    for (const [id] of this.entries()) yield id;
  }

  /** Values in increasing id order. */
  *values(): IterableIterator<T> {
    for (const [, value] of this.entries()) yield value;
  }

  /** [id, value] in increasing id order. */
  *entries(): IterableIterator<[number, T]> {
    const keys = [...this.#chunks.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const chunk = this.#chunks.get(key);
      if (!chunk) continue; // emptied while iterating
      for (let slot = 0; slot < this.#chunk; slot++) {
        // Emptied while iterating (it may now be the spare, holding other ids' values): its ids are gone.
        if (this.#chunks.get(key) !== chunk) break;
        const value = chunk.slots[slot];
        if (value !== undefined) yield [key * this.#chunk + slot, value];
      }
    }
  }
}
