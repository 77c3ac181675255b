/**
 * `--log-level perf` and `debug` print lines made from events (transfers with
 * size, route and origin; placements), under the runtime they concern; at
 * info none of them, and the workers are not even asked for the events.
 */
import { describe, expect, test } from "bun:test";
import { expectTreeGone, readyTree, spawnFixture } from "../_helpers/processes.ts";
import { eventLine } from "../../src/observe/event-log.ts";

async function run(level: string): Promise<string[]> {
  await using head = spawnFixture("event-log-fixture.ts", [], { env: { MOSAIC_LOG_LEVEL: level } });
  expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
  expect(head.lines.stdout).toContain("sum 262144");
  return [...head.lines.stdout, ...head.lines.stderr];
}

const TRANSFER = /^WORKER:0:([01]) {6}received 2\.0 MiB from worker:0:([01]) via shared memory$/;
const PLACED = /^HEAD {12}placed Big tess-big-[0-9a-f]+ on worker:0:[01] thread \d+$/;

describe("event lines at perf and debug", () => {
  test("perf shows a worker-to-worker transfer under the worker that received it, with its size, route and origin", async () => {
    const lines = await run("perf");
    const transfers = lines.flatMap((line) => {
      const match = TRANSFER.exec(line);
      return match ? [{ to: match[1], from: match[2] }] : [];
    });
    // One transfer, between the two workers.
    expect(transfers.map(({ to, from }) => to !== from)).toEqual([true]);
    expect(lines.filter((line) => PLACED.test(line))).toEqual([]);
  });

  test("debug adds where each tessera was placed", async () => {
    const lines = await run("debug");
    expect(lines.filter((line) => PLACED.test(line))).toHaveLength(2);
    expect(lines.some((line) => TRANSFER.test(line))).toBe(true);
  });

  test("info shows neither", async () => {
    const lines = await run("info");
    expect(lines.filter((line) => TRANSFER.test(line) || PLACED.test(line))).toEqual([]);
  });

  test("perf shows a worker's missed heartbeats, under the node that watches it, before the timeout", async () => {
    const options = { logLevel: "perf", heartbeatInterval: 100, heartbeatTimeout: 20_000 };
    await using head = spawnFixture("head-fixture.ts", [], { env: { FIXTURE_OPTIONS: JSON.stringify(options) } });
    const tree = await readyTree(head);
    const worker = tree.workers[0]!;
    process.kill(worker.pid, "SIGSTOP");
    try {
      const line = await head.waitForLine(`${worker.uid} missed heartbeats`);
      expect(line).toMatch(new RegExp(`^NODE:0 {10}${worker.uid} missed heartbeats: silent for \\d+ ms \\(dead after 20000 ms\\)$`));
    } finally {
      process.kill(worker.pid, "SIGCONT");
    }
    head.closeStdin();
    expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
    await expectTreeGone(tree);
  });

  test("spills and refused memory read as sentences with sizes", () => {
    expect([
      eventLine({ type: "spill", runtime: "worker:0:1", direction: "out", bytes: 64 * 2 ** 20, time: 0 }),
      eventLine({ type: "spill", runtime: "worker:0:1", direction: "in", bytes: 1536, time: 0 }),
      eventLine({ type: "memory.pressure", runtime: "worker:0:0", requested: 3 * 2 ** 30, limit: 2 * 2 ** 30, time: 0 }),
    ]).toEqual([
      ["worker:0:1", "perf", "spilled 64.0 MiB to disk"],
      ["worker:0:1", "perf", "read 1.5 KiB back from disk"],
      ["worker:0:0", "perf", "refused 3.00 GiB: over its memory budget of 2.00 GiB"],
    ]);
  });
});
