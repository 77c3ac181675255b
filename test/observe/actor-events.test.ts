import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const time = expect.any(Number);

describeScenarios("the head's actor events", () => ScenarioRun.start(["events"], "actor-head-fixture.ts"), (run) => {
  test("a tessera's creation, its calls (done, with or without their result, and failed), a failed creation and a release are reported in order", async () => {
    const { recorder, faulty, tasks, events, wantedAfter } = await run.value("events");
    const task = (uid: string, method: string) => ({ task: uid, id: expect.any(Number), tessera: recorder, method, worker: "worker:0:1" });
    const ended = { submitted: time, started: time, ended: time };
    const byTask = (uid: string) => events.filter((event: { task?: string }) => event.task === uid).map((event: { type: string }) => event.type);
    expect(events.filter((event: { type: string }) => event.type.startsWith("tessera."))).toEqual([
      { type: "tessera.created", tessera: recorder, className: "Recorder", worker: "worker:0:1", thread: expect.any(Number), restarts: 0, time },
      {
        type: "tessera.failed",
        tessera: faulty,
        className: "Unknown",
        worker: expect.stringMatching(/^worker:0:[01]$/),
        error: { class: "RemoteError", message: expect.stringContaining("Unknown") },
        time,
      },
      { type: "tessera.released", tessera: recorder, className: "Recorder", worker: "worker:0:1", time },
    ]);
    const ofTasks = events.filter((event: { type: string }) => event.type.startsWith("task."));
    expect(ofTasks).toContainEqual({ type: "task.submitted", ...task(tasks.appended, "append"), argumentBytes: expect.any(Number), time });
    // The Float32Array travels as a raw payload: it counts in the argument's bytes.
    expect(ofTasks).toContainEqual({ type: "task.submitted", ...task(tasks.big, "echo"), argumentBytes: expect.any(Number), time });
    const bigBytes = ofTasks.find((event: { type: string; task: string }) => event.type === "task.submitted" && event.task === tasks.big).argumentBytes;
    expect(bigBytes).toBeGreaterThanOrEqual(4096);
    expect(ofTasks).toContainEqual({ type: "task.done", ...task(tasks.appended, "append"), ...ended, resultBytes: expect.any(Number) });
    expect(ofTasks).toContainEqual({ type: "task.done", ...task(tasks.big, "echo"), ...ended, resultBytes: undefined });
    expect(ofTasks).toContainEqual({
      type: "task.failed",
      ...task(tasks.exploded, "explode"),
      ...ended,
      error: { class: "RemoteError", message: expect.stringContaining("TypeError: on purpose") },
    });
    for (const uid of Object.values(tasks) as string[]) expect(byTask(uid)).toHaveLength(2);
    const done = ofTasks.find((event: { type: string; task: string }) => event.type === "task.done" && event.task === tasks.appended);
    expect(done.ended).toBeGreaterThanOrEqual(done.submitted);
    expect(done.resultBytes).toBeGreaterThan(0);
    expect(wantedAfter).toEqual([]);
  });

  test("a task's submitted, started and ended events carry one id: task.started (produced on the thread, which knows no uid) pairs with the others", async () => {
    const { tasks, events } = await run.value("events");
    for (const uid of Object.values(tasks) as string[]) {
      const [submitted, ended] = events.filter((event: { task?: string }) => event.task === uid);
      expect(typeof submitted.id).toBe("number");
      const started = events.filter((event: { type: string; id?: number }) => event.type === "task.started" && event.id === submitted.id);
      expect({ ended: ended.id, started: started.map((event: { worker: string }) => event.worker) }).toEqual({ ended: submitted.id, started: ["worker:0:1"] });
    }
  });
});

describeScenarios("calls made by listeners of the head's task events", () => ScenarioRun.start(["listenerCalls"], "actor-head-fixture.ts"), (run) => {
  test("a call made by a listener while the program makes another (task.submitted) runs just before it, and calls made when tasks end (task.done) run once each; every call runs once, at the place its result says, the program's in the order it made them", async () => {
    const { made, items } = (await run.value("listenerCalls")) as { made: { value: number; result: number }[]; items: number[] };
    const program = made.filter(({ value }) => value < 1000);
    expect(program.map(({ value }) => value)).toEqual(Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 5 !== 0));
    expect(made.filter(({ value }) => value >= 2000).map(({ value }) => value).toSorted((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, k) => 2000 + k));
    expect(items).toHaveLength(made.length);
    expect(made.length).toBe(160 + 160 + 40);
    // Each ran once, where its result says.
    expect(made.filter(({ value, result }) => items[result - 1] !== value)).toEqual([]);
    expect(new Set(items).size).toBe(items.length);
    // The program's calls in the order made; each listener's call to task.submitted just before the one it saw.
    const at = new Map(made.map(({ value, result }) => [value, result]));
    expect(program.map(({ value }) => at.get(value)!)).toEqual(program.map(({ value }) => at.get(value)!).toSorted((a, b) => a - b));
    expect(program.filter(({ value, result }) => at.get(1000 + value) !== result - 1)).toEqual([]);
  });
});
