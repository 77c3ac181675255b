import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnFixture } from "../../_helpers/processes.ts";

test("a tessera's creation on a named worker leaves when the program makes it, not when the program's code of that tick ends: its worker makes it while that code still runs", async () => {
  const marker = join(tmpdir(), `mosaic-early-creation-${process.pid}`);
  rmSync(marker, { force: true });
  try {
    await using head = spawnFixture("early-creation-fixture.ts", [], { env: { EARLY_MARKER: marker } });
    const line = await head.waitForLine(/^result /, { timeout: 60_000 });
    expect(JSON.parse(line.slice("result ".length))).toEqual({ whileBusy: true, results: [2, 3, 4] });
    expect((await head.exited).code).toBe(0);
  } finally {
    rmSync(marker, { force: true });
  }
}, 90_000);
