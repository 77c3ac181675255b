/**
 * How a monitor or node is started: locally from source, with role-main.ts
 * (the library's role entry, or its bundle: role-bundle.ts) instead of the
 * program, the program's command passed down for the workers; a compiled
 * binary has one entry for all.
 */
import { isCompiledBinary, programCommand } from "../launch/program.ts";
import { LocalLauncher } from "../launch/local.ts";
import { roleEntry } from "./role-bundle.ts";

/** The program's command (JSON), for a node started with role-main.ts to start its workers with. */
export const PROGRAM_ENV = "MOSAIC_PROGRAM";

/** A local launcher of monitors and nodes. */
export function coordinatorLauncher(): LocalLauncher {
  if (isCompiledBinary()) return new LocalLauncher();
  // Chosen at each launch: a bundle found stale (or removed) since this launcher was made is not run.
  return new LocalLauncher({ command: () => [process.execPath, roleEntry()] });
}

/** What a child must be told to start the program again (a monitor tells its nodes, they their workers). */
export function programEnv(): Record<string, string> {
  return { [PROGRAM_ENV]: JSON.stringify(programCommand()) };
}
