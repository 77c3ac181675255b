import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const died = (what: RegExp) => ({ class: "WorkerDiedError", code: "WORKER_DIED", message: expect.stringMatching(what) });

describeScenarios("tessera restarts", () => ScenarioRun.start(["restartAfterWorkerKilled"], "recovery-fixture.ts"), (run) => {
  test("a tessera whose worker is SIGKILLed mid-call is made again by its constructor on a live worker; the queued calls run there in order, the running one is not run again", async () => {
    const { before, running, results, restarted, state, worker, later } = await run.value("restartAfterWorkerKilled");
    expect(before).toEqual(["made", 1]);
    expect(running).toMatchObject(died(/may have been running when .*worker:0:1.*the call was not run again \(set maxRetries to run it again\)/));
    // The constructor ran again with "made": the state before the death is gone, the replayed calls rebuild it in order.
    expect(results).toEqual([["made", 2], ["made", 2, 3], ["made", 2, 3, 4]]);
    expect(later).toEqual(["made", 2, 3, 4, 5]);
    // Awaiting the proxy waits until it is made again.
    expect({ restarted, state }).toEqual({ restarted: "done", state: "ready" });
    expect(worker).not.toBe("worker:0:1");
  });

  test("the event surface says so: tessera.restarting (from where, how many calls replayed, why), then tessera.created with its restart count", async () => {
    const { restarting, created, worker } = await run.value("restartAfterWorkerKilled");
    expect(restarting).toMatchObject({ type: "tessera.restarting", className: "Journal", worker: "worker:0:1", restarts: 1, replayed: 3, error: { class: "WorkerDiedError" } });
    expect(created).toEqual({ restarts: 1, worker });
  });
});

describeScenarios("the running call's rule", () => ScenarioRun.start(["runningCallRetried"], "recovery-fixture.ts"), (run) => {
  test("without retries the call that ended its thread fails and is not run again; with maxRetries the running call runs again first, then the calls behind it", async () => {
    const { exited, afterExit, retried, behind, state } = await run.value("runningCallRetried");
    expect(exited).toMatchObject(died(/exitThread.*may have been running/));
    expect(afterExit).toEqual(["made", "after exit"]);
    expect(retried).toEqual(["made", "slow"]);
    expect(behind).toEqual(["made", "slow", "behind"]);
    expect(state).toBe("ready");
  });
});

describeScenarios("retries", () => ScenarioRun.start(["restartsRunOut", "exceptionsRetried", "dependentsWaitForRetry", "badOptions", "retryAheadOfDependents", "defaultRetriesPerCall"], "recovery-fixture.ts"), (run) => {
  test("a retried exception runs ahead of later calls that take its task as an argument, on its own tessera or through another (no deadlock)", async () => {
    expect(await run.value("retryAheadOfDependents")).toEqual({ first: 40, sameTessera: 400, b: 20, after: 200 });
  });

  test("once its restarts are used, the next loss fails the tessera for good, and every later call, with WorkerDiedError", async () => {
    const { first, between, second, after, state } = await run.value("restartsRunOut");
    expect(first).toMatchObject({ class: "WorkerDiedError" });
    expect(between).toEqual(["made", "between"]);
    expect(second).toMatchObject({ class: "WorkerDiedError" });
    expect(after).toMatchObject({ class: "WorkerDiedError" });
    expect(state).toBe("failed");
  });

  test("an exception is retried only with retryExceptions, within maxRetries, for the error classes named; tessera defaults apply to its calls and a call's own options win", async () => {
    const value = await run.value("exceptionsRetried");
    expect(value.retried).toBe(40);
    expect(value.calls).toBe(3);
    expect(value.tooFew).toMatchObject({ class: "RemoteError", remoteName: "Error", message: expect.stringContaining("attempt 2 failed") });
    expect(value.notAsked).toMatchObject({ class: "RemoteError", message: expect.stringContaining("attempt 1 failed") });
    expect(value.otherClass).toMatchObject({ class: "RemoteError", remoteName: "RangeError" });
    expect(value.namedClass).toBe(40);
    expect(value.tesseraDefault).toBe(50);
    expect(value.overridden).toMatchObject({ class: "RemoteError" });
    expect(value.retriedEvents).toEqual([1, 2, 1, 1, 1]);
  });

  test("each call made with its tessera's default retries has all of them", async () => {
    expect(await run.value("defaultRetriesPerCall")).toEqual(["a", "b", "c"]);
  });

  test("a task on another worker that takes a retried task as its argument waits for the retry and gets its value, after an exception and after a restart", async () => {
    const { afterException, afterRestart, movedTo } = await run.value("dependentsWaitForRetry");
    expect(afterException).toBe(70);
    expect(afterRestart).toEqual(["made", "slow"]);
    expect(movedTo).not.toBe("worker:0:1");
  });

  test("bad retry and restart options are refused at once with InvalidArgumentError naming the option", async () => {
    const { restarts, retries, exceptions, unknown } = await run.value("badOptions");
    expect(restarts).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("maxRestarts must be an integer >= -1") });
    expect(retries).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("Journal.add.options(): maxRetries") });
    expect(exceptions).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("retryExceptions must be") });
    expect(unknown).toMatchObject({ class: "UnknownTesseraMethodError" });
  });
});

