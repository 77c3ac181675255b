import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

// One runtime tree for the file: the scenario SIGKILLs worker:0:0 while a
// method that would block for 20 s runs on it.
describeScenarios("a worker killed mid-task", () => ScenarioRun.start(["workerDeath"]), (run) => {
  test("the running task rejects at once with WorkerDiedError naming the worker and the task it was running", async () => {
    const { running, runningError, runningState, rejectedAfterMs } = await run.value("workerDeath");
    expect(runningState).toBe("failed");
    expect(runningError).toMatchObject({
      class: "WorkerDiedError",
      name: "WorkerDiedError",
      code: "WORKER_DIED",
      message: expect.stringMatching(new RegExp(`^worker:0:0 .* died while running ${running} \\(Sleeper\\.blockAfterSignal\\)`)),
    });
    // The method would have run for 20 s: the rejection came from the death.
    expect(rejectedAfterMs).toBeLessThan(5_000);
  });

  test("the task queued behind it and every later call on that tessera reject with WorkerDiedError too", async () => {
    const { queuedError, laterError, victimState } = await run.value("workerDeath");
    expect(victimState).toBe("failed");
    expect(queuedError).toMatchObject({ class: "WorkerDiedError", message: expect.stringContaining("worker:0:0") });
    expect(laterError).toMatchObject({ class: "WorkerDiedError", message: expect.stringContaining("worker:0:0") });
  });

  test("a result asked for while its task waited on the worker rejects with WorkerDiedError, as the task does (not with the closed link's error)", async () => {
    const { waitingLargeError } = await run.value("workerDeath");
    expect(waitingLargeError).toMatchObject({ class: "WorkerDiedError", code: "WORKER_DIED", message: expect.stringContaining("worker:0:0") });
  });

  test("a small result (up to 1 KiB) came to the head with its completion and outlives the worker; a large one was left there", async () => {
    const { smallAfterDeath, largeAfterDeath } = await run.value("workerDeath");
    expect(smallAfterDeath).toBe(10);
    expect(largeAfterDeath).toMatchObject({ class: "WorkerDiedError" });
  });

  test("tesserae on the other worker keep working, and the network lists only the live worker", async () => {
    const { survivor, workers } = await run.value("workerDeath");
    expect({ survivor, workers }).toEqual({ survivor: "works", workers: ["worker:0:1"] });
  });

  test("tesserae created once the death is announced go to the surviving worker", async () => {
    const { settledRuntimes } = await run.value("workerDeath");
    expect(settledRuntimes).toEqual(["worker:0:1", "worker:0:1"]);
  });

  test("tesserae created right after the failure is seen go to the surviving worker and work", async () => {
    const { freshRuntimes, freshErrors, freshWork } = await run.value("workerDeath");
    expect({ freshRuntimes, freshErrors, freshWork }).toEqual({
      freshRuntimes: ["worker:0:1", "worker:0:1", "worker:0:1"],
      freshErrors: [null, null, null],
      freshWork: [null, null, null],
    });
  });
});
