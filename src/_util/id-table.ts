/**
 * Values by increasing integer ids (wire ids: numbered in order, mostly
 * removed in about that order), in chunks of CHUNK slots. A Map of hundreds
 * of thousands of pipelined tasks cost ~0.3-0.8 us per task to add and remove
 * (hashing, growing, cache misses); a slot in a chunk costs ~0.03 us.
 */
const CHUNK = 4096;

interface Chunk<T> {
  slots: (T | undefined)[];
  count: number;
}

export class IdTable<T> {
  #chunks = new Map<number, Chunk<T>>();
  #size = 0;
  /**
   * The last chunk emptied, kept for the next one needed: one task in flight at a time (a program
   * awaiting each call) empties its chunk on every delete, and a new 4096-slot array per call cost
   * a fifth of the head's CPU in a round-trip loop.
   */
  #spare: Chunk<T> | undefined;

  get size(): number {
    return this.#size;
  }

  get(id: number): T | undefined {
    const key = Math.floor(id / CHUNK);
    return this.#chunks.get(key)?.slots[id - key * CHUNK];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** `value` must not be undefined (an empty slot). */
  set(id: number, value: T): void {
    const key = Math.floor(id / CHUNK);
    let chunk = this.#chunks.get(key);
    if (!chunk) {
      chunk = this.#spare ?? { slots: new Array<T | undefined>(CHUNK), count: 0 };
      this.#spare = undefined;
      this.#chunks.set(key, chunk);
    }
    const slot = id - key * CHUNK;
    if (chunk.slots[slot] === undefined) {
      chunk.count++;
      this.#size++;
    }
    chunk.slots[slot] = value;
  }

  delete(id: number): boolean {
    const key = Math.floor(id / CHUNK);
    const chunk = this.#chunks.get(key);
    const slot = id - key * CHUNK;
    if (!chunk || chunk.slots[slot] === undefined) return false;
    chunk.slots[slot] = undefined;
    this.#size--;
    if (--chunk.count === 0) {
      this.#chunks.delete(key);
      this.#spare = chunk; // every slot is empty again
    }
    return true;
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
      for (let slot = 0; slot < CHUNK; slot++) {
        // Emptied while iterating (it may now be the spare, holding other ids' values): its ids are gone.
        if (this.#chunks.get(key) !== chunk) break;
        const value = chunk.slots[slot];
        if (value !== undefined) yield [key * CHUNK + slot, value];
      }
    }
  }
}
