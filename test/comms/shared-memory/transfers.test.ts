import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { expectTreeGone, readyTree, spawnFixture } from "../../_helpers/processes.ts";

function segmentsOf(cluster: string): string[] {
  return readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${cluster}-`));
}

describe("shared-memory segments", () => {
  test("SIGKILL of the head in the middle of large transfers leaves no segment in /dev/shm once the tree is gone", async () => {
    await using head = spawnFixture("data-fixture.ts", ["streamUntilKilled"]);
    const tree = await readyTree(head);
    // A random cluster id, not the head's pid (pids repeat across machines).
    expect(tree.cluster).toMatch(/^[0-9a-f]{12}$/);
    await head.waitForLine(/^streaming$/, { timeout: 30_000 });
    // A segment the head wrote and nobody mapped yet (as if the kill came right after the write).
    writeFileSync(`/dev/shm/mosaic-${tree.cluster}-${tree.headPid}-999999`, new Uint8Array(4096));
    head.kill("SIGKILL");
    await head.waitForExit();
    await expectTreeGone(tree, { within: 5000 });
    expect(segmentsOf(tree.cluster)).toEqual([]);
  });
});
