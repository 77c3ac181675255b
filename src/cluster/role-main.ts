/**
 * The entry a monitor or node runs (from source): the library's role code
 * alone, not the user's program. Neither role runs user code, and skipping
 * the program (and the library parts only a head or a worker needs) roughly
 * halves what each of these generations loads before its children can start.
 * Their workers still run the program: `programCommand()` here returns the
 * head's, handed down in PROGRAM_ENV.
 */
import { PROGRAM_KEY } from "../launch/program.ts";
import { PROGRAM_ENV } from "./coordinator.ts";
import { roleConfigFromArgv } from "./options.ts";
import { startRole } from "./entrypoint.ts";

const program = process.env[PROGRAM_ENV];
if (program) (globalThis as Record<symbol, unknown>)[PROGRAM_KEY] = JSON.parse(program) as string[];
await startRole(roleConfigFromArgv(process.argv.slice(2)));
