import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const FIXTURE = "wanted-results-fixture.ts";
const SCENARIOS = ["sizes", "beyond", "heldAndLate", "dependents", "allThenAwaited", "failures"];

// While the scenario ran, `resultRequests`: results worker:0:0's main thread was asked for; `postedCompletions`: completions
// its threads posted to it one by one (those whose results the head has go in batches).
describeScenarios("results awaited with result() come with their completions when asked for", () => ScenarioRun.start(SCENARIOS, FIXTURE), (run) => {
  test("results of 1 KiB up to 250 KiB (typed arrays, objects with several, plain arrays) arrive exact, the first of each method too: none is asked of the worker, none wakes its main thread", async () => {
    expect(await run.value("sizes")).toEqual({ value: { right: true, checked: 40 }, resultRequests: 0, postedCompletions: 0 });
  });

  test("results over 257 KiB in all (in shared memory, or in several arrays) are asked of the worker as before, exact", async () => {
    expect(await run.value("beyond")).toEqual({ value: { right: true }, resultRequests: 6, postedCompletions: 6 });
  });

  test("result() of a call waiting at the head is asked once it is sent; one asked after the task ended is fetched", async () => {
    expect(await run.value("heldAndLate")).toEqual({ value: { pending: "pending", heldRight: true, lateRight: true }, resultRequests: 1, postedCompletions: 1 });
  });

  test("a result sent to the head is still there for dependents on its worker and on another, one at a time and pipelined", async () => {
    expect(await run.value("dependents")).toEqual({ value: { sums: true, totals: true, all: true }, resultRequests: 0, postedCompletions: 0 });
  });

  test("results awaited after all their calls were made arrive exact, and later ones awaited one at a time still come with their completions", async () => {
    expect(await run.value("allThenAwaited")).toEqual({ value: { allRight: true, right: true }, resultRequests: 0, postedCompletions: 0 });
  });

  test("a failed call rejects result() with its error, a retried one resolves with the result of its last attempt, none asked of the worker", async () => {
    expect(await run.value("failures")).toEqual({
      value: { broken: { name: "RangeError", message: expect.stringContaining("broken on purpose") }, retriedRight: true },
      resultRequests: 0,
      postedCompletions: 0,
    });
  });
});
