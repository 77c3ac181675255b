import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const MiB = 2 ** 20;

describeScenarios("spilling to disk", () => ScenarioRun.start(["spill"], "data-fixture.ts"), (run) => {
  test("past its budget a worker moves the coldest stored values to disk and reads them back on demand, intact", async () => {
    const { during, afterPuts, values, afterGets, remoteSums, sums, afterDrops } = await run.value("spill");
    // Three 96 MiB objects against a 200 MiB store budget: the oldest goes to disk, its file written off the worker's
    // event loop (spill-store.test shows the order): right after the put, it is being written or written.
    expect(during).toMatchObject({ objects: 3, residentBytes: 192 * MiB });
    expect(during.writingBytes + during.spilledBytes).toBe(96 * MiB);
    // A status with `collect` comes once it is written.
    expect(afterPuts).toMatchObject({ objects: 3, spilled: 1, spilledBytes: 96 * MiB, writingBytes: 0, residentBytes: 192 * MiB });
    const n = 24 * MiB;
    expect(values).toEqual([[n, 1, 1], [n, 2, 2], [n, 3, 3]]);
    expect(afterGets.residentBytes).toBeLessThanOrEqual(200 * MiB);
    expect(afterGets.spilled + afterGets.residentBytes / (96 * MiB)).toBe(3);
    expect(sums).toEqual([1, 2, 3].map((k) => (k * n) / 4096));
    // Read from another worker while at least one of them was on disk (afterGets): intact too.
    expect(afterGets.spilled).toBeGreaterThanOrEqual(1);
    expect(remoteSums).toEqual([1, 2, 3].map((k) => (k * n) / 4096));
    expect(afterDrops).toMatchObject({ objects: 0, spilled: 0, spilledBytes: 0, residentBytes: 0 });
  });
});
