/**
 * Keeps a worker's stored values (task results, warehouse objects) within a
 * byte budget: past it, the raw payloads of the least recently used values
 * go to files, and come back (into shared memory) when next read.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What the store manages of a record: its body and payloads, or where they went. */
/** Where the spill store of runtime `name` in process `pid` keeps its files (its parent removes them if it dies). */
export function spillDirectory(name: string, pid: number): string {
  return join(tmpdir(), `mosaic-spill-${name.replaceAll(":", "-")}-${pid}`);
}

export interface Spillable {
  result?: [bytes: Uint8Array, payloads: Uint8Array[]];
  spilled?: { files: string[]; sizes: number[] };
}

export class SpillStore {
  readonly budget: number;
  #directory: string | undefined;
  /** Values with payloads in memory, least recently used first (Map keeps insertion order). */
  #resident = new Map<number, Spillable>();
  #residentBytes = 0;
  #spilledCount = 0;
  #spilledBytes = 0;

  /** `onMove`: a value's payloads went to disk (out) or came back (in), with their size. */
  constructor(
    budget: number,
    private readonly name: string,
    private readonly onMove?: (direction: "out" | "in", bytes: number) => void,
  ) {
    this.budget = budget;
  }

  get stats(): { residentBytes: number; spilled: number; spilledBytes: number } {
    return { residentBytes: this.#residentBytes, spilled: this.#spilledCount, spilledBytes: this.#spilledBytes };
  }

  /** A value was stored: count it, and spill the coldest ones if over budget. */
  add(id: number, record: Spillable): void {
    const size = payloadBytes(record);
    if (size === 0) return;
    this.#resident.set(id, record);
    this.#residentBytes += size;
    this.#enforce(id);
  }

  /** A value is being read: bring it back from disk if needed, and mark it recent. */
  touch(id: number, record: Spillable): void {
    if (record.spilled) this.#load(id, record);
    else if (this.#resident.delete(id)) this.#resident.set(id, record);
  }

  /** A value is gone: forget it and delete its files. */
  remove(id: number, record: Spillable): void {
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

  close(): void {
    if (this.#directory) rmSync(this.#directory, { recursive: true, force: true });
  }

  #enforce(keep: number): void {
    for (const [id, record] of this.#resident) {
      if (this.#residentBytes <= this.budget) return;
      if (id !== keep) this.#spill(id, record);
    }
  }

  #spill(id: number, record: Spillable): void {
    const [bytes, payloads] = record.result!;
    this.#directory ??= (() => {
      const directory = spillDirectory(this.name, process.pid);
      mkdirSync(directory, { recursive: true });
      return directory;
    })();
    const files = payloads.map((payload, i) => {
      const file = join(this.#directory!, `${id}-${i}`);
      writeFileSync(file, payload);
      return file;
    });
    const sizes = payloads.map((payload) => payload.byteLength);
    const size = sizes.reduce((a, b) => a + b, 0);
    record.spilled = { files, sizes };
    record.result = [bytes, []];
    this.#resident.delete(id);
    this.#residentBytes -= size;
    this.#spilledCount++;
    this.#spilledBytes += size;
    this.onMove?.("out", size);
  }

  #load(id: number, record: Spillable): void {
    const { files, sizes } = record.spilled!;
    const payloads = files.map((file, i) => {
      const payload = new Uint8Array(new SharedArrayBuffer(sizes[i]!));
      const fd = openSync(file, "r");
      try {
        for (let at = 0; at < payload.length; ) at += readSync(fd, payload, at, payload.length - at, at);
      } finally {
        closeSync(fd);
      }
      rmSync(file, { force: true });
      return payload;
    });
    const size = sizes.reduce((a, b) => a + b, 0);
    this.#spilledCount--;
    this.#spilledBytes -= size;
    record.spilled = undefined;
    record.result = [record.result![0], payloads];
    this.onMove?.("in", size);
    this.add(id, record);
  }
}

function payloadBytes(record: Spillable): number {
  return record.result ? record.result[1].reduce((total, payload) => total + payload.byteLength, 0) : 0;
}
