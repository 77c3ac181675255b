import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios("memory budget", () => ScenarioRun.start(["outOfMemory"], "data-fixture.ts"), (run) => {
  test("a put or a call argument that does not fit a worker's budget fails with OutOfMemoryError, and the worker keeps serving", async () => {
    const { put, call, small, limit } = await run.value("outOfMemory");
    expect(limit).toBe(160 * 2 ** 20);
    expect(put).toMatchObject({ class: "OutOfMemoryError", code: "OUT_OF_MEMORY", message: expect.stringContaining('cannot take 256.0 MiB more for "put"') });
    expect(call).toMatchObject({ class: "OutOfMemoryError", message: expect.stringContaining('for "call"') });
    expect(small).toBe(256);
  });

  test("a refused argument's segment, mapped ahead by the tessera thread while the head copied it, is let go of with the refusal", async () => {
    // Kept, it would pin the head's 256 MiB (even once the head removed the file) for seconds, counted by nobody.
    const { headSegmentsMapped } = await run.value("outOfMemory");
    expect(headSegmentsMapped).toEqual([]);
  });

  test("a call refused for its size while its tessera waits to be created leaves the calls after it running", async () => {
    const { refused, after } = await run.value("outOfMemory");
    expect(refused).toMatchObject({ class: "OutOfMemoryError", message: expect.stringContaining('for "call"') });
    expect(after).toBe(5);
  });
});

describeScenarios("memory budget and objects put on workers", () => ScenarioRun.start(["headBudget"], "data-fixture.ts"), (run) => {
  test("objects put on workers count against the workers' budgets, not the head's, although they stay in the head's segments", async () => {
    const { lent, rss, back, limit } = await run.value("headBudget");
    const MiB = 2 ** 20;
    expect(limit).toBe(600 * MiB);
    // The four 128 MiB objects live in segments of the head's pool, lent to the workers, written through their
    // files and not mapped in the head (its RSS stays under its budget: 512 MiB more before, past it)...
    expect({ lentMiB: Math.round(lent / MiB), overBudget: rss > limit }).toEqual({ lentMiB: 512, overBudget: false });
    // ...and the head still takes 128 MiB more: they are not its data.
    expect(back).toEqual([32 * MiB, 2, 2]);
  });

  test("an object kept on a worker pins a segment of its own size, not the next power of two", async () => {
    const { oddLent } = await run.value("headBudget");
    expect(oddLent).toBe(20 * 2 ** 20);
  });

  test("free segments count against their process's budget, and are given up first when memory runs short", async () => {
    const { ownedWhenFree, backAgain, ownedAfter, limit } = await run.value("headBudget");
    const MiB = 2 ** 20;
    // Five segments back in the head's pool (4 x 128 + 20 MiB), free: the head's own memory now...
    expect(ownedWhenFree).toBeGreaterThanOrEqual(532 * MiB);
    // ...which, with its heap, leaves no room for 128 MiB more: a get succeeds once the free ones are given up.
    expect(backAgain).toEqual([32 * MiB, 4, 4]);
    expect(ownedAfter).toBeLessThan(ownedWhenFree - 256 * MiB);
    expect(limit).toBe(600 * MiB);
  });
});

describeScenarios("shared memory a worker counts as its own", () => ScenarioRun.start(["sharedAccounting"], "data-fixture.ts"), (run) => {
  test("a mapped argument and a staged result count once each, and stop counting when their thread dies or they are released", async () => {
    // 16 MiB mapped by the thread + 32 MiB staged in its segment (and mapped by the main thread: not twice).
    expect(await run.value("sharedAccounting")).toEqual({ kept: 48 * 2 ** 20 });
  });
});