describeScenarios("respawned workers", () => ScenarioRun.start(["respawnedWorker"], "recovery-fixture.ts"), (run) => {
  test("with respawn, a SIGKILLed worker's place is filled by a new worker (a new uid) that the head places on and the other workers fetch from and serve", async () => {
    const { newcomer, workers, fromNewcomer, toNewcomer, spread, pidDiffers } = await run.value("respawnedWorker");
    expect(newcomer).toBe("worker:0:2");
    expect(workers).toEqual(["worker:0:0", "worker:0:2"]);
    expect(fromNewcomer).toEqual(["new", "x"]);
    expect(toNewcomer).toEqual(["new", "x", "y"]);
    expect(spread).toEqual(["worker:0:0", "worker:0:2"]);
    expect(pidDiffers).toBe(true);
  });

  test("its place is filled only respawnAttempts times: when the new worker dies too, the node says so and starts none", async () => {
    await run.value("respawnedWorker");
    const said = /worker:0:2 is not replaced: its place was filled 1 times already \(respawnAttempts 1\)/;
    expect(await run.head.waitForLine(said, { stream: "stderr", timeout: 10_000 })).toMatch(said);
  });
});

describeScenarios("barrier after a loss", () => ScenarioRun.start(["barrierReportsLosses"], "recovery-fixture.ts"), (run) => {
  test("barrier() carries on when a worker is lost and reports the tasks that failed since the previous barrier, each with its typed error", async () => {
    const { failed, failedCount, fine, again } = await run.value("barrierReportsLosses");
    expect(failed).toMatchObject([
      { same: true, method: "slowAdd", error: { class: "WorkerDiedError" } },
      { same: true, method: "add", error: { class: "WorkerDiedError" } },
    ]);
    expect(failedCount).toBe(2);
    expect(fine).toEqual([["kept", 1], ["kept", 1, 2]]);
    expect(again).toEqual({ failed: 0, failedCount: 0 });
  });
});

describeScenarios("a dependency retried before its dependent is sent", () => ScenarioRun.start(["dependencyRetriedBeforeSent"], "recovery-fixture.ts"), (run) => {
  test("a call whose tessera restarts while the task it takes as argument is retried elsewhere gets the retried result, wherever the argument names it", async () => {
    const { dependent, movedTo } = await run.value("dependencyRetriedBeforeSent");
    expect(dependent).toEqual([["made", "slow"], { nested: ["made", "slow"] }]);
    expect(movedTo).not.toContain("worker:0:1");
  });
});

describeScenarios("results of a restarted tessera", () => ScenarioRun.start(["resultsStayWhereTheyRan"], "recovery-fixture.ts", { env: { SCENARIO_TIMEOUT_MS: "10000" } }), (run) => {
  test("a done task's result stays with the worker that ran it: once that worker died and the tessera moved, fetching or passing it fails with a typed error, it is not looked for on the new worker (a small one the head has is still read and passed)", async () => {
    const value = await run.value("resultsStayWhereTheyRan");
    expect(value).toMatchObject({
      moved: true,
      ranOn: ["worker:0:1", "worker:0:1"],
      large: died(/the result of task-reader-read-\w+ was on worker:0:1, which died/),
      small: "small",
      passed: { class: "DependencyError", code: "DEPENDENCY_FAILED" },
      passedSmall: "small",
    });
  });
});

describeScenarios("placement while a worker joins", () => ScenarioRun.start(["placementWhileJoining"], "recovery-fixture.ts"), (run) => {
  test("tesserae created while a respawned worker joins are never placed on it before the head knows it: every call settles, none hangs", async () => {
    const { pending, failedKinds, newcomer } = await run.value("placementWhileJoining");
    expect({ pending, newcomer }).toEqual({ pending: 0, newcomer: true });
    // Those placed on the dead worker before its death was known fail with its typed error; none fails otherwise.
    expect(failedKinds.every((kind: string) => kind === "WorkerDiedError")).toBe(true);
  });
});

describeScenarios("results of a tessera that moved", () => ScenarioRun.start(["releasedWhereTheyRan"], "recovery-fixture.ts"), (run) => {
  test("results a restartable tessera left on a worker before it moved are released there once their proxies are collected", async () => {
    const { before, moved } = await run.value("releasedWhereTheyRan");
    expect(before).toBe(4);
    expect(moved).toBeGreaterThan(0);
  });
});
