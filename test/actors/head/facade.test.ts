import { describe, expect, setDefaultTimeout, test } from "bun:test";
import * as mosaic from "../../../src/index.ts";
import { DependencyError, InvalidArgumentError, OutOfMemoryError, RemoteError, tessera, WorkerDiedError } from "../../../src/index.ts";
import { describeError, localError } from "../../../src/errors.ts";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describe("tessera classes", () => {
  test("a class with a method named like a proxy member is refused at tessera(), naming the method", () => {
    for (const name of ["then", "release", "uid", "state", "runtime", "toJSON", "toString"]) {
      const Class = { [`Clash_${name}`]: class {} }[`Clash_${name}`]!;
      Object.defineProperty(Class.prototype, name, { value() {}, writable: true, configurable: true });
      expect(() => tessera(Class)).toThrow(InvalidArgumentError);
      expect(() => tessera(Class)).toThrow(`method "${name}"`);
    }
  });

  test("an inherited method with a reserved name is refused too; other names are fine", () => {
    class Base {
      release(): void {}
    }
    expect(() => tessera(class Derived extends Base {})).toThrow('its method "release"');
    expect(() => tessera(class Fine { released(): void {} })).not.toThrow();
  });
});

describe("errors that come back from another runtime", () => {
  const remote = (error: Error) => describeError(error, "worker:0:1");

  test("a dead worker's description becomes a WorkerDiedError naming the worker, the remote error kept as cause", () => {
    const error = localError(remote(new WorkerDiedError("worker:0:1", "a tessera thread of worker:0:1 exited")));
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect({ runtime: (error as WorkerDiedError).runtime, message: error.message, code: error.code }).toEqual({
      runtime: "worker:0:1",
      message: "a tessera thread of worker:0:1 exited",
      code: "WORKER_DIED",
    });
    expect(error.cause).toBeInstanceOf(RemoteError);
    expect((error.cause as RemoteError).remoteName).toBe("WorkerDiedError");
  });

  test("a failed dependency's description becomes a DependencyError whose cause chain reaches the upstream failure", () => {
    const upstream = new TypeError("upstream broke");
    const error = localError(remote(new DependencyError("dependency task-x failed", { cause: upstream })));
    expect(error).toBeInstanceOf(DependencyError);
    expect(error.message).toBe("dependency task-x failed (on worker:0:1)");
    const cause = error.cause as RemoteError;
    expect({ cause: cause.remoteName, upstream: (cause.cause as RemoteError).remoteName }).toEqual({ cause: "DependencyError", upstream: "TypeError" });
  });

  test("OutOfMemoryError is exported and rebuilt from its description", () => {
    const error = localError(remote(new OutOfMemoryError("cannot take 1 GiB more")));
    expect(error).toBeInstanceOf(mosaic.OutOfMemoryError);
    expect(error.message).toBe("cannot take 1 GiB more (on worker:0:1)");
  });

  test("a user's error stays a RemoteError", () => {
    expect(localError(remote(new RangeError("no")))).toBeInstanceOf(RemoteError);
  });
});

describeScenarios("the runtime handle, proxies and errors in a real tree", () => ScenarioRun.start(["printing", "facade", "errorClasses"], "actor-head-fixture.ts"), (run) => {
  test("a dead tessera thread rejects with WorkerDiedError itself; a failed dependency with DependencyError, the remote error as its cause", async () => {
    const { broken, dependent, dying } = await run.value("errorClasses");
    expect(dying).toMatchObject({ class: "WorkerDiedError", code: "WORKER_DIED", isWorkerDiedError: true, worker: "worker:0:0" });
    expect(dependent).toMatchObject({
      class: "DependencyError",
      code: "DEPENDENCY_FAILED",
      isDependencyError: true,
      // The dependent waited at the head for its upstream (sent straight to its thread): it never left the head.
      message: expect.stringContaining(`its dependency ${broken} failed: TypeError: upstream broke`),
      cause: { class: "RemoteError", remoteName: "TypeError", runtime: "worker:0:0", method: "explode", task: broken },
    });
  });

  test("the runtime, workers, tessera proxies, tasks, outputs and refs print as themselves, with String() and inspect alike", async () => {
    const { uids, ...texts } = await run.value("printing");
    const same = (text: string) => ({ string: text, template: text, inspect: text });
    expect(texts).toEqual({
      runtime: same(expect.stringMatching(/^<HeadRuntime uid=head, address=127\.0\.0\.1, port=\d+, state=running, nodes=1, workers=2>$/)),
      worker: same(expect.stringMatching(/^<RuntimeProxy uid=worker:0:0, address=127\.0\.0\.1, port=\d+, pid=\d+>$/)),
      tessera: same(`<TesseraProxy ${uids.recorder} on worker:0:0, ready>`),
      task: same(`<TaskProxy ${uids.task} on worker:0:0, done>`),
      output: same(`<TaskOutput 0 of ${uids.task}>`),
      done: same(`<DoneMarker of ${uids.task}>`),
      ref: same(`<ObjectRef uid=${uids.ref}, holder=worker:0:1, size=${texts.ref.string.match(/size=(\d+)/)?.[1]}>`),
    });
  });

  test("the runtime handle has the README's members and none of the head's machinery", async () => {
    expect(await run.value("facade")).toEqual({
      isHeadRuntime: true,
      sameEachTime: true,
      members: [
        "address", "asyncFor", "barrier", "cpuLoad", "dashboardUrl", "drop", "events", "fitsInMemory", "get", "getNode", "getWorker", "logger",
        "memoryLimit", "monitor", "nodes", "numNodes", "numWorkers", "pids", "port", "put", "state", "status", "toString", "uid", "waitForWorkers", "workers",
      ],
      internals: [],
    });
  });
});
