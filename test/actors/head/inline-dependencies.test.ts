import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const FIXTURE = "inline-dependencies-fixture.ts";
const SCENARIOS = ["chains", "whileCreated", "shapes", "largeUpstream", "largeUpstreamNotAscii", "failedUpstream", "namesHeld", "nested", "retriedUpstream", "releasedWhileHeld", "releasedUpstream", "cancelHeld", "cancelHeldBehind", "stopWhileHeld"];

// a on worker:0:0, b on worker:0:1; `dependentCalls`: calls the workers' main threads passed on with dependency values they resolved.
describeScenarios("dependency values sent by the head", () => ScenarioRun.start(SCENARIOS, FIXTURE), (run) => {
  test("small results go from the head with their dependents straight to the thread, exact, pending or done, in chains and pipelined", async () => {
    expect(await run.value("chains")).toEqual({ value: { pending: 781, done: 16, pipelinedRight: true }, dependentCalls: 0 });
  });

  test("dependents made while their tesserae are being created wait at the head for the creations, then take the same route", async () => {
    expect(await run.value("whileCreated")).toEqual({ value: { states: ["pending", "pending"], right: true }, dependentCalls: 0 });
  });

  test("elements and fields of results, several dependencies in one call, one taken on two workers, done markers, and call order", async () => {
    expect(await run.value("shapes")).toEqual({
      value: { elements: 7, fields: 12, several: 113, shared: [22, 23], ordered: [1, [1, "after"]], onlyDone: 7 },
      dependentCalls: 0,
    });
  });

  test("a result too large to come with its completion moves worker to worker, as before", async () => {
    expect(await run.value("largeUpstream")).toEqual({
      value: { total: (8191 * 8192) / 2, transfer: { from: "worker:0:0", to: "worker:0:1", bytes: 8192 * 8 } },
      dependentCalls: 1,
    });
  });

  test("the same from a class whose name is not ASCII (nor its tasks' uids)", async () => {
    expect(await run.value("largeUpstreamNotAscii")).toEqual({
      value: { total: (4095 * 4096) / 2, uid: expect.stringMatching(/^task-größe-large-/) },
      dependentCalls: 1,
    });
  });

  test("dependents of a failed upstream fail with a DependencyError naming it and never run", async () => {
    const { value, dependentCalls } = await run.value("failedUpstream");
    const failed = expect.objectContaining({
      class: "DependencyError",
      code: "DEPENDENCY_FAILED",
      message: expect.stringContaining(`its dependency ${value.broken} failed: RangeError: upstream broke`),
      cause: expect.objectContaining({ remoteName: "RangeError", task: value.broken }),
    });
    expect({ ...value, dependentCalls }).toEqual({ broken: value.broken, dependent: failed, viaDone: failed, after: 42, ran: [], dependentCalls: 0 });
  });

  test("a result naming an object and a tessera reaches its dependent through the worker, which reads both", async () => {
    expect(await run.value("namesHeld")).toEqual({ value: { pending: [42, 43], done: [42, 43] }, dependentCalls: 2 });
  });

  test("a method's own dependent calls take the same route", async () => {
    expect(await run.value("nested")).toEqual({ value: 7, dependentCalls: 0 });
  });

  test("a dependent waiting at the head for an upstream that fails and runs again gets the value of the attempt that ends it", async () => {
    expect(await run.value("retriedUpstream")).toEqual({ value: { dependent: 11, attempts: 2 }, dependentCalls: 0 });
  });

  test("a tessera released while its call waits at the head runs the call, then is released on its worker", async () => {
    expect(await run.value("releasedWhileHeld")).toEqual({ value: 4, dependentCalls: 0 });
  });

  test("an upstream the program released while its dependent waited at the head fails the dependent with a DependencyError saying so", async () => {
    expect(await run.value("releasedUpstream")).toEqual({
      held: expect.objectContaining({ class: "DependencyError", code: "DEPENDENCY_FAILED", message: expect.stringContaining("released") }),
      after: 2,
    });
  });

  test("cancelling a call waiting at the head sends the calls behind it at once, not when its dependency ends", async () => {
    const { slowStateWhenBehindEnded } = await run.value("cancelHeldBehind");
    expect(slowStateWhenBehindEnded).not.toBe("done");
  });

  test("a call waiting at the head for its dependency can be cancelled: it never runs, the calls behind it do", async () => {
    const { value } = await run.value("cancelHeld");
    expect(value).toEqual({ held: expect.objectContaining({ class: "CancelledError", code: "CANCELLED" }), behind: 1, ran: ["behind"], slow: 1 });
  });

  test("stopping the runtime fails the calls waiting at the head for a dependency, with RuntimeStateError", async () => {
    const failed = expect.objectContaining({ class: "RuntimeStateError", code: "RUNTIME_STATE" });
    expect(await run.value("stopWhileHeld")).toEqual({ held: failed, behind: failed });
  });
});
