/**
 * `mosaic run [options] <script> [args...]`: start a runtime, run the script as
 * the head's program (its init()/run() attach to this runtime), tear down, and
 * exit with the script's exit code.
 */
import { defineCommand, parseArgs } from "citty";
import { resolve } from "node:path";
import { InvalidArgumentError } from "../../errors.ts";
import { runScript } from "../../cluster/script.ts";
import { parseLogLevel } from "../../logging/logger.ts";
import { rejectUnknownFlags, splitAtScript } from "../_flags.ts";

const runArgs = {
  nnodes: { type: "string", alias: "n", description: "Number of nodes", default: "1" },
  nworkers: { type: "string", alias: "w", description: "Workers per node (default: number of cores)" },
  nthreads: { type: "string", description: "Threads per worker", default: "2" },
  address: { type: "string", description: "Address to listen on", default: "127.0.0.1" },
  port: { type: "string", description: "Port of the head (0: any)", default: "0" },
  "log-level": { type: "string", description: "error, warning, info, perf or debug", default: "info" },
  script: { type: "positional", description: "Script to run as the head's program, followed by its arguments", required: false },
} as const;

function integer(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`--${flag} must be an integer >= ${min}, got "${value}"`);
  return parsed;
}

export const runCommand = defineCommand({
  meta: { name: "run", description: "Start a runtime and run a script on it (like the original mrun)" },
  args: runArgs,
  async run({ rawArgs }) {
    const { flags, script, scriptArgs } = splitAtScript(rawArgs);
    rejectUnknownFlags(flags, runArgs);
    if (!script) throw new InvalidArgumentError("mosaic run needs a script: mosaic run [options] <script> [args...]");
    const args = parseArgs(flags, runArgs);
    const code = await runScript(resolve(script), scriptArgs, {
      numNodes: integer("nnodes", args.nnodes, 1),
      numWorkers: integer("nworkers", args.nworkers, 1),
      numThreads: integer("nthreads", args.nthreads, 1),
      address: args.address,
      port: integer("port", args.port, 0),
      logLevel: parseLogLevel(args["log-level"]),
    });
    process.exit(code);
  },
});
