/**
 * How a monitor or node is started: locally from source, with role-main.ts
 * (the library's role entry) instead of the program, the program's command
 * passed down for the workers; a compiled binary has one entry for all.
 */
import { resolve } from "node:path";
import { isCompiledBinary, programCommand } from "../launch/program.ts";
import { LocalLauncher } from "../launch/local.ts";

/** The program's command (JSON), for a node started with role-main.ts to start its workers with. */
export const PROGRAM_ENV = "MOSAIC_PROGRAM";

/** A local launcher of monitors and nodes. */
export function coordinatorLauncher(): LocalLauncher {
  if (isCompiledBinary()) return new LocalLauncher();
  return new LocalLauncher({ command: [process.execPath, resolve(import.meta.dir, "role-main.ts")] });
}

/** What a child must be told to start the program again (a monitor tells its nodes, they their workers). */
export function programEnv(): Record<string, string> {
  return { [PROGRAM_ENV]: JSON.stringify(programCommand()) };
}
