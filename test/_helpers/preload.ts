/**
 * Loaded before every test file (bunfig.toml): runtimes that tests start,
 * in this process or in the fixtures it spawns (they inherit the
 * environment), write their per-run log folders into a temporary workspace
 * removed when the run ends, never into the repository. A test that checks log files
 * gives its own `workspace`.
 */
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

if (!process.env.MOSAIC_WORKSPACE) {
  const workspace = mkdtempSync(join(tmpdir(), "mosaic-test-workspace-"));
  process.env.MOSAIC_WORKSPACE = workspace;
  // Bun's test runner ends without the process's "exit" event: a hook of the preload runs after the last file.
  const remove = () => rmSync(workspace, { recursive: true, force: true });
  afterAll(remove);
  process.on("exit", remove);
}
