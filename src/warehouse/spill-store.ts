/**
 * Keeps a worker's stored values (task results, warehouse objects) within a
 * byte budget: past it, the raw payloads of the least recently used values
 * go to files, and come back (into shared memory) when next read. Files are
 * written and read off the event loop (a 256 MiB payload took 0.6-1 s of a
 * synchronous write here: a worker spilling a few of them went silent long
 * enough for its node to end it): a value stays in memory, and readable,
 * until its files are whole.
 */
import { mkdirSync, rmSync } from "node:fs";
import { open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where the spill store of runtime `name` in process `pid` keeps its files (its parent removes them if it dies). */
export function spillDirectory(name: string, pid: number): string {
  return join(tmpdir(), `mosaic-spill-${name.replaceAll(":", "-")}-${pid}`);
}

/** What the store manages of a record: its body and payloads, or where they went. */
export interface Spillable {
  result?: [bytes: Uint8Array, payloads: Uint8Array[]];
  spilled?: { files: string[]; sizes: number[] };
}

/** A value whose payloads are being written out; `cancelled` once it was read or removed meanwhile. */
interface Writing {
  size: number;
  cancelled: boolean;
}

/** A value being read back; `cancelled` once it was removed meanwhile. */
interface Loading {
  done: Promise<void>;
  cancelled: boolean;
}

export class SpillStore {
  readonly budget: number;
  #directory: string | undefined;
  /** Values with payloads in memory, least recently used first (Map keeps insertion order). */
  #resident = new Map<number, Spillable>();
  #residentBytes = 0;
  #spilledCount = 0;
  #spilledBytes = 0;
  #writing = new Map<number, Writing>();
  #writingBytes = 0;
  #loading = new Map<number, Loading>();
  /** Every write and read under way: `settled` waits for them. */
  #pending = new Set<Promise<unknown>>();
  #closed = false;
  /** Each spill writes files of its own: a cancelled one, still running, removes only its own. */
  #attempts = 0;

  /** `onMove`: a value's payloads went to disk (out) or came back (in), with their size. */
  constructor(
    budget: number,
    private readonly name: string,
    private readonly onMove?: (direction: "out" | "in", bytes: number) => void,
    private readonly log?: (message: string) => void,
  ) {
    this.budget = budget;
  }

  /** `writingBytes`: payloads being written out, still in memory (not in `residentBytes`). */
  get stats(): { residentBytes: number; spilled: number; spilledBytes: number; writingBytes: number } {
    return { residentBytes: this.#residentBytes, spilled: this.#spilledCount, spilledBytes: this.#spilledBytes, writingBytes: this.#writingBytes };
  }

  /** Resolves once every write and read begun so far has ended (and writes those reads began, a few rounds deep). */
  async settled(): Promise<void> {
    for (let round = 0; round < 4 && this.#pending.size > 0; round++) await Promise.allSettled([...this.#pending]);
  }

  /** A value was stored: count it, and spill the coldest ones if over budget. */
  add(id: number, record: Spillable): void {
    const size = payloadBytes(record);
    if (size === 0) return;
    this.#resident.set(id, record);
    this.#residentBytes += size;
    this.#enforce(id);
  }

  /**
   * A value is being read: marked recent, and brought back from disk if it
   * went there. Undefined when its payloads are in memory now; else a promise
   * that settles once they are (rejected if its files cannot be read).
   */
  touch(id: number, record: Spillable): Promise<void> | undefined {
    const writing = this.#writing.get(id);
    if (writing) {
      // Read before its files were whole: it stays in memory, the files go once written, and the coldest others
      // go to disk if that takes the store over its budget (as when a value is read back from disk).
      this.#cancelWrite(id, writing);
      this.#resident.set(id, record);
      this.#residentBytes += writing.size;
      this.#enforce(id);
      return undefined;
    }
    if (record.spilled) return (this.#loading.get(id) ?? this.#load(id, record)).done;
    if (this.#resident.delete(id)) this.#resident.set(id, record);
    return undefined;
  }

  /** A value is gone: forget it and delete its files. */
  remove(id: number, record: Spillable): void {
    const writing = this.#writing.get(id);
    if (writing) this.#cancelWrite(id, writing);
    const loading = this.#loading.get(id);
    if (loading) {
      loading.cancelled = true;
      this.#loading.delete(id);
    }
    // Most values have no payloads (small results): never added, nothing to forget.
    if (!record.spilled && (!record.result || record.result[1].length === 0)) return;
    if (this.#resident.delete(id)) this.#residentBytes -= payloadBytes(record);
    if (record.spilled) {
      for (const file of record.spilled.files) rmSync(file, { force: true });
      this.#spilledCount--;
      this.#spilledBytes -= record.spilled.sizes.reduce((a, b) => a + b, 0);
      record.spilled = undefined;
    }
  }

  /** Deletes the folder and every file in it; writes still under way remove what they wrote, and the folder again, once they end. */
  close(): void {
    this.#closed = true;
    this.#removeDirectory();
  }

  #removeDirectory(): void {
    try {
      if (this.#directory) rmSync(this.#directory, { recursive: true, force: true });
    } catch {} // a write under way made a file meanwhile: it removes the folder again when it ends
  }

  #enforce(keep: number): void {
    for (const [id, record] of this.#resident) {
      if (this.#residentBytes <= this.budget) return;
      if (id !== keep) this.#spill(id, record);
    }
  }

  #cancelWrite(id: number, writing: Writing): void {
    writing.cancelled = true;
    this.#writing.delete(id);
    this.#writingBytes -= writing.size;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    promise.finally(() => this.#pending.delete(promise)).catch(() => {});
    return promise;
  }

  #spill(id: number, record: Spillable): void {
    if (this.#closed) return;
    const [bytes, payloads] = record.result!;
    this.#directory ??= (() => {
      const directory = spillDirectory(this.name, process.pid);
      mkdirSync(directory, { recursive: true });
      return directory;
    })();
    const attempt = ++this.#attempts;
    const files = payloads.map((_, i) => join(this.#directory!, `${id}-${attempt}-${i}`));
    const sizes = payloads.map((payload) => payload.byteLength);
    const size = sizes.reduce((a, b) => a + b, 0);
    this.#resident.delete(id);
    this.#residentBytes -= size;
    const writing: Writing = { size, cancelled: false };
    this.#writing.set(id, writing);
    this.#writingBytes += size;
    const removeFiles = () =>
      Promise.all(files.map((file) => rm(file, { force: true }))).then(() => {
        if (this.#closed) this.#removeDirectory();
      });
    this.#track(
      // Every payload's write ended (a failed one's siblings too) before the files are judged or removed.
      Promise.allSettled(payloads.map((payload, i) => writeFile(files[i]!, payload))).then((written) => {
        const failed = written.find((outcome) => outcome.status === "rejected");
        if (failed) throw failed.reason;
      }).then(
        () => {
          if (writing.cancelled || this.#closed) return removeFiles();
          this.#writing.delete(id);
          this.#writingBytes -= size;
          // Its payloads in memory go now: readers that took them keep theirs.
          record.spilled = { files, sizes };
          record.result = [bytes, []];
          this.#spilledCount++;
          this.#spilledBytes += size;
          this.onMove?.("out", size);
        },
        (error: Error) => {
          if (!writing.cancelled && !this.#closed) {
            // Not written: it stays in memory, over budget, rather than be lost.
            this.#cancelWrite(id, writing);
            this.#resident.set(id, record);
            this.#residentBytes += size;
            this.log?.(`could not spill a stored value of ${size} bytes to ${files[0]}: ${error.message}; it stays in memory`);
          }
          return removeFiles();
        },
      ),
    );
  }

  #load(id: number, record: Spillable): Loading {
    const { files, sizes } = record.spilled!;
    const loading: Loading = { done: Promise.resolve(), cancelled: false };
    // Its reader must not take the value without its payloads (its files may be gone before they were read).
    const dropped = () => new Error(`stored value #${id} was dropped while it was read back from disk`);
    loading.done = this.#track(
      Promise.allSettled(files.map((file, i) => readInto(file, new Uint8Array(new SharedArrayBuffer(sizes[i]!))))).then((outcomes) => {
        const payloads = outcomes.map((outcome) => {
          if (outcome.status === "rejected") throw outcome.reason;
          return outcome.value;
        });
        if (this.#loading.get(id) === loading) this.#loading.delete(id);
        if (loading.cancelled || !record.spilled) throw dropped();
        for (const file of files) rmSync(file, { force: true });
        const size = sizes.reduce((a, b) => a + b, 0);
        this.#spilledCount--;
        this.#spilledBytes -= size;
        record.spilled = undefined;
        record.result = [record.result![0], payloads];
        this.onMove?.("in", size);
        this.add(id, record);
      }),
    );
    loading.done = loading.done.catch((error: Error) => {
      if (this.#loading.get(id) === loading) this.#loading.delete(id);
      throw loading.cancelled ? dropped() : error;
    });
    // Its readers handle its failure; none is left unhandled if a reader went meanwhile.
    loading.done.catch(() => {});
    this.#loading.set(id, loading);
    return loading;
  }
}

/** Reads a whole file into `into` (its size) without holding the event loop. */
async function readInto(file: string, into: Uint8Array): Promise<Uint8Array> {
  const handle = await open(file, "r");
  try {
    for (let at = 0; at < into.byteLength; ) {
      const { bytesRead } = await handle.read(into, at, into.byteLength - at, at);
      if (bytesRead === 0) throw new Error(`${file} ended at ${at} of ${into.byteLength} bytes`);
      at += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return into;
}

function payloadBytes(record: Spillable): number {
  return record.result ? record.result[1].reduce((total, payload) => total + payload.byteLength, 0) : 0;
}
