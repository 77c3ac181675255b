import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios("large arrays over the sockets (shared memory off, as between machines)", () => ScenarioRun.start(["overSockets"], "data-fixture.ts", { env: { MOSAIC_SHARED_MEMORY: "0" } }), (run) => {
  test("every transfer arrives whole, and arrays still held keep their values while the receive memory of others is reused", async () => {
    const { kept, sums } = await run.value("overSockets");
    expect(kept).toEqual([
      [2, 2, true],
      [4, 4, true],
      [6, 6, true],
    ]);
    // Store.sum reads every 4096th element: 256 of them in 2^20.
    expect(sums).toEqual([1, 2, 3, 4, 5, 6].flatMap((k) => [256 * k, 256 * k]));
  });

  test("an array changed right after the call is received as it was at the call", async () => {
    const { takenSum } = await run.value("overSockets");
    expect(takenSum).toBe(1024 * 7);
  });
});
