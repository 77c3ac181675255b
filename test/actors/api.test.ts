import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios("the actor API", () => ScenarioRun.start(["arrays", "fields", "outputs", "waiting", "cancelling", "cancellingWaiting", "cancellingHeld", "registeredClasses", "remoteFunctions", "concurrency", "asyncForOptions"], "api-fixture.ts"), (run) => {
  test("asyncFor gives results in item order, or in completion order when asked; with a timeout it stops starting items and rejects with TimeoutError", async () => {
    const value = await run.value("asyncForOptions");
    expect(value.byItem).toEqual([300, 10, 150, 20]);
    // "first" waits until the three others (on the other worker's lane, one after another) have ended.
    expect(value.byCompletion).toEqual(["a", "b", "c", "first"]);
    expect(value.timedOut).toMatchObject({ class: "TimeoutError", message: expect.stringMatching(/asyncFor did not finish within 100 ms: 0 items ended, 2 were running/) });
    expect(value.badOrder).toMatchObject({ class: "InvalidArgumentError" });
    expect(value.badTimeout).toMatchObject({ class: "InvalidArgumentError" });
  });

  test("maxConcurrency lets an async tessera run several calls at once (they may end in any order); by default one at a time; each running call is cancelled on its own", async () => {
    const value = await run.value("concurrency");
    expect(value.endings).toEqual(["fast", "slow"]);
    expect(value.wideMost).toBe(4);
    expect(value.narrowMost).toBe(1);
    expect(value.firstOutcome).toMatchObject({ class: "CancelledError", message: "the call was cancelled while it ran" });
    expect(value.secondState).toBe("running");
    expect(value.secondOutcome).toMatchObject({ class: "CancelledError", message: "the call was cancelled while it ran" });
    expect(value.bad).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("maxConcurrency must be an integer >= 1") });
    // Two tesserae sharing a thread: cancelling one's running async call does not touch the other's.
    const cancelledWhileRunning = { class: "CancelledError", message: "the call was cancelled while it ran" };
    expect(value.shared).toMatchObject({ a: cancelledWhileRunning, bState: "running", b: cancelledWhileRunning });
  });

  test("remote functions: thousands of calls in flight, spread over the worker threads, with the dependency, error and result rules of methods", async () => {
    const value = await run.value("remoteFunctions");
    expect(value.correct).toBe(true);
    // Two workers with two threads each: calls went to more than one of them.
    expect(value.places).toBeGreaterThan(1);
    expect(value.chained).toBe(81);
    expect(value.intoMethod).toBe(17);
    expect(value.fromMethod).toBe(9);
    expect(value.large).toBe(2 ** 17);
    expect(value.failed).toMatchObject({ class: "RemoteError", remoteName: "TypeError", message: expect.stringContaining("no") });
    expect(value.dependent).toMatchObject({ class: "DependencyError", message: expect.stringContaining("upstream") });
    expect(value.missing).toMatchObject({ class: "RemoteError", remoteName: "ClassNotFoundError", message: expect.stringContaining("remote function headOnly") });
    expect(value.name).toBe("square");
    expect(value.notAFunction).toMatchObject({ class: "InvalidArgumentError" });
  });

  test("instances of registered classes travel as themselves, nested anywhere, both ways and through the warehouse; their constructor does not run on arrival; unregistered ones are refused with the path", async () => {
    const value = await run.value("registeredClasses");
    expect(value.arrived).toBe(true);
    expect(value.sharedKept).toBe(true);
    // Two arrived on the worker and none was constructed there: only the method's own two were.
    expect(value.constructedOnWorker).toEqual({ here: 2, before: 0 });
    expect(value.results).toEqual([{ isPoint: true, x: 4, norm: Math.hypot(4, 4) }, { isPoint: true, x: 2, norm: Math.hypot(2, 1) }]);
    expect(value.constructedOnHead).toBe(0);
    expect(value.warehouse).toEqual({ isPoint: true, norm: 5 });
    expect(value.builtinSubclass).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("Registry cannot be registered: it extends the built-in Map") });
    expect(value.unregistered).toMatchObject({ class: "InvalidArgumentError", message: expect.stringMatching(/args\[0\]\.points\[0\] is an instance of Unregistered.*register the class/) });
  });

  test("a tessera array spreads its elements over the workers; a call is broadcast and its results come in index order; each() gives each element its own argument", async () => {
    const value = await run.value("arrays");
    expect(value.length).toBe(4);
    expect(value.distinctWorkers).toBe(2);
    expect(value.broadcast).toEqual([1, 11, 21, 31]);
    expect(value.perElement).toEqual([1, 12, 23, 34]);
    expect(value.sameArgs).toEqual([7, 7]);
    expect(value.retried).toEqual([2, 12, 22, 32]);
    expect(value.printed).toBe("<TesseraArray Cell[4]>");
  });

  test("array[i], at(-1) and onWorker(uid) reach single elements and the elements of one worker, which keep their indices", async () => {
    const { one, at, routed } = await run.value("arrays");
    expect(one).toBe(25);
    expect(at).toBe(30);
    expect(routed.values).toEqual(routed.expected);
    expect(routed.length).toBe(routed.expected.length);
  });

  test("a failing element fails the array task with ArrayElementError naming its index (and the others that failed), the element's error as cause", async () => {
    const { failed, failedResult, failedState, twoFail, badConstructor } = await run.value("arrays");
    const element2 = { class: "ArrayElementError", code: "ARRAY_ELEMENT_FAILED", message: expect.stringMatching(/^element 2 of a Cell array \(tess-cell-\w+\) failed: .*cell 20 fails/), cause: { class: "RemoteError" } };
    expect(failed).toMatchObject(element2);
    expect(failedResult).toMatchObject(element2);
    expect(failedState).toBe("failed");
    expect(twoFail).toMatchObject({ message: expect.stringMatching(/^element 0 .*; 2 more failed \(indices 2, 3\)$/) });
    expect(badConstructor).toMatchObject({ class: "ArrayElementError", message: expect.stringMatching(/^element 1 of a Cell array .* cannot start below 0/) });
  });

  test("bad array calls are refused at once: a per-element argument of the wrong length, an unknown method", async () => {
    const { badLength, badElement, unknown } = await run.value("arrays");
    expect(badElement).toMatchObject({ class: "InvalidArgumentError", message: expect.stringMatching(/^cannot call Cell\[4\]\.add \(element 2\): args\[0\] is a function/) });
    expect(badLength).toMatchObject({ class: "InvalidArgumentError", message: "Cell[4].add: argument 0 has 2 values for 4 elements (each() takes one per element)" });
    expect(unknown).toMatchObject({ class: "UnknownTesseraMethodError", message: expect.stringContaining('Cell has no method "nothing"') });
  });

  test("$get and $set read and write a tessera's field in call order; an unknown field or a method fails its task; a name that is no string is refused", async () => {
    const value = await run.value("fields");
    expect({ set: value.set, added: value.added, read: value.read, label: value.label }).toEqual({ set: undefined, added: 8, read: 7, label: "cell" });
    expect(value.missing).toMatchObject({ class: "RemoteError", remoteName: "UnknownTesseraMethodError", message: expect.stringContaining('Cell has no field "nothing"') });
    expect(value.method).toMatchObject({ class: "RemoteError", message: expect.stringContaining('Cell has no field "add"') });
    expect(value.notAName).toMatchObject({ class: "InvalidArgumentError" });
  });

  test("outputs.key of an object result passes that field as an argument; outputs is not thenable", async () => {
    expect(await run.value("outputs")).toEqual({ fromMax: 109, fromMin: 103, awaitable: "undefined" });
  });

  test("wait() returns once numReturns tasks ended (ready in the order given, the rest pending), or at its timeout with what ended; bad input is refused", async () => {
    const value = await run.value("waiting");
    expect(value.firstTwo).toEqual({ ready: [false, false], pending: [true] });
    expect(value.timedOut).toEqual({ ready: 0, pending: 1 });
    expect(value.all).toEqual({ ready: 3, pending: 0 });
    expect(value.bad).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("numReturns must be an integer from 0 to the number of tasks (1)") });
    expect(value.notTasks).toMatchObject({ class: "InvalidArgumentError" });
    expect({ infinite: value.infinite, barrierInfinite: value.barrierInfinite }).toEqual({ infinite: 1, barrierInfinite: "done" });
    expect(value.tooLong).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("wait(): timeout must be from 0 to 2147483647 ms") });
  });

  test("cancel() of a call that has not started settles at once: queued behind a running async call, waiting on its worker behind a call that waits for a dependency, or arrived before its turn; the calls after them still run in order", async () => {
    const value = await run.value("cancellingWaiting");
    const notRun = { class: "CancelledError", message: "the call was cancelled before it ran" };
    expect(value.outcomes).toMatchObject({
      queued: notRun,
      behindWaiting: { class: "CancelledError", message: expect.stringContaining("the call was cancelled while it waited for its dependencies") },
      early: notRun,
    });
    expect(value.states).toEqual({ ahead: "running", waiting: "pending" });
    expect(value.aheadOutcome).toMatchObject({ class: "CancelledError", message: "the call was cancelled while it ran" });
    expect(value.ran).toEqual([["gate"], 4]);
    expect(value.after).toEqual([["gate"], 4, 5]);
  });

  test("cancel() of a call waiting at the head for its tessera's slow creation: a task on another worker depending on it fails with DependencyError (does not wait for ever), and a release that waited for the call still frees the tessera", async () => {
    const value = await run.value("cancellingHeld");
    expect(value.heldOutcome).toMatchObject({ class: "CancelledError", message: expect.stringContaining("was cancelled before it was sent") });
    expect(value.dependentOutcome).toMatchObject({ class: "DependencyError" });
    expect(value.freed).toBe(true);
  });

  test("cancel() drops a call not sent yet or queued on its worker (CancelledError; a task depending on it fails with DependencyError naming it), aborts a running async method's signal, leaves a running synchronous method and an ended task alone", async () => {
    const value = await run.value("cancelling");
    expect(value.earlyOutcome).toMatchObject({ class: "CancelledError", code: "CANCELLED", message: expect.stringContaining("was cancelled before it was sent") });
    expect(value.after).toBe(3);
    expect(value.queuedOutcome).toMatchObject({ class: "CancelledError", message: "the call was cancelled before it ran" });
    expect(value.dependentOutcome).toMatchObject({ class: "DependencyError", message: expect.stringMatching(/dependency task-cell-add-\w+ .*cancelled/) });
    expect(value.runningOutcome).toBe("done");
    expect(value.waiterOutcome).toMatchObject({ class: "CancelledError", message: "the call was cancelled while it ran" });
    expect(value.next).toBe(5);
    expect(value.endedState).toBe("done");
    expect(value.signalOutside).toMatchObject({ class: "RuntimeStateError" });
  });
});
