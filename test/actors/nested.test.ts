import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios(
  "workers that use the runtime",
  // callerDies kills worker:0:0: it runs last.
  () => ScenarioRun.start(["warehouse", "createAndCall", "failures", "proxies", "returned", "headFirst", "threadFirst", "inTransit", "putInMethod", "selfInThen", "callerDies"], "nested-fixture.ts"),
  (run) => {
    test("put, get and drop work inside a method; the object stays on the worker that made it, and the head and other tesserae read it from there", async () => {
      const value = await run.value("warehouse");
      expect(value.inside).toEqual({
        holder: "worker:0:0",
        label: "made here",
        sum: 3072,
        afterDrop: expect.objectContaining({ class: "RuntimeStateError", message: expect.stringContaining("was dropped") }),
      });
      expect(value).toMatchObject({ isRef: true, holder: "worker:0:0", length: 1000, passed: 2000, objectsOnMaker: 1 });
      expect(value.afterDrop).toMatchObject({ class: "RuntimeStateError", message: expect.stringContaining("was dropped") });
    });

    test("a method creates tesserae and calls them, a task passed as an argument, and awaits the results", async () => {
      expect(await run.value("createAndCall")).toEqual({ first: 3, second: 103, worker: expect.stringMatching(/^worker:0:[01]$/), state: "ready" });
    });

    test("a nested call that throws rejects with the same typed error as on the head; an undeclared class and a call on the tessera itself fail clearly", async () => {
      const value = await run.value("failures");
      expect(value.thrown).toMatchObject({ class: "RemoteError", remoteName: "TypeError", message: expect.stringMatching(/^TypeError: no way \(on worker:0:[01]\)$/), method: "fail" });
      expect(value.unknown.created).toMatchObject({ class: "RemoteError", remoteName: "ClassNotFoundError", message: expect.stringContaining("tessera class Local (nested-fixture.ts) is not declared") });
      expect(value.unknown.call).toMatchObject({ remoteName: "ClassNotFoundError" });
      expect(value.self).toMatchObject({ class: "DeadlockError", code: "DEADLOCK", message: expect.stringContaining("was called from a method of tess-maker-") });
    });

    test("a tessera proxy passed as an argument, and returned in a result, can be called by whoever receives it", async () => {
      expect(await run.value("proxies")).toEqual({ given: 6, fromObject: [11, 12], passedOn: 111, counterAfter: 6 });
    });

    test("a synchronous method returning a nested call's task gives that task's result (or failure); one returning a tessera proxy sends it as a handle: a task taking it gets the proxy, result() fails saying what to write", async () => {
      const value = await run.value("returned");
      expect(value.forwarded).toBe(7);
      expect(value.failed).toMatchObject({ class: "RemoteError", remoteName: "TypeError", message: expect.stringMatching(/^TypeError: forwarded \(on worker:0:[01]\)$/) });
      expect(value.asResult).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("is a tessera proxy, which result() cannot resolve to") });
      expect(value.passed).toBe(42);
    });

    test("a tessera the head let go of lives while a tessera holds it, and is released when that one lets go", async () => {
      expect(await run.value("headFirst")).toEqual({ used: 10, earlyAfterUse: false });
    });

    test("a tessera a thread let go of (its proxy collected) lives while the head holds it, and is released when the head lets go", async () => {
      expect(await run.value("threadFirst")).toEqual({ stillThere: 2, state: "released" });
    });

    test("a tessera proxy in a call's arguments, a constructor's or an object the head put keeps its tessera alive while on its way, after the program released it; let go after", async () => {
      expect(await run.value("inTransit")).toEqual({ byCall: 2, byConstructor: 3, byObject: 4 });
    });

    test("a tessera named in an object a method put is let go when the object is dropped", async () => {
      expect(await run.value("putInMethod")).toEqual({ released: expect.stringMatching(/^tess-counter-worker\.0\.[01]\.thread\.\d\.\d+$/) });
    });

    test("a method that is not async but returns a promise, calling its own tessera in the promise's continuation, gets DeadlockError", async () => {
      expect(await run.value("selfInThen")).toEqual({ self: expect.objectContaining({ class: "DeadlockError", code: "DEADLOCK" }), after: "pong" });
    });

    test("when the worker of a tessera that created and called others dies, what it held is released at the head, and what its objects named", async () => {
      // Both the tessera it was calling and the one named by an object it kept (the program holds that object's ref).
      expect(await run.value("callerDies")).toEqual({ released: [expect.stringMatching(/^tess-counter-worker\.0\.0\.thread\.\d\.N$/), expect.stringMatching(/^tess-counter-worker\.0\.0\.thread\.\d\.N$/)] });
    });
  },
);
