/**
 * Runs scenarios of test/fixtures/actor-classes-fixture.ts in one head
 * process (one runtime tree) per test file. A test file starts the run in
 * beforeAll, each test awaits the outcome of its scenario, and afterAll checks
 * that the head exited cleanly and left no process or port behind.
 *
 * Actor tests cannot run the runtime inside `bun test`: workers run the head's
 * program up to init(), and under the test runner that program is the mosaic
 * CLI, which declares no tessera classes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ErrorInfo, ScenarioOutcome } from "../fixtures/actor-scenario-runner.ts";
import type { TreeInfo } from "../fixtures/_tree.ts";
import { expectFilesGone, expectTreeGone, FIXTURES, listeningLines, readyTree, type SpawnedProcess, type SpawnOptions, spawnFixture, spawnMosaic } from "./processes.ts";

export type { ErrorInfo };

export const ACTOR_FIXTURE = "actor-classes-fixture.ts";

/** Longer than the slowest scenario on a loaded machine. */
export const ACTOR_TEST_TIMEOUT = 60_000;

export class ScenarioRun implements AsyncDisposable {
  readonly head: SpawnedProcess;
  readonly tree: Promise<TreeInfo>;

  private constructor(head: SpawnedProcess) {
    this.head = head;
    this.tree = readyTree(head);
    this.tree.catch(() => {});
  }

  /** `bun test/fixtures/actor-classes-fixture.ts <scenarios...>`: the fixture is the head's program. */
  static start(scenarios: string[], fixture = ACTOR_FIXTURE, options: SpawnOptions = {}): ScenarioRun {
    return new ScenarioRun(spawnFixture(fixture, scenarios, options));
  }

  /** `mosaic run <flags> actor-classes-fixture.ts <scenarios...>`: the fixture is a script under the CLI. */
  static underCli(flags: string[], scenarios: string[]): ScenarioRun {
    return new ScenarioRun(spawnMosaic(["run", ...flags, join(FIXTURES, ACTOR_FIXTURE), ...scenarios]));
  }

  async outcome(name: string): Promise<ScenarioOutcome> {
    const line = await this.head.waitForLine(new RegExp(`^scenario ${name} `), { timeout: ACTOR_TEST_TIMEOUT - 5_000 });
    return JSON.parse(line.slice(`scenario ${name} `.length)) as ScenarioOutcome;
  }

  /** What the scenario returned; fails with the scenario's own error if it threw. */
  async value<T = any>(name: string): Promise<T> {
    const outcome = await this.outcome(name);
    if (!outcome.ok) {
      const error = outcome.error!;
      throw new Error(`scenario ${name} failed: ${error.class}: ${error.message}\n${error.remoteStack ?? ""}\n${this.head.describe()}`);
    }
    return outcome.value as T;
  }

  /**
   * The head printed `stopped`, exited with code 0, and nothing of its tree is
   * left: no process, port, shared-memory segment or spill directory of any
   * runtime it ever had, workers started after `ready` (respawned) included.
   */
  async expectCleanExit(): Promise<void> {
    const status = await this.head.waitForExit(ACTOR_TEST_TIMEOUT - 5_000);
    expect({ status, stopped: this.head.lines.stdout.includes("stopped") }).toEqual({ status: { code: 0, signal: null }, stopped: true });
    const tree = await this.tree;
    // Every runtime logs where it listens (info level): the ready line knows only those that were there at the start.
    const later = listeningLines(this.head.lines.stdout).filter(({ pid }) => pid !== tree.headPid && !tree.pids.includes(pid));
    const pids = [...tree.pids, ...later.map(({ pid }) => pid)];
    await expectTreeGone({ pids, ports: [...tree.ports, ...later.map(({ port }) => port)] });
    expectFilesGone(tree.cluster, pids);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.head[Symbol.asyncDispose]();
  }
}

/**
 * What a suite's tests see of its run (started in beforeAll, after the tests
 * are declared): scenario outcomes, and the head process for what it printed.
 */
export interface ScenarioHandle extends Pick<ScenarioRun, "value" | "outcome"> {
  readonly head: SpawnedProcess;
}

/**
 * A suite on one head process: `start` runs in beforeAll (ScenarioRun.start
 * for a fixture as the program, ScenarioRun.underCli for a script under
 * `mosaic run`), `tests` are declared with a handle on the run, and a last
 * test checks that the head stopped the tree and left no process or port.
 */
export function describeScenarios(title: string, start: () => ScenarioRun, tests: (run: ScenarioHandle) => void): void {
  describe(title, () => {
    let run: ScenarioRun | undefined;
    const started = () => run ?? (run = start());
    beforeAll(() => void started());
    afterAll(async () => {
      await run?.[Symbol.asyncDispose]();
    });
    tests({
      value: (name) => started().value(name),
      outcome: (name) => started().outcome(name),
      get head() {
        return started().head;
      },
    });
    test("the head stops the tree when the program ends, exits with code 0 and leaves no process or port", async () => {
      await started().expectCleanExit();
    });
  });
}

/** Whether the intervals [a.start, a.end] and [b.start, b.end] overlap. */
export function overlap(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}
