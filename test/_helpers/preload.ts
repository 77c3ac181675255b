/**
 * Loaded before every test file (bunfig.toml): runtimes that tests start,
 * in this process or in the fixtures it spawns (they inherit the
 * environment), write their per-run log folders into a temporary workspace
 * removed at exit, never into the repository. A test that checks log files
 * gives its own `workspace`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

if (!process.env.MOSAIC_WORKSPACE) {
  const workspace = mkdtempSync(join(tmpdir(), "mosaic-test-workspace-"));
  process.env.MOSAIC_WORKSPACE = workspace;
  process.on("exit", () => rmSync(workspace, { recursive: true, force: true }));
}
