/**
 * Batches between a worker's main thread and its tessera threads: arrays of
 * tuples, posted with structured clone (cheaper than re-encoding). One trap:
 * cloning a Uint8Array *view* copies its whole underlying buffer (a socket
 * chunk, msgpackr's scratch buffer), so only compact arrays may be posted.
 */

/**
 * The bytes of `view` in an ArrayBuffer of their own (the view itself when it
 * already is), as a plain Uint8Array: the encoder's output is a Buffer, and
 * code that reads results' bytes saw both kinds (JSC's optimized code kept
 * exiting there: holdBack, settle).
 */
export function compact(view: Uint8Array): Uint8Array {
  if (view.buffer instanceof SharedArrayBuffer) return view; // shared, never copied by postMessage
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return view.constructor === Uint8Array ? view : new Uint8Array(view.buffer);
  // Not view.slice(): on a Buffer (socket chunks, msgpackr output) that is a view again (and a Buffer).
  return new Uint8Array(view);
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

/**
 * The variable of a tessera thread's environment that carries its settings
 * (thread-data.ts's ThreadSettings, as JSON) from its worker's main thread:
 * a web Worker has no `workerData` without node:worker_threads, which costs a
 * thread ~4.6 ms to load.
 */
export const THREAD_SETTINGS_ENV = "MOSAIC_TESSERA_THREAD";
const SETTINGS_KEY = Symbol.for("mosaic.tessera-thread-settings");

/**
 * This thread's settings when it is a tessera thread (undefined elsewhere),
 * read once and taken out of its environment, first thing in the thread
 * (settings-preload.ts, or the library as it loads where there is no file to
 * preload): the program's code and the threads and processes it starts do not
 * inherit them. Taken only in a thread that runs the program the worker named:
 * a Worker of the program's own that was handed them anyway is none.
 * Kept on globalThis: two copies of the library in one thread read the same.
 */
export function tesseraThreadSettings(): unknown {
  if (Bun.isMainThread) return undefined;
  const global = globalThis as Record<symbol, unknown>;
  if (!(SETTINGS_KEY in global)) {
    const text = process.env[THREAD_SETTINGS_ENV];
    delete process.env[THREAD_SETTINGS_ENV];
    let settings: { program?: unknown } | undefined;
    try {
      settings = text === undefined ? undefined : JSON.parse(text);
    } catch {} // not ours
    global[SETTINGS_KEY] = settings && runsProgram(settings.program) ? settings : undefined;
  }
  return global[SETTINGS_KEY];
}

/** Whether this thread runs `program` (its Bun.main is that file, named as it is or through a link); yes when unsure. */
function runsProgram(program: unknown): boolean {
  if (typeof program !== "string" || program === Bun.main) return true;
  try {
    const { realpathSync } = require("node:fs") as typeof import("node:fs");
    return realpathSync(program) === realpathSync(Bun.main);
  } catch {
    return true;
  }
}

/** A tessera thread's end of its channel: the web Worker's global scope. */
export const threadScope = globalThis as unknown as {
  postMessage(value: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
};
