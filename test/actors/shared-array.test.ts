import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { spawnFixture, type SpawnedProcess } from "../_helpers/processes.ts";

setDefaultTimeout(120_000);

/** Runs the fixture to its end; its `case` lines by name, and what /dev/shm holds of its cluster afterwards. */
async function runFixture(args: string[], env: Record<string, string> = {}, fixture = "shared-array-fixture.ts") {
  const head: SpawnedProcess = spawnFixture(fixture, args, { env });
  try {
    const exit = await head.waitForExit(110_000);
    const cases: Record<string, any> = {};
    for (const line of head.lines.stdout) {
      const match = /^case (\w+) (.*)$/.exec(line);
      if (match) cases[match[1]!] = JSON.parse(match[2]!);
    }
    // Each runtime the fixture ran prints its cluster id.
    const clusters = head.lines.stdout.filter((line) => line.startsWith("cluster ")).map((line) => line.slice(8));
    const left = clusters.length > 0 ? readdirSync("/dev/shm").filter((name) => clusters.some((cluster) => name.startsWith(`mosaic-${cluster}-`))) : ["(no cluster line)"];
    return { exit, cases, left, stopped: head.lines.stdout.includes("stopped"), stderr: head.lines.stderr.slice(-20) };
  } finally {
    await head[Symbol.asyncDispose]();
  }
}

describe("shared arrays between processes of one machine", () => {
  let run: Awaited<ReturnType<typeof runFixture>>;
  beforeAll(async () => {
    run = await runFixture([]);
  });

  test("a shared array passed to a worker arrives with its contents, and the worker's write comes back with it", () => {
    expect(run.cases.roundTrip).toEqual({
      received: { type: "Float64Array", length: 1000, first: 0, last: 999 },
      sender: { length: 0, byteLength: 0, detached: true },
      back: { type: "Float64Array", length: 1000, second: 42, others: 0 },
      again: 1,
    });
  });

  test("sending detaches the sender's array, as a transfer list does (BigInt64Array too)", () => {
    expect(run.cases.bigint).toEqual({ type: "BigInt64Array", first: `${2n ** 60n + 1n}n`, senderLength: 0 });
  });

  test("a shared array made on one worker and passed to another as a dependency is one memory: the maker's stored result shows the other's write", () => {
    expect(run.cases.dependency).toEqual({ type: "Float64Array", length: 1 << 20, first: 1, at1024: 1024, originalFirst: 1 });
  });

  test("a call that waits for its tessera, and a constructor's argument, move the array too: the worker maps the sender's own file (no copy)", () => {
    expect(run.cases.waiting).toEqual({ call: true, constructor: true });
  });

  test("a 256 MiB shared array goes to a worker and back intact", () => {
    expect(run.cases.large).toEqual({
      seen: { type: "Float64Array", length: 32 * 2 ** 20, wrong: 0, last: 3 },
      senderLength: 0,
      back: [32 * 2 ** 20, 0, -1, 8192, 3],
    });
  });

  test("a worker holding the results of a tessera that returns the same array again and again maps it once, not once per result", () => {
    // Its tessera's thread maps it too: two mappings in all (one per result before, five here); a third when the
    // thread's collection leaves its last mapping before this one (a conservative scan may).
    const { mappings, ...rest } = run.cases.heldAgain;
    expect(rest).toEqual({ first: 9, length: 3 * 8192 });
    expect(mappings).toBeGreaterThanOrEqual(2);
    expect(mappings).toBeLessThanOrEqual(3);
  });

  test("a shared array put in the warehouse is read by a worker and got back", () => {
    expect(run.cases.put).toEqual({ read: 4, got: ["Float64Array", 1 << 18, 2], senderLength: 0, sizeCountsArray: true });
  });

  test("bad input is refused with a typed error naming the problem", () => {
    const { badInput } = run.cases;
    expect(badInput).toMatchObject({
      notTyped: { name: "InvalidArgumentError", message: expect.stringContaining("Array is not one") },
      plainClass: { name: "InvalidArgumentError", message: expect.stringContaining("typed array class") },
      negative: { name: "InvalidArgumentError", message: expect.stringContaining("not -1") },
      fraction: { name: "InvalidArgumentError", message: expect.stringContaining("not 1.5") },
      huge: { name: "OutOfMemoryError", code: "OUT_OF_MEMORY", message: expect.stringContaining("memory budget of head") },
      onWorker: expect.stringMatching(/^OutOfMemoryError: .*memory budget of worker:0:0/),
      empty: 0,
    });
  });

  test("a worker that dies holding a shared array leaves no file of it in /dev/shm", () => {
    expect(run.cases.death).toEqual({ before: expect.any(Number), after: 0 });
    expect(run.cases.death.before).toBeGreaterThan(0);
  });

  test("after stop, nothing of the cluster is left in /dev/shm", () => {
    expect({ exit: run.exit, stopped: run.stopped, left: run.left }).toEqual({ exit: { code: 0, signal: null }, stopped: true, left: [] });
  });
});

describe("shared arrays over TCP (as between machines)", () => {
  let run: Awaited<ReturnType<typeof runFixture>>;
  beforeAll(async () => {
    run = await runFixture(["tcp"], { MOSAIC_SHARED_MEMORY: "0" });
  });

  test("they are copied, and arrive as shared arrays that travel on", () => {
    expect(run.cases.roundTrip).toMatchObject({ sender: { length: 0 }, back: { length: 1000, second: 42, others: 0 }, again: 1 });
    expect(run.cases.large).toEqual({
      seen: { type: "Float64Array", length: 32 * 2 ** 20, wrong: 0, last: 3 },
      senderLength: 0,
      back: [32 * 2 ** 20, 0, -1, 8192, 3],
    });
  });

  test("a copy is not the same memory: the maker's stored result does not show the other worker's write", () => {
    expect(run.cases.dependency).toEqual({ type: "Float64Array", length: 1 << 20, first: 1, at1024: 1024, originalFirst: 0 });
  });

  test("nothing of the cluster is left in /dev/shm after stop", () => {
    expect({ exit: run.exit, left: run.left }).toEqual({ exit: { code: 0, signal: null }, left: [] });
  });
});

describe("shared arrays sent to a worker that just joined (its link still opening)", () => {
  let run: Awaited<ReturnType<typeof runFixture>>;
  beforeAll(async () => {
    run = await runFixture([], {}, "shared-array-join-fixture.ts");
  });

  test("a put object and a constructor's argument arrive whole, not empty", () => {
    expect(run.cases.joined).toEqual({ put: ["Float64Array", 1000, 7, 7], constructor: ["Float64Array", 2000, 9, 9] });
  });

  test("an array made in a runtime since stopped (its file removed) is sent in the next one as bytes, whole, and leaves the program", () => {
    expect(run.cases.later).toEqual({ described: ["Float64Array", 3000, 5, 5], senderLength: 0 });
  });

  test("nothing of either runtime is left in /dev/shm", () => {
    expect({ code: run.exit.code, stopped: run.stopped, left: run.left }).toEqual({ code: 0, stopped: true, left: [] });
  });
});
