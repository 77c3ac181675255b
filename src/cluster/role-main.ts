/**
 * The entry a monitor or node runs (from source): the library's role code
 * alone, not the user's program. Neither role runs user code, and skipping
 * the program (and the library parts only a head or a worker needs) roughly
 * halves what each of these generations loads before its children can start.
 * Their workers still run the program: `programCommand()` here returns the
 * head's, handed down in PROGRAM_ENV.
 *
 * Its children start first (prelaunch.ts: a listener and the local children,
 * on few imports); the role's code is imported while they start.
 */
import { PROGRAM_KEY } from "../launch/program.ts";
import { PROGRAM_ENV } from "./coordinator.ts";
import { roleConfigFromArgv } from "./options.ts";
import { prelaunch } from "./prelaunch.ts";
import { startStep } from "../_util/start-trace.ts";

async function main(): Promise<never> {
  const program = process.env[PROGRAM_ENV];
  if (program) (globalThis as Record<symbol, unknown>)[PROGRAM_KEY] = JSON.parse(program) as string[];
  const config = roleConfigFromArgv(process.argv.slice(2));
  const prelaunched = await prelaunch(config);
  startStep(config.role, "prelaunched");
  const { startRole } = await import("./entrypoint.ts");
  return startRole(config, prelaunched);
}

// Not a top-level await: Bun's bytecode for a bundle (child-bundle.ts) needs the CommonJS format, which has none.
void main();
