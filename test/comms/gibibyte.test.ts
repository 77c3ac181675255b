import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

// 1 GiB each way took 20-30 s on a 2-core machine at load 12: past the runner's 30 s default per scenario.
const env = { SCENARIO_TIMEOUT_MS: String(ACTOR_TEST_TIMEOUT - 10_000) };

describeScenarios("large arrays", () => ScenarioRun.start(["gibibyte"], "data-fixture.ts", { env }), (run) => {
  test("a 1 GiB Float32Array goes to a worker, is changed there, and comes back whole", async () => {
    const { length, checks, last, type } = await run.value("gibibyte");
    // Every 64 Mi-th element was i / 2^20 before doubling; the last one was 7.
    expect({ length, checks, last, type }).toEqual({ length: 256 * 1024 * 1024, checks: [0, 128, 256, 384], last: 14, type: "Float32Array" });
  });
});
