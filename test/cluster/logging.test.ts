import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TreeInfo } from "../fixtures/_tree.ts";
import { expectTreeGone, listeningLines, readyTree, type SpawnedProcess, spawnFixture } from "../_helpers/processes.ts";

const LINES = 200;
const WORKERS = ["WORKER:0:0", "WORKER:0:1"];

/** The numbers of `<prefix> <word> <n>` lines, in the order they were printed. */
function numbered(lines: string[], prefix: string, word: string): number[] {
  const pattern = new RegExp(`^${prefix}\\s+${word} (\\d+)$`);
  return lines.flatMap((line) => {
    const m = pattern.exec(line);
    return m ? [Number(m[1])] : [];
  });
}

// One tree for the whole file: the tests read what its head printed.
describe("output of a runtime tree", () => {
  let head: SpawnedProcess;
  let tree: TreeInfo;

  beforeAll(async () => {
    head = spawnFixture("worker-output-fixture.ts", [], { env: { FIXTURE_LINES: String(LINES) } });
    tree = await readyTree(head);
    for (const prefix of WORKERS) {
      await head.waitForLine(new RegExp(`^${prefix}\\s+line ${LINES - 1}$`));
      await head.waitForLine(new RegExp(`^${prefix}\\s+problem 2$`), { stream: "stderr" });
    }
    head.closeStdin();
    await head.waitForExit();
  });

  afterAll(async () => {
    await head?.[Symbol.asyncDispose]();
  });

  test("a worker's console.log lines reach the head's stdout with the worker's prefix, all of them and in order", () => {
    const expected = Array.from({ length: LINES }, (_, i) => i);
    for (const prefix of WORKERS) expect(numbered(head.lines.stdout, prefix, "line")).toEqual(expected);
    const sample = head.lines.stdout.find((line) => line.endsWith(" line 0"));
    // The uid in capitals, padded to 16 characters.
    expect(sample).toMatch(/^WORKER:0:[01] {6}line 0$/);
  });

  test("a worker's console.error lines reach the head's stderr and not its stdout", () => {
    for (const prefix of WORKERS) {
      expect(numbered(head.lines.stderr, prefix, "problem")).toEqual([0, 1, 2]);
      expect(numbered(head.lines.stdout, prefix, "problem")).toEqual([]);
      expect(numbered(head.lines.stderr, prefix, "line")).toEqual([]);
    }
  });

  test("the head prints exactly one Listening line per runtime, with its pid and port", () => {
    const listening = listeningLines(head.lines.stdout).map(({ uid, pid, port }) => ({ uid, pid, port }));
    expect(listening.toSorted((a, b) => a.uid.localeCompare(b.uid))).toEqual(
      tree.runtimes.toSorted((a, b) => a.uid.localeCompare(b.uid)),
    );
  });

  test("the head stops the tree and exits cleanly when its program ends", async () => {
    expect(head.exitStatus).toEqual({ code: 0, signal: null });
    expect(head.lines.stdout.at(-1)).toBe("stopped");
    await expectTreeGone(tree, { within: 0 });
  });
});
