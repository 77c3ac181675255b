import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, type ErrorInfo, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const SCENARIOS = [
  "create",
  "constructorFailure",
  "results",
  "remoteError",
  "usableAfterThrow",
  "unknownMethod",
  "unsendable",
  "decorator",
  "placement",
  "missingClass",
  "consoleLines",
];

// One runtime tree (head, monitor, node, two workers) for the whole file.
describeScenarios("tesserae", () => ScenarioRun.start(SCENARIOS), (run) => {
  test("remote() returns a pending proxy at once, and awaiting it resolves (with nothing) once the object exists on a worker", async () => {
    const { before, awaited, after } = await run.value("create");
    expect(before).toEqual({ state: "pending", inspect: `<TesseraProxy ${after.uid} not placed yet, pending>` });
    expect(awaited).toBeNull();
    expect(after).toEqual({
      state: "ready",
      runtime: expect.stringMatching(/^worker:0:[01]$/),
      uid: expect.stringMatching(/^tess-recorder-[0-9a-f]+$/),
      inspect: `<TesseraProxy ${after.uid} on ${after.runtime}, ready>`,
    });
  });

  test("a constructor that throws rejects the proxy with the remote error, and every task on it, made before or after, fails", async () => {
    const { creation, state, early, earlyState, late } = await run.value("constructorFailure");
    expect(state).toBe("failed");
    expect(creation).toMatchObject({
      class: "RemoteError",
      remoteName: "RangeError",
      message: expect.stringContaining("no good constructor"),
      remoteStack: expect.stringContaining("Faulty"),
    });
    expect(earlyState).toBe("failed");
    expect(early).toMatchObject({ class: "RemoteError", method: "hello", message: expect.stringContaining("no good constructor") });
    expect(late).toMatchObject({ message: expect.stringContaining("no good constructor") });
  });

  test("awaiting a task waits for it without transferring its value; result() fetches the value, once", async () => {
    const value = await run.value("results");
    expect(value).toEqual({
      stateAtCall: "pending",
      inspectAtCall: `<TaskProxy ${value.uid} not placed yet, pending>`,
      awaited: null,
      stateAfter: "done",
      runtime: value.tesseraRuntime,
      tesseraRuntime: expect.stringMatching(/^worker:0:[01]$/),
      inspectAfter: `<TaskProxy ${value.uid} on ${value.tesseraRuntime}, done>`,
      uid: expect.stringMatching(/^task-recorder-append-[0-9a-f]+$/),
      sameResultPromise: true,
      value: 2,
      list: [10, 20],
      structured: { nested: [1, "two", { three: 3 }], bytes: ["Uint8Array", 1, 2, 3], when: ["Date", 0] },
    });
  });

  test("a method that throws rejects its task with a RemoteError carrying the remote name, message, stack, tessera, method and task", async () => {
    const { error, task, tessera, state, runtime, taskError } = await run.value("remoteError");
    expect(state).toBe("failed");
    expect(taskError).toBe("RemoteError");
    expect(error).toEqual({
      class: "RemoteError",
      name: "RemoteError",
      code: "REMOTE_ERROR",
      message: expect.stringMatching(new RegExp(`^TypeError: bad input 7 \\(on ${runtime}[/)]`)),
      remoteName: "TypeError",
      remoteCode: "ERROR",
      remoteStack: expect.stringMatching(/^TypeError: bad input 7\n\s+at explode \(.*actor-classes\.ts:\d+:\d+\)/),
      runtime: expect.stringMatching(new RegExp(`^${runtime}(/|$)`)),
      tessera,
      method: "explode",
      task,
    });
  });

  test("a RemoteError names the worker the task ran on as its runtime", async () => {
    const { error, runtime } = await run.value("remoteError");
    // The uid of a runtime of the network (usable with runtime.getWorker()), not of one of its threads.
    expect((error as ErrorInfo).runtime).toBe(runtime);
  });

  test("a tessera stays usable after one of its methods throws, and later calls still run in order", async () => {
    expect(await run.value("usableAfterThrow")).toEqual({ error: "TypeError", list: [1, 2], after: 3 });
  });

  test("calling a method the class does not have throws UnknownTesseraMethodError at once, naming the class and the method", async () => {
    const { error, decorated, stillWorks, frozenCalls } = await run.value("unknownMethod");
    expect(error).toEqual({
      class: "UnknownTesseraMethodError",
      name: "UnknownTesseraMethodError",
      code: "UNKNOWN_TESSERA_METHOD",
      message: expect.stringMatching(/^Recorder has no method "nope" \(its methods: append, .*\)$/),
    });
    expect(decorated).toMatchObject({ class: "UnknownTesseraMethodError", message: expect.stringContaining('Greeter has no method "shout"') });
    expect(stillWorks).toBe(1);
    expect(frozenCalls).toEqual([1, 2]);
  });

  test("an argument that cannot travel throws InvalidArgumentError at once, naming its path", async () => {
    const { fn, instance, constructorArgs, symbol, stillWorks } = await run.value("unsendable");
    const invalid = (message: string) => ({ class: "InvalidArgumentError", name: "InvalidArgumentError", code: "INVALID_ARGUMENT", message });
    expect({ fn, instance, constructorArgs, symbol }).toEqual({
      fn: invalid("cannot call Recorder.echo: args[0].fn is a function"),
      instance: invalid(expect.stringContaining("cannot call Recorder.echo: args[0][1] is an instance of Point")),
      constructorArgs: invalid("cannot create Recorder: args[0] is a function"),
      symbol: invalid("cannot call Recorder.echo: args[0].deep.list[1] is a symbol"),
    });
    expect(stillWorks).toEqual({ plain: true });
  });

  test("a class declared with @tessera extending Tessera works like tessera(class ...), also with options()", async () => {
    expect(await run.value("decorator")).toEqual({ greeting: "Hello, Mosaic!", later: "Hey, Bun!", placedOn: "worker:0:1" });
  });

  test("the monitor places tesserae round-robin, options({ worker }) places one explicitly, and an unknown worker is refused", async () => {
    const { runtimes, explicit, nowhere } = await run.value("placement");
    expect(runtimes.toSorted()).toEqual(["worker:0:0", "worker:0:0", "worker:0:1", "worker:0:1"]);
    expect(runtimes[0]).not.toBe(runtimes[1]);
    expect(explicit).toBe("worker:0:1");
    expect(nowhere).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining('no worker "worker:9:9"') });
  });

  test("a class that the workers' program never declared fails with ClassNotFoundError naming the class", async () => {
    const { creation, state, task } = await run.value("missingClass");
    expect(state).toBe("failed");
    expect(creation).toMatchObject({
      class: "RemoteError",
      remoteName: "ClassNotFoundError",
      remoteCode: "CLASS_NOT_FOUND",
      message: expect.stringContaining("tessera class Ghost (actor-classes.ts) is not declared"),
    });
    expect(task).toMatchObject({ method: "boo", message: expect.stringContaining("Ghost") });
  });

  test("console.log in a method reaches the head's stdout with the worker's prefix", async () => {
    const [left, right] = await run.value<string[]>("consoleLines");
    await run.head.waitForLine(left!);
    await run.head.waitForLine(right!);
    expect(run.head.lines.stdout).toContain(`WORKER:0:0      ${left}`);
    expect(run.head.lines.stdout).toContain(`WORKER:0:1      ${right}`);
  });
});
