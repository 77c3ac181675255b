/**
 * How children are started on this machine. A monitor or node: from source,
 * with role-main.ts (the library's role entry) instead of the program, the
 * program's command passed down for the workers; a worker: with the program.
 * Either with the library's bundle when there is one (child-bundle.ts); a
 * compiled binary has one entry for all.
 */
import { resolve } from "node:path";
import { isCompiledBinary, programCommand } from "../launch/program.ts";
import { LocalLauncher } from "../launch/local.ts";
import { withBundle } from "./child-bundle.ts";

/** The program's command (JSON), for a node started with role-main.ts to start its workers with. */
export const PROGRAM_ENV = "MOSAIC_PROGRAM";

/** A local launcher of monitors and nodes. */
export function coordinatorLauncher(): LocalLauncher {
  if (isCompiledBinary()) return new LocalLauncher();
  // Chosen at each launch: a bundle found stale (or removed) since this launcher was made is not used.
  return new LocalLauncher({ command: () => withBundle([process.execPath, resolve(import.meta.dir, "role-main.ts")], "role") });
}

/** A local launcher of workers: the program. */
export function programLauncher(): LocalLauncher {
  if (isCompiledBinary()) return new LocalLauncher();
  return new LocalLauncher({ command: () => withBundle(programCommand(), "program") });
}

/** What a child must be told to start the program again (a monitor tells its nodes, they their workers). */
export function programEnv(): Record<string, string> {
  return { [PROGRAM_ENV]: JSON.stringify(programCommand()) };
}
