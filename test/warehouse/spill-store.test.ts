/**
 * The spill store in-process: a byte budget over stored values, the coldest
 * values' payloads moved to files past it and read back when touched.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Spillable, spillDirectory, SpillStore } from "../../src/warehouse/spill-store.ts";

const KiB = 1024;

/** A stored value: a small body and one payload per size, every byte of payload i equal to `fill + i`. */
function record(fill: number, ...sizes: number[]): Spillable {
  return { result: [Uint8Array.of(fill), sizes.map((size, i) => new Uint8Array(size).fill(fill + i))] };
}

/** What a record holds now: body, and each payload's size and first and last byte (or its files if spilled). */
function contents(value: Spillable): unknown {
  const [body, payloads] = value.result!;
  return { body: [...body], payloads: payloads.map((p) => [p.byteLength, p[0], p[p.byteLength - 1]]), spilled: value.spilled !== undefined };
}

const stores: SpillStore[] = [];
let names = 0;
const directories = new Map<SpillStore, string>();
/** The folder a store of this file writes into. */
function spillDirectoryOf(spill: SpillStore): string {
  return directories.get(spill)!;
}
function store(budget: number): SpillStore {
  const name = `worker:test:${process.pid}-${names++}`;
  const created = new SpillStore(budget, name);
  stores.push(created);
  directories.set(created, spillDirectory(name, process.pid));
  return created;
}

afterEach(async () => {
  for (const created of stores.splice(0)) {
    created.close();
    await created.settled();
  }
});

