import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios(
  "remote functions called inside tessera methods",
  () => ScenarioRun.start(["chain", "failing", "forwarded", "nested"], "nested-functions-fixture.ts"),
  (run) => {
    test("a method calls a remote function, passes its task to another call as a dependency, and awaits both results", async () => {
      expect(await run.value("chain")).toEqual([9, 81]);
    });

    test("a function that throws rejects in the method with the same typed error as on the head, and a call depending on it fails with DependencyError", async () => {
      const value = await run.value("failing");
      expect(value.thrown).toMatchObject({ class: "RemoteError", remoteName: "RangeError", message: expect.stringMatching(/^RangeError: too big \(on worker:0:[01]\)$/) });
      expect(value.dependent).toMatchObject({ class: "DependencyError", message: expect.stringContaining("again") });
    });

    test("a synchronous remote function returning another function's task gives that task's result", async () => {
      expect(await run.value("forwarded")).toBe(49);
    });

    test("a remote function calls another and waits for it (never queued behind itself on its own host)", async () => {
      expect(await run.value("nested")).toEqual({ fromMethod: 25, fromHead: 5 });
    });
  },
);
