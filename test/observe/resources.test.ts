/**
 * Resource samples of an idle runtime: a tick that finds it as idle as its
 * last sample said sends nothing (every QUIET_EVERY-th sample still goes), so
 * an idle tree does not wake the head every second.
 */
import { describe, expect, test } from "bun:test";
import { QUIET_EVERY, type ResourceProbe, type RuntimeResources, sampleResources, startSampling, stillQuiet } from "../../src/observe/resources.ts";

function probe(load = { running: [] as [number, number][], queued: 0 }, shared = 0): ResourceProbe {
  return { runtime: "worker:0:0", role: "worker", cpu: () => 0, memoryLimit: 2 ** 30, sharedMemory: () => shared, load: () => load };
}

describe("quiet samples", () => {
  test("a runtime is still quiet only while no call runs or waits, its CPU was low and its memory has not moved", () => {
    const [last] = sampleResources(probe());
    const with_ = (change: Partial<RuntimeResources>) => ({ ...last, ...change });
    expect({
      idle: stillQuiet(probe(), last),
      callRunningNow: stillQuiet(probe({ running: [[1, 0]], queued: 0 }), last),
      callQueuedNow: stillQuiet(probe({ running: [], queued: 2 }), last),
      ranBefore: stillQuiet(probe(), with_({ tasksRunning: 1 })),
      busyCpuBefore: stillQuiet(probe(), with_({ cpu: 40 })),
      sharedMemoryMoved: stillQuiet(probe(undefined, 2 ** 20), last),
      rssMoved: stillQuiet(probe(), with_({ rss: last.rss * 2 })),
    }).toEqual({ idle: true, callRunningNow: false, callQueuedNow: false, ranBefore: false, busyCpuBefore: false, sharedMemoryMoved: false, rssMoved: false });
  });

  test(`an idle runtime sends its first sample, then one every ${QUIET_EVERY} intervals; a busy one every interval`, async () => {
    const count = async (one: ResourceProbe, ticks: number) => {
      const sent: number[] = [];
      let tick = 0;
      const { promise, resolve } = Promise.withResolvers<void>();
      // Interval 1 ms; the ticks are counted by a probe read each tick (sharedMemory is read on every tick, quiet or not).
      const counting: ResourceProbe = { ...one, sharedMemory: () => (++tick === ticks && resolve(), one.sharedMemory()) };
      const stop = startSampling(1, counting, () => sent.push(tick));
      await promise;
      stop();
      return sent;
    };
    expect(await count(probe(), 2 * QUIET_EVERY + 1)).toEqual([1, QUIET_EVERY + 1, 2 * QUIET_EVERY + 1]);
    expect(await count(probe({ running: [[1, 0]], queued: 0 }), 5)).toEqual([1, 2, 3, 4, 5]);
  });
});
