import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const MiB = 2 ** 20;

describeScenarios("spilling to disk", () => ScenarioRun.start(["spill"], "data-fixture.ts"), (run) => {
  test("past its budget a worker moves the coldest stored values to disk and reads them back on demand, intact", async () => {
    const { during, afterPuts, values, afterGets, sums, afterDrops } = await run.value("spill");
    // Three 96 MiB objects against a 200 MiB store budget: the oldest goes to disk. Its file is written off the
    // worker's event loop: right after the put, the worker answered while it was still being written.
    expect(during).toMatchObject({ objects: 3, spilled: 0, writingBytes: 96 * MiB, residentBytes: 192 * MiB });
    // A status with `collect` comes once it is written.
    expect(afterPuts).toMatchObject({ objects: 3, spilled: 1, spilledBytes: 96 * MiB, writingBytes: 0, residentBytes: 192 * MiB });
    const n = 24 * MiB;
    expect(values).toEqual([[n, 1, 1], [n, 2, 2], [n, 3, 3]]);
    expect(afterGets.residentBytes).toBeLessThanOrEqual(200 * MiB);
    expect(afterGets.spilled + afterGets.residentBytes / (96 * MiB)).toBe(3);
    expect(sums).toEqual([1, 2, 3].map((k) => (k * n) / 4096));
    expect(afterDrops).toMatchObject({ objects: 0, spilled: 0, spilledBytes: 0, residentBytes: 0 });
  });
});
