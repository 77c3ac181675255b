/**
 * Cancelled calls, from a worker's main thread to a tessera thread, through
 * shared memory: a thread running synchronous methods back to back reads no
 * message until its queue drains, so a call queued behind a long one could
 * not be cancelled by a message. The main thread writes the task id into a
 * ring and then bumps a counter; the thread checks the counter (one atomic
 * load) before each call and reads the new ids.
 */

/** Cancels the ring holds between two checks of the thread; older ones are lost (the call then runs). */
export const CANCEL_RING = 1024;

/** Shared memory for one thread's cancels: [count: Int32, pad, ids: Float64 × CANCEL_RING]. */
export function cancelRing(): SharedArrayBuffer {
  return new SharedArrayBuffer(8 + 8 * CANCEL_RING);
}

/** The main thread's side: writes one cancelled task id. */
export class CancelWriter {
  readonly #count: Int32Array;
  readonly #ids: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#count = new Int32Array(buffer, 0, 1);
    this.#ids = new Float64Array(buffer, 8, CANCEL_RING);
  }

  write(task: number): void {
    const count = Atomics.load(this.#count, 0);
    this.#ids[count % CANCEL_RING] = task;
    Atomics.store(this.#count, 0, count + 1); // after the id: a reader that sees the count sees the id
  }
}

/** The thread's side: the ids written since its last look. */
export class CancelReader {
  readonly #count: Int32Array;
  readonly #ids: Float64Array;
  #seen = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.#count = new Int32Array(buffer, 0, 1);
    this.#ids = new Float64Array(buffer, 8, CANCEL_RING);
  }

  /** Whether ids were written since the last `take` (one atomic load: checked before every call). */
  get changed(): boolean {
    return Atomics.load(this.#count, 0) !== this.#seen;
  }

  take(into: (task: number) => void): void {
    const count = Atomics.load(this.#count, 0);
    for (let i = Math.max(this.#seen, count - CANCEL_RING); i < count; i++) into(this.#ids[i % CANCEL_RING]!);
    this.#seen = count;
  }
}
