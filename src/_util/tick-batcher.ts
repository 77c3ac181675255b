/**
 * Per-tick batching: items added during one turn of the event loop are handed
 * over together at its end (one message, one write, one command instead of
 * one each). Used wherever the runtime sends many small things at once:
 * releases, completions, calls to a thread, dependency fetches, socket writes.
 */

export interface BatcherOptions {
  /** Hand the batch over at once when it reaches this many items (long bursts leave in slices). */
  limit?: number;
  /** Wait for the next macrotask (setTimeout 0) instead of the end of this microtask queue. */
  macrotask?: boolean;
}

/** Runs `run` once at the end of the tick in which `schedule()` was first called. */
class TickScheduler {
  #scheduled = false;
  readonly #macrotask: boolean;
  readonly #fire: () => void;

  constructor(run: () => void, macrotask: boolean) {
    this.#macrotask = macrotask;
    this.#fire = () => {
      this.#scheduled = false;
      run();
    };
  }

  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#macrotask) setTimeout(this.#fire, 0);
    else queueMicrotask(this.#fire);
  }
}

export class Batcher<T> {
  #items: T[] = [];
  readonly #limit: number;
  readonly #deliver: (items: T[]) => void;
  readonly #tick: TickScheduler;

  constructor(deliver: (items: T[]) => void, options: BatcherOptions = {}) {
    this.#deliver = deliver;
    this.#limit = options.limit ?? Infinity;
    this.#tick = new TickScheduler(() => this.flush(), options.macrotask ?? false);
  }

  get size(): number {
    return this.#items.length;
  }

  add(item: T): void {
    if (this.#items.push(item) >= this.#limit) this.flush();
    else this.#tick.schedule();
  }

  /** Hands over what was added so far, now (nothing when empty). */
  flush(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#deliver(items);
  }
}

/**
 * A batch per destination: every destination's items are handed over at the
 * end of the same tick (`limit`: one destination's batch leaves at once when
 * it reaches that many items).
 */
export class KeyedBatcher<K, T> {
  #batches = new Map<K, T[]>();
  readonly #deliver: (key: K, items: T[]) => void;
  readonly #limit: number;
  readonly #tick: TickScheduler;

  constructor(deliver: (key: K, items: T[]) => void, options: BatcherOptions = {}) {
    this.#deliver = deliver;
    this.#limit = options.limit ?? Infinity;
    this.#tick = new TickScheduler(() => this.flush(), options.macrotask ?? false);
  }

  add(key: K, item: T): void {
    let batch = this.#batches.get(key);
    if (!batch) {
      this.#batches.set(key, (batch = []));
      this.#tick.schedule();
    }
    if (batch.push(item) >= this.#limit) {
      this.#batches.delete(key);
      this.#deliver(key, batch);
    }
  }

  /** Hands over every destination's batch now. */
  flush(): void {
    if (this.#batches.size === 0) return;
    const batches = this.#batches;
    this.#batches = new Map();
    for (const [key, items] of batches) this.#deliver(key, items);
  }
}
