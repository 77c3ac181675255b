import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const SCENARIOS = ["taskArgument", "dependentStartsAfter", "outputs", "doneOrdering", "failedDependency"];

// One runtime tree (head, monitor, node, two workers) for the whole file.
describeScenarios("tasks as arguments", () => ScenarioRun.start(SCENARIOS), (run) => {
  test("a task passed as an argument is replaced by its value on the worker that runs the dependent task", async () => {
    expect(await run.value("taskArgument")).toEqual({
      value: 10,
      producerRuntime: "worker:0:0",
      consumerRuntime: "worker:0:1",
      upstream: [1, 2, 3, 4],
    });
  });

  test("a dependent task starts only after the task it takes as an argument has finished", async () => {
    const { napEnd, start, received } = await run.value("dependentStartsAfter");
    expect(received).toEqual([{ start: expect.any(Number), end: napEnd }]);
    expect(start).toBeGreaterThanOrEqual(napEnd);
  });

  test("outputs[i] passes element i of an array result", async () => {
    expect(await run.value("outputs")).toEqual({ second: 4, last: 10, both: [1, 3] });
  });

  test("outputs.done orders a call after another task without being passed to the method", async () => {
    const { napEnd, count, args, start, onlyDone } = await run.value("doneOrdering");
    expect({ count, args, onlyDone }).toEqual({ count: 1, args: [7], onlyDone: 0 });
    expect(start).toBeGreaterThanOrEqual(napEnd);
  });

  test("a task whose dependency failed fails with a DependencyError naming the upstream task, and its tessera keeps working", async () => {
    const { broken, error, state, viaOutput, viaDone, downstreamStillWorks, dependents } = await run.value("failedDependency");
    expect(state).toBe("failed");
    // Made while their tessera's creation was on its way, the dependents wait at the head (with their values to
    // come) and are never sent: the error is a DependencyError naming them and the upstream task, and its cause
    // is the upstream's own error (where, which task and method).
    const dependencyFailure = (dependent: string) => ({
      class: "DependencyError",
      code: "DEPENDENCY_FAILED",
      message: `${dependent} not run: its dependency ${broken} failed: TypeError: upstream broke (on worker:0:0)`,
      cause: {
        class: "RemoteError",
        remoteName: "TypeError",
        runtime: "worker:0:0",
        task: broken,
        method: "explode",
        message: "TypeError: upstream broke (on worker:0:0)",
      },
    });
    expect(error).toMatchObject(dependencyFailure(dependents[0]));
    expect(viaOutput).toMatchObject(dependencyFailure(dependents[1]));
    expect(viaDone).toMatchObject(dependencyFailure(dependents[2]));
    expect(downstreamStillWorks).toBe(42);
  });
});