describe("SpillStore", () => {
  test("within its budget nothing is spilled; values without payloads are not counted", () => {
    const spill = store(100 * KiB);
    spill.add(1, record(1, 40 * KiB));
    spill.add(2, record(2, 30 * KiB, 30 * KiB));
    spill.add(3, { result: [Uint8Array.of(3), []] });
    expect(spill.stats).toEqual({ residentBytes: 100 * KiB, spilled: 0, spilledBytes: 0, writingBytes: 0 });
  });

  test("past its budget the least recently used values go to disk, oldest first, until it fits; the value just added stays; files are written off the event loop, the values readable meanwhile", async () => {
    const spill = store(100 * KiB);
    const values = [record(1, 40 * KiB), record(2, 40 * KiB), record(3, 40 * KiB), record(4, 90 * KiB)];
    values.forEach((value, i) => spill.add(i + 1, value));
    // 3 → 120 KiB: 1 goes; 4 → 170 KiB: 2 and 3 go (90 KiB left, the new one). Being written, they still hold their payloads.
    expect({ stats: spill.stats, held: values.map((value) => contents(value)) }).toEqual({
      stats: { residentBytes: 90 * KiB, spilled: 0, spilledBytes: 0, writingBytes: 120 * KiB },
      held: [1, 2, 3, 4].map((fill, i) => ({ body: [fill], payloads: [[i === 3 ? 90 * KiB : 40 * KiB, fill, fill]], spilled: false })),
    });
    await spill.settled();
    expect(values.map((value) => value.spilled !== undefined)).toEqual([true, true, true, false]);
    expect(spill.stats).toEqual({ residentBytes: 90 * KiB, spilled: 3, spilledBytes: 120 * KiB, writingBytes: 0 });
    // A spilled value keeps its body and leaves its payloads in files.
    expect(values[0]!.result).toEqual([Uint8Array.of(1), []]);
    expect(values[0]!.spilled!.sizes).toEqual([40 * KiB]);
    expect(values[0]!.spilled!.files.every((file) => existsSync(file))).toBe(true);
  });

  test("a value larger than the budget alone stays in memory", () => {
    const spill = store(10 * KiB);
    const big = record(1, 50 * KiB);
    spill.add(1, big);
    expect({ spilled: big.spilled, stats: spill.stats }).toEqual({ spilled: undefined, stats: { residentBytes: 50 * KiB, spilled: 0, spilledBytes: 0, writingBytes: 0 } });
  });

  test("touching a spilled value reads its payloads back intact (into shared memory), off the event loop, deletes its files, and may spill others; readers at once share one read", async () => {
    const spill = store(100 * KiB);
    const first = record(10, 30 * KiB, 20 * KiB);
    const second = record(20, 60 * KiB);
    spill.add(1, first);
    spill.add(2, second);
    await spill.settled();
    expect(first.spilled).toBeDefined();
    const files = first.spilled!.files;
    const reading = spill.touch(1, first);
    expect({ reading: reading instanceof Promise, same: spill.touch(1, first) === reading, stillOnDisk: first.spilled !== undefined }).toEqual({ reading: true, same: true, stillOnDisk: true });
    await reading;
    expect(contents(first)).toEqual({ body: [10], payloads: [[30 * KiB, 10, 10], [20 * KiB, 11, 11]], spilled: false });
    expect(first.result![1].every((payload) => payload.buffer instanceof SharedArrayBuffer)).toBe(true);
    expect(files.map((file) => existsSync(file))).toEqual([false, false]);
    // Back in memory it is the most recent: the other one made room for it.
    await spill.settled();
    expect(second.spilled).toBeDefined();
    expect(spill.stats).toEqual({ residentBytes: 50 * KiB, spilled: 1, spilledBytes: 60 * KiB, writingBytes: 0 });
    expect(spill.touch(1, first)).toBeUndefined();
  });

  test("touching a value in memory makes it the most recently used: the next spill takes another", async () => {
    const spill = store(100 * KiB);
    const [a, b, c] = [record(1, 40 * KiB), record(2, 40 * KiB), record(3, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b);
    spill.touch(1, a);
    spill.add(3, c);
    await spill.settled();
    expect([a, b, c].map((value) => value.spilled !== undefined)).toEqual([false, true, false]);
  });

  test("a value read while its files are written stays in memory, the files go once written, and the store keeps to its budget: the coldest other values go to disk", async () => {
    const spill = store(50 * KiB);
    const [a, b] = [record(1, 40 * KiB), record(2, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b);
    expect(spill.stats.writingBytes).toBe(40 * KiB);
    expect(spill.touch(1, a)).toBeUndefined();
    await spill.settled();
    const bFiles = b.spilled?.files.map((file) => basename(file)) ?? [];
    expect({ a: contents(a), b: bFiles, stats: spill.stats, files: readdirSync(spillDirectoryOf(spill)) }).toEqual({
      a: { body: [1], payloads: [[40 * KiB, 1, 1]], spilled: false },
      b: [expect.stringMatching(/^2-/)],
      stats: { residentBytes: 40 * KiB, spilled: 1, spilledBytes: 40 * KiB, writingBytes: 0 },
      files: bFiles,
    });
    await spill.touch(2, b);
    expect(contents(b)).toEqual({ body: [2], payloads: [[40 * KiB, 2, 2]], spilled: false });
  });

  test("a value read while it is written, then pushed out again, is written anew: the first write's cleanup leaves the second's files, and it reads back intact", async () => {
    const spill = store(50 * KiB);
    const [a, b, c] = [record(1, 40 * KiB), record(2, 40 * KiB), record(3, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b); // a is being written
    spill.touch(1, a); // read meanwhile: it stays, that write is cancelled
    spill.add(3, c); // b, then a (the least recent now) go out again
    await spill.settled();
    expect(a.spilled!.files.every((file) => existsSync(file))).toBe(true);
    await spill.touch(1, a);
    expect(contents(a)).toEqual({ body: [1], payloads: [[40 * KiB, 1, 1]], spilled: false });
  });

  test("remove forgets a value in memory, deletes the files of a spilled one, and of one being written once they are", async () => {
    const spill = store(50 * KiB);
    const [a, b, c] = [record(1, 40 * KiB), record(2, 40 * KiB), record(3, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b);
    await spill.settled();
    const files = a.spilled!.files;
    spill.remove(1, a);
    expect({ files: files.map((file) => existsSync(file)), spilled: a.spilled, stats: spill.stats }).toEqual({
      files: [false],
      spilled: undefined,
      stats: { residentBytes: 40 * KiB, spilled: 0, spilledBytes: 0, writingBytes: 0 },
    });
    // c pushes b out; b is dropped while its file is written.
    spill.add(3, c);
    spill.remove(2, b);
    await spill.settled();
    expect({ stats: spill.stats, files: readdirSync(spillDirectoryOf(spill)) }).toEqual({ stats: { residentBytes: 40 * KiB, spilled: 0, spilledBytes: 0, writingBytes: 0 }, files: [] });
    spill.remove(3, c);
    expect(spill.stats).toEqual({ residentBytes: 0, spilled: 0, spilledBytes: 0, writingBytes: 0 });
  });

  test("a value dropped while it is read back fails its readers with an error naming it, and is not counted again", async () => {
    const spill = store(50 * KiB);
    const [a, b] = [record(1, 40 * KiB), record(2, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b);
    await spill.settled();
    const reading = spill.touch(1, a)!;
    spill.remove(1, a);
    expect(await reading.then(() => "read", (error: Error) => error.message)).toBe("stored value #1 was dropped while it was read back from disk");
    await spill.settled();
    expect(spill.stats).toEqual({ residentBytes: 40 * KiB, spilled: 0, spilledBytes: 0, writingBytes: 0 });
  });

  test("a value that cannot be written stays in memory, over budget, and the store says why", async () => {
    const logged: string[] = [];
    const name = `worker:test:${process.pid}-${names++}`;
    const spill = new SpillStore(50 * KiB, name, undefined, (message) => logged.push(message));
    stores.push(spill);
    // Where value 1's file would go (its first spill, its first payload), a folder: its write fails.
    mkdirSync(join(spillDirectory(name, process.pid), "1-1-0"), { recursive: true });
    const [a, b] = [record(1, 40 * KiB), record(2, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b);
    await spill.settled();
    expect({ a: contents(a), stats: spill.stats }).toEqual({ a: { body: [1], payloads: [[40 * KiB, 1, 1]], spilled: false }, stats: { residentBytes: 80 * KiB, spilled: 0, spilledBytes: 0, writingBytes: 0 } });
    expect(logged).toEqual([expect.stringMatching(/^could not spill a stored value of 40960 bytes to .*1-1-0: .*; it stays in memory$/)]);
  });

  test("close deletes the store's folder with every file still in it, and writes under way leave nothing behind", async () => {
    const spill = store(10 * KiB);
    const spilled = record(1, 20 * KiB, 20 * KiB);
    spill.add(1, spilled);
    spill.add(2, record(2, 20 * KiB));
    await spill.settled();
    const directory = dirname(spilled.spilled!.files[0]!);
    expect(readdirSync(directory).sort()).toEqual(spilled.spilled!.files.map((file) => basename(file)).sort());
    // Value 2 is being written when the store closes.
    spill.add(3, record(3, 20 * KiB));
    expect(spill.stats.writingBytes).toBe(20 * KiB);
    spill.close();
    expect(existsSync(directory)).toBe(false);
    await spill.settled();
    expect(existsSync(directory)).toBe(false);
  });
});
