import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describeScenarios("the warehouse", () => ScenarioRun.start(["warehouse", "publish", "collected", "dropFreesMemory", "putSnapshot", "countedOnce"], "data-fixture.ts"), (run) => {
  test("put() stores the value as it was at the call: arrays changed right after it (before a worker was picked) are stored unchanged", async () => {
    expect(await run.value("putSnapshot")).toEqual([true, true]);
  });

  test("put stores an object on one worker; a tessera elsewhere reads it through its reference and caches it; get returns it; drop frees it everywhere", async () => {
    const { holder, before, afterPut, seen, seenAgain, afterRead, got, afterDrop, getAfterDrop, inspect } = await run.value("warehouse");
    expect(["worker:0:0", "worker:0:1"]).toContain(holder);
    expect(sum(afterPut) - sum(before)).toBe(1);
    expect(afterPut[holder]).toBe(before[holder] + 1);
    expect(seen).toEqual({ field: ["Float32Array", 50_000, ["3", "3", "3"], "3", true], label: "model" });
    expect(seenAgain).toEqual(seen);
    expect(got).toEqual(seen);
    // The reader's worker keeps a copy once it has read it (unless it is the holder).
    expect(afterRead["worker:0:1"]).toBe(1);
    // Dropped on the holder and in the reader's cache.
    expect(afterDrop).toEqual(before);
    expect(getAfterDrop).toMatchObject({ message: expect.stringContaining("was dropped") });
    expect(inspect).toContain("<ObjectRef uid=obj-");
  });

  test("publish sends the object to every worker, each reads its own copy, and drop frees them all", async () => {
    const { before, afterPut, seen, afterDrop, published } = await run.value("publish");
    expect(published).toBe(true);
    for (const worker of Object.keys(before)) expect(afterPut[worker]).toBe(before[worker] + 1);
    expect(seen).toEqual([
      ["Float64Array", 10_000, ["1.25", "1.25", "1.25"], "1.25", true],
      ["Float64Array", 10_000, ["1.25", "1.25", "1.25"], "1.25", true],
    ]);
    expect(afterDrop).toEqual(before);
  });

  test("a reference the program drops is freed on its worker once garbage collected", async () => {
    const { before, held, after } = await run.value("collected");
    expect(sum(held)).toBe(sum(before) + 1);
    expect(sum(after)).toBe(sum(before));
  });

  test("dropping a 256 MiB object gives its memory back (the worker's RSS and /dev/shm)", async () => {
    const { before, held, after } = await run.value("dropFreesMemory");
    const MiB = 2 ** 20;
    const report = { before: Math.round(before / MiB), held: Math.round(held / MiB), after: Math.round(after / MiB) };
    expect({ ...report, grew: held - before > 200 * MiB, shrank: after - before < 64 * MiB }).toEqual({ ...report, grew: true, shrank: true });
  });

  test("an object another worker's tessera reads and keeps counts once in that worker's budget: its main thread's mapping and its thread's are the same pages", async () => {
    const { kept } = await run.value("countedOnce");
    expect(kept).toBe(32 * 2 ** 20);
  });
});

describeScenarios("the warehouse when a reader dies", () => ScenarioRun.start(["readerDies"], "data-fixture.ts"), (run) => {
  test("an object passed on to a worker that is then killed goes back to the head's pool once dropped", async () => {
    expect(await run.value("readerDies")).toEqual({ lentWhileKept: 1, lentAfter: 0 });
  });
});

describeScenarios("the warehouse when an object's file is removed under a reader", () => ScenarioRun.start(["leasedMappingFails"], "data-fixture.ts"), (run) => {
  test("a read whose thread cannot map the object fails with a RemoteError naming the missing file (ENOENT), the tessera serves the next call, and the object's segment comes back to the head once dropped, not when the thread ends", async () => {
    const { first, removed, second, next, lentAfter } = await run.value("leasedMappingFails");
    expect({ first, removed, next, lentAfter }).toEqual({ first: (8 * 2 ** 20) / 4096, removed: 1, next: 2, lentAfter: 0 });
    expect(second).toMatchObject({ class: "RemoteError", remoteCode: "ENOENT", runtime: "worker:0:1", method: "sum", message: expect.stringMatching(/no such file.*\/dev\/shm\/mosaic-.*-pool-/) });
  });
});
