/**
 * Batches between a worker's main thread and its tessera threads travel as one
 * msgpackr buffer, transferred (not cloned). Structured clone of many small
 * objects is slow, and cloning a Uint8Array view copies its whole underlying
 * buffer (a socket chunk, msgpackr's scratch buffer): never post views.
 */
import "../comms/_native-off.ts";
import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true });

export function packBatch(batch: readonly unknown[]): Uint8Array {
  // pack() returns a view of msgpackr's reusable buffer: copy it into its own buffer to transfer.
  return packr.pack(batch).slice();
}

export function unpackBatch<T>(bytes: Uint8Array): T[] {
  return packr.unpack(bytes) as T[];
}

/** postMessage for a packed batch, handing its memory over to the receiver. */
export function postBatch(port: { postMessage(value: unknown, transfer: ArrayBuffer[]): void }, batch: readonly unknown[]): void {
  const bytes = packBatch(batch);
  port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
}
