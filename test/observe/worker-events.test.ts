import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const MiB = 2 ** 20;

describeScenarios("events produced on workers", () => ScenarioRun.start(["workerEvents"], "data-fixture.ts"), (run) => {
  test("a worker sends no event up while nobody on the head listens", async () => {
    const { sentUnobserved, sentObserved, fromWorker } = await run.value("workerEvents");
    expect(sentUnobserved).toBe(0);
    // Its counter does count: once listened to, every event the head saw from it was counted.
    expect(fromWorker).toBeGreaterThan(0);
    expect(sentObserved).toBeGreaterThanOrEqual(fromWorker);
  });

  test("task.started reaches the head after the call is submitted and before its completion, naming the worker and thread", async () => {
    const { thread, call } = await run.value("workerEvents");
    expect(call.started).toHaveLength(1);
    const [started] = call.started;
    expect({ ...started, id: typeof started.id, time: typeof started.time }).toEqual({ type: "task.started", id: "number", worker: "worker:0:0", thread, time: "number" });
    expect(started.time).toBeGreaterThanOrEqual(call.before);
    expect(started.time).toBeLessThanOrEqual(call.after);
  });

  test("an object put on a worker is a transfer through shared memory", async () => {
    const { put } = await run.value("workerEvents");
    expect(put).toEqual({ type: "transfer", from: "head", to: "worker:0:0", bytes: 80 * MiB, route: "shm", time: "number" });
  });

  test("a worker past its store budget spills a stored object out, and back in when it is read", async () => {
    const { out, into, got } = await run.value("workerEvents");
    expect(out).toEqual({ type: "spill", runtime: "worker:0:0", direction: "out", bytes: 80 * MiB, time: "number" });
    expect(into).toEqual({ type: "spill", runtime: "worker:0:0", direction: "in", bytes: 80 * MiB, time: "number" });
    expect(got).toEqual([20 * MiB, 1]);
  });

  test("a payload refused for a worker's memory budget is memory pressure, and the put fails with OutOfMemoryError", async () => {
    const { pressed, refused } = await run.value("workerEvents");
    expect(refused).toBe("OutOfMemoryError");
    expect({ ...pressed, requested: pressed.requested >= 512 * MiB }).toEqual({
      type: "memory.pressure",
      runtime: "worker:0:0",
      requested: true,
      limit: 400 * MiB,
      time: "number",
    });
  });
});
