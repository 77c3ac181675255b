/**
 * Values arrive exactly (issue 15): seeded values and the edge cases on every
 * route, with shared memory and without, each compared where it arrives with
 * structuredClone of the same value (test/fixtures/_values.ts); and what must
 * be refused, refused on every route with the path of the value.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const ROUTES = { argument: [], result: [], workerToWorker: [], putGet: [], putAsArgument: [] };

for (const [mode, env] of [["with shared memory", {}], ["with MOSAIC_SHARED_MEMORY=0", { MOSAIC_SHARED_MEMORY: "0" }]] as const) {
  describeScenarios(`values arrive as structuredClone makes them, ${mode}`, () => ScenarioRun.start(["routes", "refused"], "fidelity-fixture.ts", { env }), (run) => {
    test("seeded values and the edge cases arrive exact on every route (a mismatch names its seed: rerun with FIDELITY_SEED)", async () => {
      const { seed, ...routes } = await run.value("routes");
      expect({ seed, ...routes }).toEqual({ seed, ...ROUTES });
    });

    test("what structuredClone refuses (and subclasses of built-ins) is refused on every route, arguments and results, with its path", async () => {
      const outcome = await run.value<Record<string, Record<string, { class: string; remoteName?: string; message: string }>>>("refused");
      for (const [name, routes] of Object.entries(outcome)) {
        expect({ name, ...routes } as Record<string, unknown>).toEqual({
          name,
          argument: { class: "InvalidArgumentError", message: expect.stringContaining("args[1].inner[0]") },
          put: { class: "InvalidArgumentError", message: expect.stringContaining("value.inner[0]") },
          result: { class: "RemoteError", remoteName: "InvalidArgumentError", message: expect.stringContaining("result.inner[0]") },
          // The dependent waits at the head for its upstream, which fails: the upstream's error is its cause.
          workerToWorker: { class: "DependencyError", remoteName: "InvalidArgumentError", message: expect.stringContaining("result.inner[0]") },
        });
      }
      expect(Object.keys(outcome)).toHaveLength(11);
    });
  });
}
