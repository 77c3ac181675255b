import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./processes.ts";

test("a bun test run leaves no temporary workspace behind (the preload removes the one it made)", async () => {
  // A private TMPDIR: the run's workspace is made there, and nothing else writes there meanwhile.
  const tmp = mkdtempSync(join(tmpdir(), "mosaic-preload-test-"));
  try {
    const env: Record<string, string | undefined> = { ...process.env, TMPDIR: tmp };
    delete env.MOSAIC_WORKSPACE; // as in a fresh run: the preload makes its own
    const run = Bun.spawn([process.execPath, "test", "test/_util/id-table.test.ts"], { cwd: REPO_ROOT, env, stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()]);
    expect({ code, passed: /\b3 pass\b/.test(stderr) }).toEqual({ code: 0, passed: true });
    expect(readdirSync(tmp)).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 60_000);
