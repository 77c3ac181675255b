import { expect, test } from "bun:test";
import { spawnFixture } from "../_helpers/processes.ts";

test("a program that throws when a tessera thread loads it fails each creation with its own error, naming the thread; the worker starts no more threads and serves on", async () => {
  await using head = spawnFixture("thread-start-fixture.ts", []);
  const line = await head.waitForLine(/^result /, { timeout: 60_000 });
  const failed = (thread: number) => ({
    class: "RemoteError",
    name: "TypeError",
    message: `TypeError: tessera thread ${thread} of worker:0:0 could not start: its program threw while the thread loaded it: this program cannot run in a tessera thread (on worker:0:0)`,
  });
  expect(JSON.parse(line.slice("result ".length))).toEqual({ first: failed(0), second: failed(1), read: { kept: [1, 2, 3] }, threads: 0 });
  expect((await head.exited).code).toBe(0);
}, 90_000);

test("a tessera thread sees its worker's environment as the worker's program left it, and what the head set before it started", async () => {
  await using head = spawnFixture("thread-env-fixture.ts", []);
  const line = await head.waitForLine(/^result /, { timeout: 60_000 });
  expect(JSON.parse(line.slice("result ".length))).toEqual({ worker: "by the worker's program", head: "by the head" });
  expect((await head.exited).code).toBe(0);
}, 90_000);

test("shared memory a tessera thread makes while its program loads counts as its worker's (the records it adopts once it listens)", async () => {
  await using head = spawnFixture("thread-records-fixture.ts", []);
  const line = await head.waitForLine(/^result /, { timeout: 60_000 });
  expect(JSON.parse(line.slice("result ".length))).toEqual({ length: 2 ** 20, grew: 8 * 2 ** 20 });
  expect((await head.exited).code).toBe(0);
}, 90_000);

test("a tessera thread's settings reach neither the program's modules that load before the library nor a Worker of its own", async () => {
  // From source (no build): there the program's first modules load before the library.
  await using head = spawnFixture("thread-settings-fixture.ts", [], { env: { MOSAIC_BUNDLE: "0" } });
  const line = await head.waitForLine(/^result /, { timeout: 60_000 });
  expect(JSON.parse(line.slice("result ".length))).toEqual({ seenBeforeLibrary: false, ownWorkerRole: "head" });
  expect((await head.exited).code).toBe(0);
}, 90_000);
