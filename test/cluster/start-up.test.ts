import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnFixture } from "../_helpers/processes.ts";

test("the monitor and the node do not run the user's program; the head, each worker and its tessera threads do", async () => {
  const folder = mkdtempSync(join(tmpdir(), "mosaic-start-up-"));
  const marks = join(folder, "marks");
  try {
    await using head = spawnFixture("start-up-fixture.ts", [], { env: { FIXTURE_MARKS: marks } });
    const line = await head.waitForLine(/^pids /);
    expect((await head.waitForExit()).code).toBe(0);
    const { workers, calls } = JSON.parse(line.slice("pids ".length)) as { workers: number[]; calls: number[] };
    // Each call ran in its own worker's process (on a tessera thread there), with the program's class.
    expect(calls).toEqual(workers);
    const seen = readFileSync(marks, "utf8").trim().split("\n").map((entry) => entry.split(" "));
    const roles = seen.map(([role]) => role).toSorted();
    expect(roles).toEqual(["head", "thread", "thread", "worker", "worker"]);
    expect(seen.filter(([role]) => role !== "head").map(([, pid]) => Number(pid)).toSorted()).toEqual([...workers, ...workers].toSorted());
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test("a head port another process holds fails init() with AddressInUseError naming it, and the program then ends by itself", async () => {
  await using head = spawnFixture("port-in-use-fixture.ts");
  expect(await head.waitForLine(/^failed /)).toBe("failed AddressInUseError ADDRESS_IN_USE");
  expect(await head.waitForLine(/^message /)).toMatch(/^message port \d+ on 127\.0\.0\.1 is in use/);
  expect((await head.waitForExit()).code).toBe(0);
});
