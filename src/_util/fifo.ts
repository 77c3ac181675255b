/**
 * A first-in first-out queue with O(1) shift. Array#shift moves every element:
 * a tessera with 100,000 queued calls would pay that on each of them.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): number {
    this.#items.push(item);
    return this.length;
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** The first item that matches, front to back (a scan: for rare lookups). */
  find(matches: (item: T) => boolean): T | undefined {
    for (let i = this.#head; i < this.#items.length; i++) if (matches(this.#items[i]!)) return this.#items[i];
    return undefined;
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Drop the consumed prefix once it is most of the array (amortised O(1)).
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
