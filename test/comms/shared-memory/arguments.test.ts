import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios("large arguments of calls with dependencies", () => ScenarioRun.start(["dependentArgument"], "data-fixture.ts"), (run) => {
  test("the worker keeps the head's segment mapped and passes it on to the thread by name: no copy in a segment of its own", async () => {
    expect(await run.value("dependentArgument")).toEqual({ lentAwayMiB: 16, workerSegments: 0, value: [4 * 2 ** 20, 1, 7] });
  });
});
