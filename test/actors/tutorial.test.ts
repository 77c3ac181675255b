import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { expectProcessesGone, listeningLines, REPO_ROOT, SpawnedProcess } from "../_helpers/processes.ts";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const WORKER_LINE = /^(WORKER:0:[01]) {6}(.*)$/;

/** `[uid, text]` of each line a worker printed, in the order the head showed them. */
function workerLines(lines: string[]): [string, string][] {
  return lines.flatMap((line) => {
    const m = WORKER_LINE.exec(line);
    return m ? [[m[1]!, m[2]!] as [string, string]] : [];
  });
}

describe("the tutorial", () => {
  test("examples/tutorial.ts runs to the end, its solvers print on their workers, and dependent calls wait for each other", async () => {
    await using tutorial = new SpawnedProcess([process.execPath, "examples/tutorial.ts"], { cwd: REPO_ROOT, env: { TUTORIAL_SLEEP_MS: "200" } });
    const status = await tutorial.waitForExit(ACTOR_TEST_TIMEOUT - 5_000);
    expect({ status, stderr: tutorial.lines.stderr }).toEqual({ status: { code: 0, signal: null }, stderr: [] });
    const stdout = tutorial.lines.stdout;

    // Solver1 and Solver2 were placed on different workers, and print there.
    const byText = new Map(workerLines(stdout).map(([uid, text]) => [text, uid]));
    expect(byText.get("Solve 1")).toMatch(/^WORKER:0:[01]$/);
    expect(byText.get("Solve 2")).toMatch(/^WORKER:0:[01]$/);
    expect(byText.get("Solve 1")).not.toBe(byText.get("Solve 2"));

    // The proxies print as in the seed notebook.
    expect(stdout).toContainEqual(expect.stringMatching(/^<TesseraProxy tess-solver1-[0-9a-f]+ not placed yet, pending>$/));
    expect(stdout).toContainEqual(expect.stringMatching(/^<TaskProxy task-solver2-solve-[0-9a-f]+ on worker:0:[01], done>$/));
    // It ends by pointing at the dashboard and the profiler.
    expect(stdout.slice(-2).map((line) => line.split(":")[0])).toEqual(["Watch a run live", "Record a timeline"]);
    expect(stdout).toContain("16384 16384");

    // After the results were fetched: solver2.solve(task1) starts after solver1.solve is done, and
    // solver2.solveMore(more1.outputs.done) after solver1.solveMore.
    const later = workerLines(stdout.slice(stdout.indexOf("16384 16384"))).map(([, text]) => text);
    expect(later.filter((text) => text.startsWith("Solve") || text.startsWith("Done"))).toEqual([
      "Solve 1",
      "Done 1",
      "Solve 2",
      "Done 2",
      "Solve More 1",
      "Done More 1",
      "Solve More 2",
      "Done More 2",
    ]);

    // Every runtime it started is gone.
    const pids = listeningLines(stdout).map((entry) => entry.pid).filter((pid) => pid !== tutorial.pid);
    expect(pids).toHaveLength(4);
    await expectProcessesGone(pids);
  });
});

describeScenarios("a script under `mosaic run -w 2`", () => ScenarioRun.underCli(["-w", "2"], ["decorator", "taskArgument", "missingClass"]), (run) => {
  test("its tessera classes are declared on the workers of the CLI's runtime", async () => {
    expect(await run.value("decorator")).toEqual({ greeting: "Hello, Mosaic!", later: "Hey, Bun!", placedOn: "worker:0:1" });
    expect(await run.value("taskArgument")).toMatchObject({ value: 10, consumerRuntime: "worker:0:1" });
    expect((await run.value("missingClass")).creation).toMatchObject({ remoteName: "ClassNotFoundError" });
  });
});
