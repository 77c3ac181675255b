/**
 * How this program starts itself again as another role. The same executable
 * runs every role: `bun <entry>` from source, or the compiled binary alone.
 */
import { resolve } from "node:path";

/** Set where this process runs another entry than the program (a monitor or node from source): the program's command. */
export const PROGRAM_KEY = Symbol.for("mosaic.programCommand");

export function isCompiledBinary(): boolean {
  return Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
}

/** Where the compiled binary's tessera threads find the CLI's script (threads share the process's environment). */
export const THREAD_SCRIPT_ENV = "MOSAIC_THREAD_SCRIPT";

/** The module a tessera thread runs: the user's program (the CLI's script, if any). */
export function programEntry(): string {
  const script = (globalThis as Record<symbol, unknown>)[Symbol.for("mosaic.script")];
  if (typeof script === "string") {
    if (!isCompiledBinary()) return script;
    // The binary's own entry runs first in the thread, to provide `mosaic-bun` before it loads the script.
    process.env[THREAD_SCRIPT_ENV] = script;
    return Bun.main;
  }
  const command = programCommand();
  return command.length > 1 ? command[1]! : Bun.main;
}

/**
 * The command line that re-runs the current program. Under `bun test` the entry
 * is the test runner, which cannot be re-run as a role: children then run the
 * mosaic CLI entry instead (they hold no user classes in that case).
 */
export function programCommand(): string[] {
  if (isCompiledBinary()) return [process.execPath];
  const given = (globalThis as Record<symbol, unknown>)[PROGRAM_KEY];
  if (Array.isArray(given)) return given as string[];
  if (process.env.NODE_ENV === "test" && /\.(test|spec)\.[cm]?[jt]sx?$/.test(Bun.main)) {
    return [process.execPath, resolve(import.meta.dir, "../cli/main.ts")];
  }
  return [process.execPath, Bun.main];
}
