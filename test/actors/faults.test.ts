import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const stale = (what: RegExp) => ({ class: "RuntimeStateError", code: "RUNTIME_STATE", message: expect.stringMatching(what) });

describeScenarios("what a dead worker leaves", () => ScenarioRun.start(["deadWorkerLeftovers"], "faults-fixture.ts"), (run) => {
  test("a SIGKILLed worker's spill directory and shared-memory segments are removed by its node at once, not at stop", async () => {
    expect(await run.value("deadWorkerLeftovers")).toEqual({ before: { spilled: true, segments: true }, after: { spilled: false, segments: [] } });
  });
});

describeScenarios("faults made with handles", () => ScenarioRun.start(["releasedBeforeCreated", "staleHandles"], "faults-fixture.ts"), (run) => {
  test("awaiting a tessera released before its creation finished settles, and the worker goes on", async () => {
    expect(await run.value("releasedBeforeCreated")).toEqual({ created: "done", state: "released", next: 1 });
  });

  test("a stopped runtime's proxies, tasks and objects fail at once with RuntimeStateError, as arguments of a new runtime too, which goes on", async () => {
    const { afterStop, asArgument, asConstructorArgument, oldProxy, next } = await run.value("staleHandles");
    expect(afterStop).toMatchObject({ call: stale(/runtime stopped/), result: stale(/runtime stopped/), get: stale(/runtime stopped/), drop: "done" });
    expect(asArgument).toMatchObject({ task: stale(/belongs to a runtime that stopped/), output: stale(/belongs to a runtime that stopped/), ref: stale(/belongs to a runtime that stopped/) });
    expect(asConstructorArgument).toMatchObject(stale(/belongs to a runtime that stopped/));
    expect(oldProxy).toMatchObject(stale(/runtime stopped/));
    expect(next).toBe(7);
  });
});
