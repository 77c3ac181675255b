import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios(
  "objects held by workers that use the runtime",
  // holderDies kills worker:0:0: it runs last.
  () => ScenarioRun.start(["fromResult", "fromArgument", "insideObject", "dropWhileHeld", "threadDrops", "holderDies"], "nested-objects-fixture.ts"),
  (run) => {
    test("an ObjectRef a thread keeps from a nested call's result keeps its object alive after every other holder let go; it goes when the thread lets go", async () => {
      expect(await run.value("fromResult")).toEqual({ whileHeld: { read: 1000, objects: 1 }, released: true });
    });

    test("an ObjectRef inside an argument's value (an object naming another) arrives as an ObjectRef the thread holds", async () => {
      expect(await run.value("fromArgument")).toEqual({ kept: { isRef: true, isObject: true }, whileHeld: { read: 1000, objects: 1 }, released: true });
    });

    test("an object named inside another object lives while that one does, and both go when the last holder lets go", async () => {
      expect(await run.value("insideObject")).toEqual({ whileHeld: { read: 300, objects: 2 }, released: true });
    });

    test("an explicit drop frees an object a thread still holds, and the thread's read then fails naming the drop", async () => {
      expect(await run.value("dropWhileHeld")).toEqual({
        read: expect.objectContaining({ class: "RemoteError", remoteName: "RuntimeStateError", message: expect.stringContaining("was dropped") }),
      });
    });

    test("a thread that drops an object the program holds frees it: the program's read fails naming the drop", async () => {
      expect(await run.value("threadDrops")).toEqual({ dropped: true, read: expect.objectContaining({ class: "RuntimeStateError", message: expect.stringContaining("was dropped") }) });
    });

    test("the objects a thread held are let go when its worker dies", async () => {
      expect(await run.value("holderDies")).toEqual({ whileHeld: 1, released: true });
    });
  },
);
