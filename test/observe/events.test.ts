import { afterEach, describe, expect, test } from "bun:test";
import * as mosaic from "../../src/index.ts";
import { EventStream, InvalidArgumentError, TimeoutError, type RuntimeEvent } from "../../src/index.ts";

afterEach(async () => {
  await mosaic.stop();
});

describe("the event stream", () => {
  test("listeners get the events of their type until they unsubscribe; wants() says whether anyone listens", () => {
    const stream = new EventStream();
    const seen: string[] = [];
    expect(stream.wants("runtime.lost")).toBe(false);
    const off = stream.on("runtime.lost", (event) => seen.push(event.uid));
    const offAll = stream.on("*", (event) => seen.push(`* ${event.type}`));
    expect([stream.wants("runtime.lost"), stream.wants("spill")]).toEqual([true, true]);
    stream.emit({ type: "runtime.lost", uid: "worker:0:1", reason: "killed", time: 1 });
    off();
    stream.emit({ type: "runtime.lost", uid: "worker:0:0", reason: "killed", time: 2 });
    offAll();
    stream.emit({ type: "runtime.lost", uid: "node:0", reason: "killed", time: 3 });
    expect(seen).toEqual(["worker:0:1", "* runtime.lost", "* runtime.lost"]);
    expect([stream.wants("runtime.lost"), stream.wants("spill")]).toEqual([false, false]);
  });

  test("interest changes are reported once per change; a throwing listener does not stop the others", () => {
    const errors: string[] = [];
    const stream = new EventStream((error, event) => errors.push(`${event.type}: ${(error as Error).message}`));
    const interest: string[][] = [];
    stream.onInterest((types) => interest.push(types.toSorted()));
    const seen: string[] = [];
    const offBad = stream.on("spill", () => {
      throw new Error("listener bug");
    });
    const offGood = stream.on("spill", (event) => seen.push(event.direction));
    stream.emit({ type: "spill", runtime: "worker:0:0", direction: "out", bytes: 10, time: 0 });
    offBad();
    offGood();
    expect({ seen, errors, interest }).toEqual({ seen: ["out"], errors: ["spill: listener bug"], interest: [["spill"], []] });
  });

  test("a listener throwing a value that cannot be printed (null prototype, throwing proxy) is reported by default, and the others still run", () => {
    const stream = new EventStream();
    const seen: string[] = [];
    stream.on("spill", () => {
      throw Object.create(null);
    });
    stream.on("spill", () => {
      throw new Proxy({}, { get: () => { throw new Error("trap"); }, getPrototypeOf: () => { throw new Error("trap"); } });
    });
    stream.on("spill", (event) => seen.push(event.direction));
    const printed: unknown[][] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => void printed.push(args);
    try {
      stream.emit({ type: "spill", runtime: "worker:0:0", direction: "in", bytes: 10, time: 0 });
    } finally {
      console.error = consoleError;
    }
    expect({ seen, printed }).toEqual({ seen: ["in"], printed: [["mosaic: a listener of spill events threw: [object Object]"], ["mosaic: a listener of spill events threw: [object]"]] });
  });

  test("an unknown event type or a listener that is not a function is refused with InvalidArgumentError", () => {
    const stream = new EventStream();
    expect(() => stream.on("task.exploded" as never, () => {})).toThrow(InvalidArgumentError);
    expect(() => stream.on("task.done", 42 as never)).toThrow(InvalidArgumentError);
  });

  test("next() resolves with the first matching event, or rejects with TimeoutError", async () => {
    const stream = new EventStream();
    const next = stream.next("runtime.joined", (event) => event.role === "worker");
    stream.emit({ type: "runtime.joined", uid: "node:0", role: "node", address: "127.0.0.1", port: 1, pid: 1, time: 0 });
    stream.emit({ type: "runtime.joined", uid: "worker:0:0", role: "worker", address: "127.0.0.1", port: 2, pid: 2, time: 0 });
    expect((await next).uid).toBe("worker:0:0");
    expect(stream.wants("runtime.joined")).toBe(false);
    expect(await stream.next("runtime.lost", undefined, 5).catch((error) => error)).toBeInstanceOf(TimeoutError);
    expect(stream.wants("runtime.lost")).toBe(false);
  });
});

describe("runtime events of a real tree", () => {
  test("every runtime joins before the head reports started, and a killed worker is reported lost with its reason", async () => {
    const seen: RuntimeEvent[] = [];
    const off = mosaic.events.on("*", (event) => seen.push(event));
    try {
      const runtime = await mosaic.init({ numNodes: 1, numWorkers: 2, logLevel: "error" });
      expect(runtime.events).toBe(mosaic.events);
      const order = seen.map((event) => (event.type === "runtime.joined" ? `joined ${event.uid}` : event.type));
      expect(order).toEqual(["joined monitor", "joined node:0", "joined worker:0:0", "joined worker:0:1", "runtime.started"]);
      const worker = runtime.workers[1]!;
      const lost = mosaic.events.next("runtime.lost", (event) => event.uid === worker.uid);
      process.kill(worker.pid, "SIGKILL");
      expect((await lost).reason).toContain("SIGKILL");
    } finally {
      off();
    }
  });
});
