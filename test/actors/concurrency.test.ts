import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, overlap, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

// blockingSameWorker runs first: it needs worker:0:0 with no tessera yet, so that its two tesserae
// get a thread each (a worker puts a new tessera on its least loaded thread, and starts a second
// thread when its first hosts one); tesserae left by scenarios before it could leave it one thread.
const SCENARIOS = ["blockingSameWorker", "ordering", "parallel", "barrier", "asyncFor"];

// One runtime tree (head, monitor, node, two workers) for the whole file.
// Overlaps are judged from the timestamps the methods return, not from how long anything took.
describeScenarios("concurrency", () => ScenarioRun.start(SCENARIOS), (run) => {
  test("calls on one tessera run in call order, synchronous and async methods mixed", async () => {
    expect(await run.value("ordering")).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  test("methods of tesserae on different workers run at the same time", async () => {
    const { left, right, runtimes } = await run.value("parallel");
    expect(runtimes).toEqual(["worker:0:0", "worker:0:1"]);
    expect({ left, right, overlap: overlap(left, right) }).toEqual({ left, right, overlap: true });
  });

  test("a method blocking its thread does not block another tessera on the same worker, nor pings of that worker", async () => {
    const { before, blocked, stampAt, pong, places, counts } = await run.value("blockingSameWorker");
    // Both tesserae live in the worker:0:0 process, on two threads: the worker hosted nothing before.
    expect(before).toEqual({ tesserae: 0, threads: 0 });
    expect(places[0].pid).toBe(places[1].pid);
    expect(places[0].threadId).not.toBe(places[1].threadId);
    expect(counts.threads).toBe(2);
    // The other tessera answered, and the worker its ping, while the blocking method ran.
    expect({ stampAt, during: blocked.start < stampAt && stampAt < blocked.end }).toEqual({ stampAt, during: true });
    expect(pong.uid).toBe("worker:0:0");
    expect({ pongAt: pong.at, during: blocked.start < pong.at && pong.at < blocked.end }).toEqual({ pongAt: pong.at, during: true });
  });

  test("barrier() resolves once every submitted task is done, and rejects with TimeoutError when its timeout passes first", async () => {
    const { pendingBefore, early, napState, pendingAfter, length } = await run.value("barrier");
    expect(pendingBefore).toBe(51);
    expect(early).toMatchObject({ class: "TimeoutError", code: "TIMEOUT", message: expect.stringContaining("still pending after 20 ms") });
    expect({ napState, pendingAfter, length }).toEqual({ napState: "done", pendingAfter: 0, length: 50 });
  });

  test("asyncFor spreads the items over the workers, one at a time per worker, and returns results in item order", async () => {
    const { results, failure } = await run.value("asyncFor");
    expect(results.map((r: { item: number; index: number }) => [r.item, r.index])).toEqual(Array.from({ length: 10 }, (_, i) => [i, i]));
    const byWorker = new Map<string, { start: number; end: number }[]>();
    for (const r of results) byWorker.set(r.worker, [...(byWorker.get(r.worker) ?? []), r]);
    // Both workers got items, and a worker never ran two of them at once.
    expect([...byWorker.keys()].sort()).toEqual(["worker:0:0", "worker:0:1"]);
    for (const spans of byWorker.values()) {
      const sorted = [...spans].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
    }
    expect(failure).toMatchObject({ message: "item 2 is bad" });
  });
});
