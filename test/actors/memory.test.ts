import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

// One runtime tree for the file. `lifetimes` runs first, on a worker that
// nothing else has used, so that its counts are its own.
describeScenarios("lifetimes of remote objects", () => ScenarioRun.start(["lifetimes", "memory", "heldTasks"]), (run) => {
  test("task.release() frees the result on the worker, after which result() rejects", async () => {
    const { start, held, tasksReleased, afterRelease, resultOfReleased, askedThenReleased } = await run.value("lifetimes");
    expect({ tesserae: held.tesserae - start.tesserae, tasks: held.tasks - start.tasks }).toEqual({ tesserae: 1, tasks: 10 });
    expect(tasksReleased.tasks).toBe(start.tasks);
    // Async APIs report misuse by rejecting, not by throwing.
    expect(afterRelease).toBeNull();
    expect(resultOfReleased).toMatchObject({ class: "RuntimeStateError", message: expect.stringContaining("was released") });
    // Also when result() was asked for before the task ended and the task released while it ran.
    expect(askedThenReleased).toMatchObject({ class: "RuntimeStateError", message: expect.stringContaining("was released") });
  });

  test("proxy.release() frees the tessera on the worker, and later calls on it reject", async () => {
    const { start, tesseraReleased, callAfterRelease } = await run.value("lifetimes");
    expect(tesseraReleased.tesserae).toBe(start.tesserae);
    expect(callAfterRelease).toMatchObject({ class: "RuntimeStateError", message: expect.stringContaining("was released") });
  });

  test("`using` frees a tessera and a task when the scope ends", async () => {
    const { start, end } = await run.value("lifetimes");
    expect({ tesserae: end.tesserae, tasks: end.tasks }).toEqual({ tesserae: start.tesserae, tasks: start.tasks });
  });

  test("a task proxy held after its task ended takes under 250 B of the head's heap, and still works", async () => {
    const { bytesPerTask, held, used } = await run.value("heldTasks");
    // ~296 B with every member inline, ~200 B with the ones few tasks need apart (task-proxy.ts, RareState).
    expect({ held, small: bytesPerTask < 250, bytesPerTask }).toEqual({ held: 50_000, small: true, bytesPerTask });
    expect(used).toEqual({
      states: ["done"],
      results: [1, 50_000, 50_000],
      uid: expect.stringMatching(/^task-recorder-append-/),
      ended: true,
      outputs: true,
      released: [false, true],
      afterRelease: expect.objectContaining({ class: "RuntimeStateError", message: expect.stringContaining("was released") }),
    });
  });

  test("100,000 calls whose proxies are dropped leave few results on the worker once the head collects the proxies", async () => {
    const { counts, samples, pending, seconds } = await run.value("memory");
    const report = { counts, samples, pending, seconds };
    expect({ ...report, flat: counts.tasks < 20_000 && samples.every((tasks: number) => tasks < 20_000) }).toEqual({ ...report, flat: true });
    expect(pending).toBe(0);
    expect(counts.tesserae).toBe(1);
  });

  test("the worker's memory stays flat over those 100,000 calls", async () => {
    const { rss } = await run.value("memory");
    // From the second checkpoint (code warm) to the last: the worker does not keep what the head dropped.
    const growthMiB = (Math.max(...rss.slice(1)) - rss[1]) / 2 ** 20;
    expect({ rss, flat: growthMiB < 48 }).toEqual({ rss, flat: true });
  });

  test("tessera proxies that are garbage collected free their objects on the worker", async () => {
    const { dropped, caller } = await run.value("memory");
    // Twenty were created next to the one that made the calls (still referenced); only that one is left.
    expect({ dropped, caller }).toEqual({ dropped: { before: 21, after: 1 }, caller: "ready" });
  });
});
