import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { createSecret } from "../../../src/comms/handshake.ts";
import { TcpServer } from "../../../src/comms/transports/tcp.ts";
import { expectProcessesGone, expectTreeGone, readyTree, spawnFixture } from "../../_helpers/processes.ts";

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

  // The orphans ask the head over TCP whether the cluster is going down: once the head is gone, its port
  // may belong to another program (here a restarted head on the same fixed port, of another cluster).
  test("SIGKILL of the head whose port another cluster's head takes at once still leaves no segment in /dev/shm", async () => {
    const free = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = free.port;
    free.stop(true);
    await using head = spawnFixture("head-fixture.ts", [], { env: { FIXTURE_OPTIONS: JSON.stringify({ port }) } });
    const tree = await readyTree(head);
    const monitor = tree.runtimes.find((runtime) => runtime.uid === "monitor")!;
    writeFileSync(`/dev/shm/mosaic-${tree.cluster}-${tree.headPid}-999999`, new Uint8Array(4096));
    // The monitor (the head's orphan) is held until the port is taken: it then finds the newcomer there.
    process.kill(monitor.pid, "SIGSTOP");
    head.kill("SIGKILL");
    await head.waitForExit();
    const newcomer = new TcpServer("127.0.0.1", port, {
      self: { uid: "head", address: "127.0.0.1", pid: process.pid, machine: "test" },
      secret: createSecret(),
      handler: { onRequest: () => null, onCommand: () => {} },
      log: () => {},
    });
    try {
      process.kill(monitor.pid, "SIGCONT");
      await expectProcessesGone(tree.pids, { within: 5000 });
    } finally {
      newcomer.stop();
    }
    await expectTreeGone(tree, { within: 0 });
    expect(segmentsOf(tree.cluster)).toEqual([]);
  });

  test("workers orphaned while the head lives (their node was killed) leave the cluster's segments to it", async () => {
    await using head = spawnFixture("head-fixture.ts");
    const tree = await readyTree(head);
    const segment = `/dev/shm/mosaic-${tree.cluster}-${tree.headPid}-999999`;
    writeFileSync(segment, new Uint8Array(4096));
    const node = tree.runtimes.find((runtime) => runtime.uid === "node:0")!;
    process.kill(node.pid, "SIGKILL");
    await expectProcessesGone(tree.workers.map((worker) => worker.pid), { within: 5000 });
    expect(existsSync(segment)).toBe(true);
    head.closeStdin();
    expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
    expect(segmentsOf(tree.cluster)).toEqual([]);
  });
});

// A young collection after such calls: 2-3 segments in the runs measured; left to the collector's own schedule, 6 (16 MiB)
// and 7-10 (3 MiB, which takes segments of 4 MiB).
test.each([16, 3])("large arguments' pooled segments come back from a tessera thread once its methods are done with them: 20 calls of %i MiB one after another take at most 4 of the head's segments", async (mib) => {
  await using head = spawnFixture("segment-return-fixture.ts", [String(mib)]);
  const line = await head.waitForLine(/^result /, { timeout: 60_000 });
  const result = JSON.parse(line.slice("result ".length)) as { right: boolean; segments: number };
  expect(result.right).toBe(true);
  expect(result.segments).toBeLessThanOrEqual(4);
  expect((await head.exited).code).toBe(0);
}, 90_000);

test("a large array sent again unchanged shares the segment it was copied into, both ways, while the earlier one is held; changed, it is copied, and each call sees its own bytes", async () => {
  await using head = spawnFixture("unchanged-payload-fixture.ts", ["16"]);
  const line = await head.waitForLine(/^result /, { timeout: 60_000 });
  // Before, each of 12 fetches took a segment of its own (11-12 new ones), and 12 calls with one argument 4.
  expect(JSON.parse(line.slice("result ".length))).toMatchObject({ wrong: [], earlier: true, later: true, resultsUnchanged: 0, resultsChanged: 12 });
  expect(JSON.parse(line.slice("result ".length)).argumentsUnchanged).toBeLessThanOrEqual(1);
  expect((await head.exited).code).toBe(0);
}, 90_000);

test("two results sharing a segment of a thread that ends: releasing one leaves the segment to the other, which is fetched intact", async () => {
  await using head = spawnFixture("shared-result-exit-fixture.ts", []);
  const line = await head.waitForLine(/^result /, { timeout: 60_000 });
  // Before, the first hand-back after the thread's end removed the file, and the second result could not be mapped.
  expect(JSON.parse(line.slice("result ".length))).toEqual({ died: "WorkerDiedError", second: [2 ** 20, 3, 3] });
  expect((await head.exited).code).toBe(0);
}, 90_000);

describe("a large argument of a call made while its tessera is being created", () => {
  test("waits at the head in the head's segment with the values it had when the call was made, then goes straight to the thread: the worker maps it once", async () => {
    await using head = spawnFixture("held-payload-fixture.ts", []);
    const line = await head.waitForLine(/^result /, { timeout: 60_000 });
    // Through the worker's main thread it took two mappings there (the head's segment, then the thread's of the worker's copy).
    expect(JSON.parse(line.slice("result ".length))).toEqual({ state: "pending", sum: 2, mapped: 1 });
    expect((await head.exited).code).toBe(0);
  }, 90_000);

  test("whose thread dies while it maps the argument leaves the head no segment lent out and no file", async () => {
    await using head = spawnFixture("held-payload-exit-fixture.ts", []);
    const line = await head.waitForLine(/^result /, { timeout: 60_000 });
    expect(JSON.parse(line.slice("result ".length))).toEqual({ state: "pending", outcome: "WorkerDiedError", failed: { lent: 0, files: 0 }, again: 4 * 2 ** 20 + 1 });
    expect((await head.exited).code).toBe(0);
  }, 90_000);

  test("sent as bytes on a link without shared memory arrives whole, though its pooled segment was that link's scratch before and goes back to the pool while the socket still sends it", async () => {
    await using head = spawnFixture("kept-scratch-fixture.ts", [], { env: { MOSAIC_SHARED_MEMORY: "0" } });
    const line = await head.waitForLine(/^result /, { timeout: 60_000 });
    // The frame writer once took the segment's memory for its own forever, queued the argument uncopied, and sent the third one's bytes in its place.
    expect(JSON.parse(line.slice("result ".length))).toEqual(["1:0", "2:0", "3:0"]);
    expect((await head.exited).code).toBe(0);
  }, 90_000);

  test("that the tessera keeps counts against the worker's budget, not the head's", async () => {
    await using head = spawnFixture("held-payload-budget-fixture.ts", []);
    const line = await head.waitForLine(/^result /, { timeout: 60_000 });
    expect(JSON.parse(line.slice("result ".length))).toEqual({ state: "pending", kept: 128, lentAwayMiB: 128, sharedArray: "400 MiB" });
    expect((await head.exited).code).toBe(0);
  }, 90_000);
});
