/**
 * `mosaic run [options] <script> [args...]`: start a runtime, run the script as
 * the head's program (its init()/run() attach to this runtime), tear down, and
 * exit with the script's exit code.
 */
import { type ArgsDef, defineCommand, parseArgs } from "citty";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { InvalidArgumentError } from "../../errors.ts";
import { runScript } from "../../cluster/script.ts";
import { rejectUnknownFlags, runOptionArgs, runOptionsFromArgs, splitAtScript } from "../_flags.ts";

const runArgs = {
  ...runOptionArgs,
  script: { type: "positional", description: "Script to run as the head's program, followed by its arguments", required: false },
} as const satisfies ArgsDef;

export const runCommand = defineCommand({
  meta: { name: "run", description: "Start a runtime and run a script on it (like the original mrun)" },
  args: runArgs,
  async run({ rawArgs }) {
    const { flags, script, scriptArgs } = splitAtScript(rawArgs);
    rejectUnknownFlags(flags, runArgs);
    if (!script) throw new InvalidArgumentError("mosaic run needs a script: mosaic run [options] <script> [args...]");
    const args = parseArgs(flags, runArgs);
    const options = runOptionsFromArgs(args);
    // Checked before anything starts: every worker would otherwise fail to load it, each saying so.
    const path = resolve(script);
    if (!existsSync(path)) throw new InvalidArgumentError(`the script ${script} does not exist${path === script ? "" : ` (${path})`}`);
    const code = await runScript(path, scriptArgs, options);
    process.exit(code);
  },
});
