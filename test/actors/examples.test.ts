import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { REPO_ROOT, SpawnedProcess } from "../_helpers/processes.ts";
import { ACTOR_TEST_TIMEOUT } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

/** Each example of the README's patterns runs to the end and prints what its comments promise. */
const EXAMPLES: [file: string, lines: (string | RegExp)[]][] = [
  ["arrays.ts", ["broadcast: [ 20, 40, 60, 80 ]", "per element: [ 10, 40, 90, 160 ]", "element 2: 30", /^on worker:0:0: \d of 4$/]],
  ["remote-functions.ts", ["sum of 100 simulations: 2475000", "chained: 1000"]],
  ["fields-and-outputs.ts", ["rate now: 0.5", "loss 3.00"]],
  ["wait-and-cancel.ts", ["first done: 5 still running: 2", "cancelled: CancelledError, CancelledError"]],
  ["registered-classes.ts", ["moved: Point(4, 4) norm 5.66; Point(1, 1) norm 1.41"]],
  ["nested.ts", ["totals: [ 4950, 9900 ]", "table held by a worker: true 100", "helper from the head: 6"]],
  ["fault-tolerance.ts", [/^before: 101 on worker:0:[01]$/, /^after: 101 on worker:0:[01] \(made again: 100 \+ 1\)$/, "failed since the last barrier: 0"]],
];

describe("the examples", () => {
  test.each(EXAMPLES)("examples/%s runs and prints what it promises", async (file, expected) => {
    await using example = new SpawnedProcess([process.execPath, `examples/${file}`], { cwd: REPO_ROOT });
    const status = await example.waitForExit(ACTOR_TEST_TIMEOUT - 5_000);
    expect(status).toEqual({ code: 0, signal: null });
    for (const line of expected) expect(example.lines.stdout).toContainEqual(typeof line === "string" ? line : expect.stringMatching(line));
  });
});
