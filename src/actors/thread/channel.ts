/**
 * Batches between a worker's main thread and its tessera threads: arrays of
 * tuples, posted with structured clone (cheaper than re-encoding). One trap:
 * cloning a Uint8Array *view* copies its whole underlying buffer (a socket
 * chunk, msgpackr's scratch buffer), so only compact arrays may be posted.
 */

/** The bytes of `view` in an ArrayBuffer of their own (the view itself when it already is). */
export function compact(view: Uint8Array): Uint8Array {
  if (view.buffer instanceof SharedArrayBuffer) return view; // shared, never copied by postMessage
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return view;
  // Not view.slice(): on a Buffer (socket chunks, msgpackr output) that is a view again.
  return Uint8Array.prototype.slice.call(view);
}

/**
 * A payload to post to another thread: shared memory as it is; other memory
 * copied once into shared memory (a structured-clone copy of a large buffer
 * runs several times slower than a plain copy, and copies the whole buffer).
 */
export function sharePayload(view: Uint8Array): Uint8Array {
  return view.buffer instanceof SharedArrayBuffer ? view : copyToShared(view);
}

/** A copy of `view` in shared memory of its own. */
export function copyToShared(view: Uint8Array): Uint8Array {
  const shared = new Uint8Array(new SharedArrayBuffer(view.byteLength));
  shared.set(view);
  return shared;
}

export function postBatch(port: { postMessage(value: unknown): void }, batch: readonly unknown[]): void {
  port.postMessage(batch);
}

/** Marker in `workerData` of the threads a worker starts to run tesserae on. */
export const THREAD_MARKER = "mosaic.tessera-thread";
