import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const SCENARIOS = [
  "pushedWhenSettled",
  "sameWorkerDependencies",
  "changedResultPassedOn",
  "sharedResultUnchanged",
  "mixedRoutes",
  "crossDependencies",
  "releasedBeforePlacement",
  "abandonedDependency",
  "releaseWithBacklog",
  "localAliasing",
  "argumentsTakenAtCall",
  "nestedReferences",
  "argumentsTakenWhileWaiting",
  "cachedObjectIsACopy",
  "twoDeferredCreates",
  "droppedCallAbandoned",
  "releaseWithQueuedCalls",
  "manyPayloads",
  "threadDeath",
  "threadDeathDirect",
  "silentWorker",
  "stopWithPending",
];

describeScenarios("edge cases", () => ScenarioRun.start(SCENARIOS, "actor-edge-fixture.ts"), (run) => {
  test("dependencies not done when another worker asks for them arrive as they settle: values, elements, outputs.done, and failures naming the failed task", async () => {
    const failed = { class: "DependencyError", names: true, why: true };
    expect(await run.value("pushedWhenSettled")).toEqual({ doubled: Array.from({ length: 50 }, (_, i) => 2 * (i + 1)), counted: 1, failed });
  });

  test("a dependency made on the consumer's own worker is read there, done or not yet, and its failure names it", async () => {
    expect(await run.value("sameWorkerDependencies")).toEqual({ fromDone: 16, fromLater: 14, failed: { class: "DependencyError", names: true, why: true } });
  });

  test("a large result read by tesserae on other workers (mapped, copy-on-write) stays unchanged when they change their argument", async () => {
    expect(await run.value("sharedResultUnchanged")).toEqual({ bumped: [101, 101], local: 101, after: 1, result: [1, 1 << 20] });
  });

  test("a large result that the program changed and passes on reaches the tessera with the changes", async () => {
    expect(await run.value("changedResultPassedOn")).toBe(99);
  });

  test("a call whose thread dies while running it fails, and so does a call depending on it on another worker", async () => {
    const { dying, dependent } = await run.value("threadDeathDirect");
    expect({ dying: dying.class, code: dying.code, dependent: dependent.class, dependentCode: dependent.code }).toEqual({
      dying: "WorkerDiedError",
      code: "WORKER_DIED",
      dependent: "DependencyError",
      dependentCode: "DEPENDENCY_FAILED",
    });
  });

  test("calls sent straight to a tessera's thread and calls resolved by its worker first run in call order, before a release", async () => {
    expect(await run.value("mixedRoutes")).toEqual({ order: [1, 2, 3, 4], beforeRelease: [2], afterRelease: [2, 5] });
  });

  test("dependencies that go back and forth between two workers within one tick do not deadlock", async () => {
    expect(await run.value("crossDependencies")).toBe(16);
  });

  test("a tessera released before it had a worker still runs the calls made on it", async () => {
    expect(await run.value("releasedBeforePlacement")).toEqual([12, 4]);
  });

  test("a call on a result that will never exist fails instead of waiting", async () => {
    const error = await run.value("abandonedDependency");
    expect(error).toMatchObject({ message: expect.stringContaining("no such thing") });
  });

  test("a tessera released while a call on it waits for a dependency still runs that call", async () => {
    expect(await run.value("releaseWithBacklog")).toBe(42);
  });

  test("tesserae on one worker reading one stored result each get their own copy", async () => {
    expect(await run.value("localAliasing")).toEqual({ changed: 101, seen: 1, fetched: 1 });
  });

  test("an array changed right after a call does not change what the call receives, whatever its size", async () => {
    expect(await run.value("argumentsTakenAtCall")).toEqual([1, 1, 1]);
  });

  test("tasks nested in arguments, and tasks as constructor arguments, are dependencies", async () => {
    expect(await run.value("nestedReferences")).toEqual({ echoed: { inside: 4, list: [6] }, built: 20 });
  });

  test("calls that wait for a placement, and constructors, get their arguments' values at call time", async () => {
    expect(await run.value("argumentsTakenWhileWaiting")).toEqual({ seen: [1, 2, 3], kept: 5 });
  });

  test("a warehouse object changed by one tessera is read unchanged by another on the same worker", async () => {
    expect(await run.value("cachedObjectIsACopy")).toEqual({ changed: 101, seen: 1 });
  });

  test("two tesserae whose constructors wait for one unplaced task are each created once", async () => {
    expect(await run.value("twoDeferredCreates")).toEqual([23, 43]);
  });

  test("a call dropped on the head because its dependency failed fails what depends on it elsewhere", async () => {
    const { waiting, dependent } = await run.value("droppedCallAbandoned");
    expect(waiting).toBe(4);
    expect(dependent).toMatchObject({ class: "DependencyError", code: "DEPENDENCY_FAILED" });
  });

  test("a tessera released while calls wait in its queue runs them before it goes", async () => {
    expect(await run.value("releaseWithQueuedCalls")).toBe(4);
  });

  test("dependency results carrying more than 65,535 payloads together still arrive", async () => {
    expect(await run.value("manyPayloads")).toBe(80_000);
  });

  test("a tessera thread that dies fails the calls that wait for it, and nothing stays pending", async () => {
    const { outcome, pending } = await run.value("threadDeath");
    expect({ class: outcome.class, code: outcome.code, pending }).toEqual({ class: "WorkerDiedError", code: "WORKER_DIED", pending: 0 });
  });

  test("a worker that stops answering is found out by its node's heartbeats and ended: its task fails with WorkerDiedError within seconds", async () => {
    const { outcome, withinSeconds, gone, fresh, placed } = await run.value("silentWorker");
    expect(gone).toBe(true);
    const message: string = outcome.message;
    expect({ class: outcome.class, names: message.includes("worker:0:1"), why: /heartbeat|sent nothing/.test(message) }).toEqual({
      class: "WorkerDiedError",
      names: true,
      why: true,
    });
    expect({ withinSeconds, fresh, placed }).toEqual({ withinSeconds: true, fresh: 8, placed: "worker:0:0" });
  });

  test("stopping the runtime with work pending fails that work and resolves barrier()", async () => {
    const { task, barrier } = await run.value("stopWithPending");
    expect(task).toMatchObject({ class: "RuntimeStateError", message: expect.stringContaining("stopped") });
    expect(barrier).toBe("resolved");
  });
});
