/**
 * The spill store in-process: a byte budget over stored values, the coldest
 * values' payloads moved to files past it and read back when touched.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { type Spillable, SpillStore } from "../../src/warehouse/spill-store.ts";

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
function store(budget: number): SpillStore {
  const created = new SpillStore(budget, `worker:test:${process.pid}-${names++}`);
  stores.push(created);
  return created;
}

afterEach(() => {
  for (const created of stores.splice(0)) created.close();
});

describe("SpillStore", () => {
  test("within its budget nothing is spilled; values without payloads are not counted", () => {
    const spill = store(100 * KiB);
    spill.add(1, record(1, 40 * KiB));
    spill.add(2, record(2, 30 * KiB, 30 * KiB));
    spill.add(3, { result: [Uint8Array.of(3), []] });
    expect(spill.stats).toEqual({ residentBytes: 100 * KiB, spilled: 0, spilledBytes: 0 });
  });

  test("past its budget the least recently used values go to disk, oldest first, until it fits; the value just added stays", () => {
    const spill = store(100 * KiB);
    const values = [record(1, 40 * KiB), record(2, 40 * KiB), record(3, 40 * KiB), record(4, 90 * KiB)];
    values.forEach((value, i) => spill.add(i + 1, value));
    // 3 → 120 KiB: 1 spilled; 4 → 170 KiB: 2 and 3 spilled (90 KiB left, the new one).
    expect(values.map((value) => value.spilled !== undefined)).toEqual([true, true, true, false]);
    expect(spill.stats).toEqual({ residentBytes: 90 * KiB, spilled: 3, spilledBytes: 120 * KiB });
    // A spilled value keeps its body and leaves its payloads in files.
    expect(values[0]!.result).toEqual([Uint8Array.of(1), []]);
    expect(values[0]!.spilled!.sizes).toEqual([40 * KiB]);
    expect(values[0]!.spilled!.files.every((file) => existsSync(file))).toBe(true);
  });

  test("a value larger than the budget alone stays in memory", () => {
    const spill = store(10 * KiB);
    const big = record(1, 50 * KiB);
    spill.add(1, big);
    expect({ spilled: big.spilled, stats: spill.stats }).toEqual({ spilled: undefined, stats: { residentBytes: 50 * KiB, spilled: 0, spilledBytes: 0 } });
  });

  test("touching a spilled value reads its payloads back intact (into shared memory), deletes its files, and may spill others", () => {
    const spill = store(100 * KiB);
    const first = record(10, 30 * KiB, 20 * KiB);
    const second = record(20, 60 * KiB);
    spill.add(1, first);
    spill.add(2, second);
    expect(first.spilled).toBeDefined();
    const files = first.spilled!.files;
    spill.touch(1, first);
    expect(contents(first)).toEqual({ body: [10], payloads: [[30 * KiB, 10, 10], [20 * KiB, 11, 11]], spilled: false });
    expect(first.result![1].every((payload) => payload.buffer instanceof SharedArrayBuffer)).toBe(true);
    expect(files.map((file) => existsSync(file))).toEqual([false, false]);
    // Back in memory it is the most recent: the other one made room for it.
    expect(second.spilled).toBeDefined();
    expect(spill.stats).toEqual({ residentBytes: 50 * KiB, spilled: 1, spilledBytes: 60 * KiB });
  });

  test("touching a value in memory makes it the most recently used: the next spill takes another", () => {
    const spill = store(100 * KiB);
    const [a, b, c] = [record(1, 40 * KiB), record(2, 40 * KiB), record(3, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b);
    spill.touch(1, a);
    spill.add(3, c);
    expect([a, b, c].map((value) => value.spilled !== undefined)).toEqual([false, true, false]);
  });

  test("remove forgets a value in memory, and deletes the files of a spilled one", () => {
    const spill = store(50 * KiB);
    const [a, b] = [record(1, 40 * KiB), record(2, 40 * KiB)];
    spill.add(1, a);
    spill.add(2, b);
    const files = a.spilled!.files;
    spill.remove(1, a);
    expect({ files: files.map((file) => existsSync(file)), spilled: a.spilled, stats: spill.stats }).toEqual({
      files: [false],
      spilled: undefined,
      stats: { residentBytes: 40 * KiB, spilled: 0, spilledBytes: 0 },
    });
    spill.remove(2, b);
    expect(spill.stats).toEqual({ residentBytes: 0, spilled: 0, spilledBytes: 0 });
  });

  test("close deletes the store's folder with every file still in it", () => {
    const spill = store(10 * KiB);
    const spilled = record(1, 20 * KiB, 20 * KiB);
    spill.add(1, spilled);
    spill.add(2, record(2, 20 * KiB));
    const directory = dirname(spilled.spilled!.files[0]!);
    expect(readdirSync(directory).sort()).toEqual(spilled.spilled!.files.map((file) => basename(file)).sort());
    spill.close();
    expect(existsSync(directory)).toBe(false);
  });
});
