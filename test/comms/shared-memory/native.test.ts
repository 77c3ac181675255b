import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, SpawnedProcess, spawnFixture } from "../../_helpers/processes.ts";

const MiB = 2 ** 20;

async function resultOf(fixture: SpawnedProcess): Promise<Record<string, unknown>> {
  const line = await fixture.waitForLine(/^result \{/, { timeout: 60_000 });
  expect(await fixture.waitForExit()).toEqual({ code: 0, signal: null });
  return JSON.parse(line.slice("result ".length));
}

/**
 * A new 4 MiB segment with a 3 MiB payload: every page allocated, the rest zero; natively, the payload written
 * through the file (none of its pages mapped here: the copy into a mapping that was mapped in first took ~2.2x as
 * long), its pages mapped here in idle time after it, for the next payload's copy (`mappedNextTurn`).
 */
const written = { size: 4 * MiB, allocated: 4 * MiB, payloadSum: 3 * MiB * 7, restSum: 0, mapped: 0 };

describe.skipIf(process.platform !== "linux" || !existsSync("/dev/shm"))("segment memory through libc (fallocate, madvise)", () => {
  test("a new segment gets its pages in one call, its first payload goes through the file and its mapping is mapped in one call at the next turn; one for a caller that writes it is mapped before; one prepared in idle time all of them", async () => {
    await using fixture = spawnFixture("native-memory-fixture.ts", ["pool"]);
    expect(await resultOf(fixture)).toEqual({
      native: true,
      written: { ...written, mappedNextTurn: 3072 },
      empty: { size: 2 * MiB, allocated: 2 * MiB, sum: 2 * MiB * 9, mappedBeforeWrite: 2048 },
      warm: { made: true, size: 8 * MiB, allocated: 8 * MiB, mapped: 8192, usedNext: true },
    });
  });

  test("without the native calls (MOSAIC_NATIVE_MEMORY=0, as where bun:ffi or libc is missing) segments are made as before: zeros written, pages mapped only as a copy touches them (no payload goes through the file: the mapping could never be mapped in ahead of the next); one prepared in idle time has each of its pages written, so all are mapped", async () => {
    await using fixture = spawnFixture("native-memory-fixture.ts", ["pool"], { env: { MOSAIC_NATIVE_MEMORY: "0" } });
    expect(await resultOf(fixture)).toEqual({
      native: false,
      written: { ...written, mapped: 3072, mappedNextTurn: 3072 },
      empty: { size: 2 * MiB, allocated: 2 * MiB, sum: 2 * MiB * 9, mappedBeforeWrite: 0 },
      warm: { made: true, size: 8 * MiB, allocated: 8 * MiB, mapped: 8192, usedNext: true },
    });
  });

  test("a compiled binary (bun build --compile) reaches libc too", async () => {
    // Built outside the repository, so that nothing can come from node_modules.
    const dir = mkdtempSync(join(tmpdir(), "mosaic-native-test-"));
    try {
      const binary = join(dir, "native-memory");
      await using build = new SpawnedProcess([process.execPath, "build", "--compile", join(FIXTURES, "native-memory-fixture.ts"), "--outfile", binary]);
      expect(await build.waitForExit(120_000)).toEqual({ code: 0, signal: null });
      await using fixture = new SpawnedProcess([binary, "pool"], { cwd: dir });
      expect(await resultOf(fixture)).toMatchObject({ native: true, empty: { mappedBeforeWrite: 2048 }, warm: { mapped: 8192 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  // A /dev/shm of 64 MiB of its own: a mount namespace (root, unshare) over a tmpfs that goes with it.
  const canMount = typeof process.getuid === "function" && process.getuid() === 0 && existsSync("/usr/bin/unshare");
  const inSmallShm = (env: Record<string, string> = {}) =>
    new SpawnedProcess(["unshare", "-m", "--propagation", "private", "sh", "-c", `mount -t tmpfs -o size=64m tmpfs /dev/shm && exec "$0" "$1" full`, process.execPath, `${FIXTURES}/native-memory-fixture.ts`], { env });
  const moved = { sums: [8 * MiB, 24 * MiB, 60 * MiB], backSum: 8 * MiB * 3, routes: ["24 MiB shm", "60 MiB tcp", "8 MiB shm"] };

  test.skipIf(!canMount)("in a full /dev/shm, fallocate fails with ENOSPC and keeps no page, and a payload that fits no segment takes the socket", async () => {
    await using fixture = inSmallShm();
    expect(await resultOf(fixture)).toEqual({ native: true, refused: "ENOSPC", left: 0, ...moved });
  });

  test.skipIf(!canMount)("without the native calls a full /dev/shm sends the same payloads the same ways", async () => {
    await using fixture = inSmallShm({ MOSAIC_NATIVE_MEMORY: "0" });
    expect(await resultOf(fixture)).toEqual({ native: false, left: 0, ...moved });
  });
});

