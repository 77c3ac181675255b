import { describe, expect, test } from "bun:test";
import { Batcher, KeyedBatcher } from "../../src/_util/tick-batcher.ts";

describe("tick batcher", () => {
  test("items added in one tick are delivered together at its end, in order", async () => {
    const delivered: number[][] = [];
    const batcher = new Batcher<number>((items) => delivered.push(items));
    batcher.add(1);
    batcher.add(2);
    expect(delivered).toEqual([]);
    await Promise.resolve();
    batcher.add(3);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(delivered).toEqual([[1, 2], [3]]);
  });

  test("a burst past the limit leaves in slices without waiting for the tick", () => {
    const delivered: number[][] = [];
    const batcher = new Batcher<number>((items) => delivered.push(items), { limit: 3 });
    for (let i = 0; i < 7; i++) batcher.add(i);
    expect(delivered).toEqual([[0, 1, 2], [3, 4, 5]]);
    batcher.flush();
    expect(delivered).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  test("a macrotask batcher waits for microtasks queued after it", async () => {
    const order: string[] = [];
    const batcher = new Batcher<string>((items) => order.push(`batch ${items.join(",")}`), { macrotask: true });
    batcher.add("a");
    queueMicrotask(() => order.push("microtask"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(order).toEqual(["microtask", "batch a"]);
  });

  test("a keyed batcher delivers one batch per destination per tick", async () => {
    const delivered: [string, number[]][] = [];
    const batcher = new KeyedBatcher<string, number>((key, items) => delivered.push([key, items]));
    batcher.add("w1", 1);
    batcher.add("w2", 2);
    batcher.add("w1", 3);
    await Promise.resolve();
    expect(delivered).toEqual([["w1", [1, 3]], ["w2", [2]]]);
    batcher.add("w2", 4);
    await Promise.resolve();
    expect(delivered).toEqual([["w1", [1, 3]], ["w2", [2]], ["w2", [4]]]);
  });

  test("a keyed batcher hands over one destination's batch at its limit, the others at the end of the tick", async () => {
    const delivered: [string, number[]][] = [];
    const batcher = new KeyedBatcher<string, number>((key, items) => delivered.push([key, items]), { limit: 2 });
    batcher.add("w1", 1);
    batcher.add("w2", 2);
    batcher.add("w1", 3);
    expect(delivered).toEqual([["w1", [1, 3]]]);
    batcher.add("w1", 5);
    await Promise.resolve();
    expect(delivered).toEqual([["w1", [1, 3]], ["w2", [2]], ["w1", [5]]]);
  });
});
