/**
 * Observability through a real run (test/fixtures/observe-fixture.ts): task
 * states and times, runtime.status(), mosaic.logger, the profile written at
 * stop and `mosaic profile`, and the run's log files.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";
import { spawnMosaic } from "../_helpers/processes.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

const workspace = mkdtempSync(join(tmpdir(), "mosaic-observe-test-"));
const profile = join(workspace, "profile.json");
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

const SCENARIOS = ["runningFromSamples", "runningFromEvents", "status", "logger", "calls"];
const env = { MOSAIC_MONITOR_INTERVAL: "100", MOSAIC_PROFILE: profile, MOSAIC_WORKSPACE: workspace, MOSAIC_LOG_LEVEL: "info" };

describeScenarios("observability", () => ScenarioRun.start(SCENARIOS, "observe-fixture.ts", { env }), (run) => {
  const ordered = (times: { submitted: number; started: number; ended: number }) =>
    times.submitted <= times.started && times.started <= times.ended;

  test("a call is pending when submitted, running once a resource sample shows it on its thread, done at the end", async () => {
    const { submitted, during, after, whileRunning, times } = await run.value("runningFromSamples");
    expect({ submitted, during, after, endedWhileRunning: whileRunning.ended ?? null, ordered: ordered(times) }).toEqual({
      submitted: "pending",
      during: "running",
      after: "done",
      endedWhileRunning: null,
      ordered: true,
    });
  });

  test("with a task.started listener the head learns the start from the thread's event", async () => {
    const { submitted, during, after, times } = await run.value("runningFromEvents");
    expect({ submitted, during, after, ordered: ordered(times) }).toEqual({ submitted: "pending", during: "running", after: "done", ordered: true });
  });

  test("status() samples the head, the node and both workers, and counts the running task", async () => {
    const { status, worker } = await run.value("status");
    const keys = ["cpu", "host", "memoryLimit", "pid", "role", "rss", "runtime", "sharedMemory", "tasksQueued", "tasksRunning", "time"];
    const all = [status.head, ...status.nodes, ...status.workers];
    expect(all.map((sample: Record<string, unknown>) => Object.keys(sample).sort())).toEqual(all.map(() => keys));
    expect(all.map((sample: { runtime: string }) => sample.runtime)).toEqual(["head", "node:0", "worker:0:0", "worker:0:1"]);
    const numbers = all.every((s: Record<string, number>) => s.cpu! >= 0 && s.rss! > 2 ** 20 && s.memoryLimit! > 0 && s.time! >= status.time);
    const running = Object.fromEntries(status.workers.map((s: { runtime: string; tasksRunning: number }) => [s.runtime, s.tasksRunning]));
    expect({ numbers, running: running[worker], tasks: status.tasks, unanswered: status.unanswered }).toEqual({
      numbers: true,
      running: 1,
      tasks: { pending: 0, running: 1 },
      unanswered: [],
    });
  });

  test("mosaic.logger lines of a tessera reach the head's terminal with the worker's prefix, below the log level dropped", async () => {
    const worker: string = await run.value("logger");
    const prefix = worker.toUpperCase().padEnd(15);
    // Warnings go to stderr, read apart from stdout: wait for the line rather than assume it is in.
    await run.head.waitForLine(`${prefix} warn: hello from a tessera`, { stream: "stderr" });
    const { stdout, stderr } = run.head.lines;
    expect({
      info: stdout.includes(`${prefix} info: hello from a tessera`),
      warn: stderr.includes(`${prefix} warn: hello from a tessera`),
      debug: [...stdout, ...stderr].some((line) => line.includes("debug: hello from a tessera")),
      head: stdout.includes(`${"HEAD".padEnd(15)} hello from the head`),
    }).toEqual({ info: true, warn: true, debug: false, head: true });
  });

  test("the profile is Chrome Trace Event JSON with one complete event per task, on its worker's track, times in order", async () => {
    const calls = await run.value("calls");
    await run.head.waitForExit(ACTOR_TEST_TIMEOUT - 5_000);
    const trace = JSON.parse(readFileSync(profile, "utf8"));
    expect(Array.isArray(trace.traceEvents)).toBe(true);
    for (const event of trace.traceEvents) {
      // The format's required fields, with its types.
      expect([typeof event.name, typeof event.ph, typeof event.pid, typeof event.tid, typeof event.ts]).toEqual(["string", "string", "number", "number", "number"]);
      expect(["X", "C", "M", "i"]).toContain(event.ph);
    }
    const processes = new Map<number, string>();
    for (const event of trace.traceEvents) if (event.ph === "M" && event.name === "process_name") processes.set(event.pid, event.args.name);
    const tasks = trace.traceEvents.filter((event: { ph: string; cat?: string }) => event.ph === "X" && event.cat?.startsWith("task"));
    const count = (name: string) => tasks.filter((event: { name: string }) => event.name === name).length;
    expect({ add: count("Adder.add"), scale: count("Scaler.scale"), fail: count("Adder.fail"), unique: new Set(tasks.map((t: any) => t.args.task)).size }).toEqual({
      add: calls.adds,
      scale: calls.scales,
      fail: calls.failed,
      unique: tasks.length,
    });
    const wrong = tasks.filter((event: any) => {
      const { submitted, started, ended, worker } = event.args;
      const onTrack = processes.get(event.pid) === worker && event.tid >= 1;
      return !(onTrack && started !== null && submitted <= started && started <= ended && event.ts === started * 1000 && event.dur === (ended - started) * 1000);
    });
    expect(wrong).toEqual([]);
    const scaleWorkers = new Set(tasks.filter((event: any) => event.name === "Scaler.scale").map((event: any) => event.args.worker));
    expect([...scaleWorkers]).toEqual([calls.scaler]);
    const counters = new Set(trace.traceEvents.filter((event: any) => event.ph === "C").map((event: any) => `${processes.get(event.pid)} ${event.name}`));
    expect(["worker:0:0 cpu", "worker:0:1 memory", "node:0 cpu"].filter((one) => !counters.has(one))).toEqual([]);
  });

  test("mosaic profile prints each method's count and the busiest workers", async () => {
    await run.head.waitForExit(ACTOR_TEST_TIMEOUT - 5_000);
    await using cli = spawnMosaic(["profile", profile]);
    expect(await cli.waitForExit(30_000)).toEqual({ code: 0, signal: null });
    const rows = Object.fromEntries(
      cli.lines.stdout.filter((line) => /^\w+\.\w+\s+\d+/.test(line)).map((line) => {
        const [name, count, failed] = line.split(/\s+/);
        return [name, [Number(count), Number(failed)]];
      }),
    );
    expect(rows).toEqual({ "Adder.add": [12, 0], "Scaler.scale": [3, 0], "Adder.fail": [1, 1], "Holder.holdUntil": [3, 0], "Holder.say": [1, 0] });
    expect(cli.lines.stdout).toContain("busiest workers");
    expect(cli.lines.stdout.filter((line) => /^worker:0:[01]\s+\d+/.test(line))).toHaveLength(2);
  });

  test("the run's folder in the workspace holds a log file per runtime with its lines, and the combined log", async () => {
    await run.head.waitForExit(ACTOR_TEST_TIMEOUT - 5_000);
    const [folder, ...others] = readdirSync(workspace).filter((name) => name !== "profile.json");
    expect(others).toEqual([]);
    const files = readdirSync(join(workspace, folder!)).sort();
    expect(files).toEqual(["head.log", "monitor.log", "mosaic.log", "node-0.log", "worker-0-0.log", "worker-0-1.log"]);
    const read = (file: string) => readFileSync(join(workspace, folder!, file), "utf8").trimEnd().split("\n");
    const stamped = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \w+\s+/;
    for (const file of files) expect(read(file).filter((line) => !stamped.test(line))).toEqual([]);
    for (const file of files.filter((f) => f !== "mosaic.log")) expect(read(file).some((line) => line.includes("Listening at"))).toBe(true);
    const worker: string = await run.value("logger");
    const own = read(`${worker.replaceAll(":", "-")}.log`);
    const combined = read("mosaic.log");
    expect({
      own: own.some((line) => / info\s+info: hello from a tessera$/.test(line)),
      combined: combined.some((line) => line.endsWith(`${worker.toUpperCase().padEnd(15)} warn: hello from a tessera`)),
      debug: combined.some((line) => line.includes("debug: hello from a tessera")),
    }).toEqual({ own: true, combined: true, debug: false });
  });
});
