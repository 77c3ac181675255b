import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import {
  clusterId,
  finishReceive,
  forgetSegments,
  lendCopy,
  lendSegment,
  mapSegment,
  receiveTarget,
  removeSegments,
  returnSegment,
  scratchCopy,
  sharedMemoryStats,
  trimSegments,
  writeSegment,
} from "../../../src/comms/shared-memory/index.ts";

const MiB = 2 ** 20;
const ours = () => readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${clusterId()}-${process.pid}-`));

/** The counters as deltas from `from`. */
function since(from: typeof sharedMemoryStats) {
  const now = { ...sharedMemoryStats };
  return {
    lent: now.lent - from.lent,
    ownedSharedBytes: now.ownedSharedBytes - from.ownedSharedBytes,
    lentAwayBytes: now.lentAwayBytes - from.lentAwayBytes,
    written: now.written - from.written,
    writtenBytes: now.writtenBytes - from.writtenBytes,
  };
}

/** Finalization callbacks run after a collection, at a later turn of the event loop: collect until `done` holds. */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !done(); i++) {
    Bun.gc(true);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const payload = (size: number, value: number) => new Uint8Array(size).fill(value);

beforeAll(async () => {
  // Earlier files in this process may have left free segments or mappings waiting for a collection.
  trimSegments(0);
  for (let i = 0; i < 5; i++) {
    Bun.gc(true);
    await new Promise((resolve) => setImmediate(resolve));
  }
});

afterAll(() => {
  removeSegments();
  expect(ours()).toEqual([]);
});

describe.skipIf(!existsSync("/dev/shm"))("the shared-memory pool", () => {
  test("a payload lent to a peer counts as lent away until handed back, then as this process's free memory, and its segment is reused", () => {
    const start = { ...sharedMemoryStats };
    const peer = {};
    const lent = lendSegment(payload(1.5 * MiB, 7), peer)!;
    expect(readFileSync(lent.path).subarray(0, 1.5 * MiB)).toEqual(Buffer.from(payload(1.5 * MiB, 7)));
    // 1.5 MiB takes a 2 MiB segment (the next power of two), held by the peer.
    expect(since(start)).toEqual({ lent: 1, ownedSharedBytes: 0, lentAwayBytes: 2 * MiB, written: 1, writtenBytes: 1.5 * MiB });

    returnSegment(lent.path, {}); // not the borrower: nothing changes
    returnSegment(lent.path, peer, lent.lending + 1); // a later lending's hand-back: nothing changes
    expect(since(start).lent).toBe(1);
    returnSegment(lent.path, peer, lent.lending);
    expect(since(start)).toEqual({ lent: 0, ownedSharedBytes: 2 * MiB, lentAwayBytes: 0, written: 1, writtenBytes: 1.5 * MiB });

    const again = lendSegment(payload(1.25 * MiB, 8), peer)!;
    expect(again.path).toBe(lent.path);
    expect(again.lending).toBe(lent.lending + 1);
    expect(since(start)).toEqual({ lent: 1, ownedSharedBytes: 0, lentAwayBytes: 2 * MiB, written: 2, writtenBytes: 2.75 * MiB });
    returnSegment(again.path, peer);

    // Lent to another thread of this process, it stays this process's memory.
    const thread = {};
    const inProcess = lendSegment(payload(2 * MiB, 9), thread, false)!;
    expect(inProcess.path).toBe(lent.path);
    expect(since(start)).toEqual({ lent: 1, ownedSharedBytes: 2 * MiB, lentAwayBytes: 0, written: 3, writtenBytes: 4.75 * MiB });
    returnSegment(inProcess.path, thread);

    // Free, it is kept while recently used and removed once idle.
    expect(trimSegments(60_000)).toBe(0);
    expect(existsSync(lent.path)).toBe(true);
    expect(trimSegments(0)).toBe(2 * MiB);
    expect(existsSync(lent.path)).toBe(false);
    expect(since(start)).toEqual({ lent: 0, ownedSharedBytes: 0, lentAwayBytes: 0, written: 3, writtenBytes: 4.75 * MiB });
  });

  test("the same bytes lent again from the same memory share the segment they were copied into: free once every lending is back; changed bytes, or a segment taken since, get a copy", async () => {
    const start = { ...sharedMemoryStats };
    const main = {};
    const kept = payload(3 * MiB, 1);
    const first = lendCopy(kept, main)!;
    expect(since(start)).toMatchObject({ lent: 1, written: 1, writtenBytes: 3 * MiB });
    // Unchanged while the first is still held: the same segment, no copy, a lending of its own.
    const second = lendCopy(kept, main)!;
    expect(second.path).toBe(first.path);
    expect(second.lending).toBe(first.lending + 1);
    expect(since(start)).toMatchObject({ lent: 1, written: 1, writtenBytes: 3 * MiB });
    // Each lending is handed back on its own: a late one of an earlier lending counts once.
    returnSegment(first.path, main, first.lending);
    returnSegment(first.path, main, first.lending);
    expect(since(start).lent).toBe(1);
    returnSegment(second.path, main, second.lending);
    expect(since(start)).toMatchObject({ lent: 0, ownedSharedBytes: 4 * MiB });
    // Free and still holding those bytes: lent again without a copy.
    const third = lendCopy(kept, main)!;
    expect([third.path, third.lending, since(start).written]).toEqual([first.path, second.lending + 1, 1]);
    returnSegment(third.path, main, second.lending); // a late hand-back of an earlier lending: nothing changes
    expect(since(start).lent).toBe(1);
    // Changed since: copied, into another segment (that one is lent).
    kept[3 * MiB - 1] = 2;
    const changed = lendCopy(kept, main)!;
    expect(changed.path).not.toBe(first.path);
    expect(readFileSync(changed.path)[3 * MiB - 1]).toBe(2);
    expect(since(start)).toMatchObject({ lent: 2, written: 2, writtenBytes: 6 * MiB });
    // Another view of the same memory (another length) is not those bytes.
    const shorter = lendCopy(kept.subarray(0, 2 * MiB), main)!;
    expect([shorter.path === first.path, shorter.path === changed.path, since(start).written]).toEqual([false, false, 3]);
    for (const lent of [third, changed, shorter]) returnSegment(lent.path, main, lent.lending);
    // A segment taken for anything else since holds other bytes: the unchanged memory is copied again.
    const peer = {};
    const other = lendSegment(payload(2 * MiB, 9), peer)!;
    const afterOther = lendCopy(kept.subarray(0, 2 * MiB), main)!;
    expect(other.path).toBe(shorter.path);
    expect(afterOther.path).not.toBe(shorter.path);
    expect(since(start).written).toBe(5);
    // A link hands back by path alone: a segment lent to it twice is free after two hand-backs.
    returnSegment(afterOther.path, main, afterOther.lending);
    returnSegment(other.path, peer);
    const link = {};
    const sent = new Uint8Array(new ArrayBuffer(MiB)).fill(4);
    const once = lendCopy(sent, link, true)!;
    const capacity = since(start).lentAwayBytes; // a free segment of up to twice its size may take it
    expect(capacity).toBeGreaterThanOrEqual(MiB);
    const twice = lendCopy(sent, link, true)!;
    expect(twice.path).toBe(once.path);
    expect(since(start)).toMatchObject({ lent: 1, lentAwayBytes: capacity, written: 6 });
    returnSegment(once.path, link);
    expect(since(start)).toMatchObject({ lent: 1, lentAwayBytes: capacity });
    returnSegment(once.path, link);
    expect(since(start)).toMatchObject({ lent: 0, lentAwayBytes: 0 });
    trimSegments(0);
    expect(since(start)).toMatchObject({ lent: 0, ownedSharedBytes: 0 });
    // Removed from the pool, a segment is unmapped once collected, though the memory it was copied from lives on.
    const mapped = () => readFileSync("/proc/self/maps", "utf8").includes(first.path);
    await collectUntil(() => !mapped());
    expect([mapped(), kept[0]]).toEqual([false, 1]);
  });

  test("a borrower whose connection closed loses its segments: they leave the pool and their files go", () => {
    const start = { ...sharedMemoryStats };
    const closed = {};
    const other = {};
    const first = lendSegment(payload(3 * MiB, 1), closed)!;
    const second = lendSegment(payload(MiB, 2), closed, false)!;
    const kept = lendSegment(payload(MiB, 3), other)!;
    expect(since(start)).toMatchObject({ lent: 3, ownedSharedBytes: MiB, lentAwayBytes: 4 * MiB + MiB });
    forgetSegments(closed);
    expect([existsSync(first.path), existsSync(second.path), existsSync(kept.path)]).toEqual([false, false, true]);
    expect(since(start)).toMatchObject({ lent: 1, ownedSharedBytes: 0, lentAwayBytes: MiB });
    returnSegment(kept.path, other);
    trimSegments(0);
    expect(since(start)).toMatchObject({ lent: 0, ownedSharedBytes: 0, lentAwayBytes: 0 });
  });

  test("a receive target and a scratch copy are this process's memory while in use, and go back to the pool after", async () => {
    const start = { ...sharedMemoryStats };
    const scratch = scratchCopy(payload(MiB, 4))!;
    expect(scratch.copy).toEqual(payload(MiB, 4));
    expect(since(start)).toMatchObject({ lent: 1, ownedSharedBytes: MiB, lentAwayBytes: 0 });
    scratch.release();
    expect(since(start)).toMatchObject({ lent: 0, ownedSharedBytes: MiB });

    let target: Uint8Array | undefined = receiveTarget(3 * MiB)!;
    expect(target.byteLength).toBe(3 * MiB);
    target.fill(5); // as a socket reader copies a payload into it
    expect(since(start)).toMatchObject({ lent: 1, ownedSharedBytes: MiB + 3 * MiB });
    let received: Uint8Array | undefined = finishReceive(target);
    target = undefined;
    expect(received.byteLength).toBe(3 * MiB);
    expect(received[0]! + received[3 * MiB - 1]!).toBe(10);
    received = undefined;
    await collectUntil(() => since(start).lent === 0);
    expect(since(start)).toMatchObject({ lent: 0, ownedSharedBytes: 4 * MiB });
    trimSegments(0);
    expect(since(start)).toMatchObject({ lent: 0, ownedSharedBytes: 0 });
  });

  test("a one-shot segment is removed on arrival and its mapping counts as held until collected", async () => {
    const start = { ...sharedMemoryStats };
    const path = writeSegment(payload(2 * MiB, 6));
    expect(since(start)).toMatchObject({ written: 1, writtenBytes: 2 * MiB, ownedSharedBytes: 0 });
    let mapped: Uint8Array | undefined = mapSegment(path, 2 * MiB);
    expect(existsSync(path)).toBe(false);
    expect(mapped[2 * MiB - 1]).toBe(6);
    expect(since(start).ownedSharedBytes).toBe(2 * MiB);
    mapped = undefined;
    await collectUntil(() => since(start).ownedSharedBytes === 0);
    expect(since(start).ownedSharedBytes).toBe(0);
  });

  test("removeSegments leaves no file of this process in /dev/shm and nothing counted", () => {
    const start = { ...sharedMemoryStats };
    writeSegment(payload(MiB, 1));
    lendSegment(payload(MiB, 2), {});
    const free = lendSegment(payload(MiB, 3), {}, false)!;
    returnSegment(free.path, {}); // not its borrower: stays lent
    expect(ours().length).toBeGreaterThanOrEqual(3);
    removeSegments();
    expect(ours()).toEqual([]);
    expect(since(start)).toMatchObject({ lent: 0, ownedSharedBytes: 0, lentAwayBytes: 0 });
  });
});
