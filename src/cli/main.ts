#!/usr/bin/env bun
/**
 * The `mosaic` executable (also what `bun build --compile` turns into
 * dist/mosaic). Decides the role from the flags; only this file sets exit codes.
 */
import { type CommandDef, defineCommand, runCommand, showUsage } from "citty";
import packageJson from "../../package.json" with { type: "json" };
import { splitAtScript } from "./_flags.ts";
import { pingCommand } from "./commands/ping.ts";
import { profileCommand } from "./commands/profile.ts";
import { roleCommand } from "./commands/role.ts";
import { runCommand as runSubcommand } from "./commands/run.ts";
import { scriptCommand } from "./commands/script.ts";
import { state } from "../cluster/state.ts";
import { startThread } from "../actors/thread/thread.ts";

// This entry also runs as a worker's tessera thread when no script is involved.
if (state.role === "thread") await startThread();

const root = defineCommand({
  meta: { name: "mosaic", version: packageJson.version, description: "Mosaic for Bun: actor-based parallel runtime" },
  subCommands: { run: runSubcommand, script: scriptCommand, ping: pingCommand, profile: profileCommand },
});

const argv = process.argv.slice(2);
const isRole = argv.some((arg) => arg === "--role" || arg.startsWith("--role="));
const command = (isRole ? roleCommand : root) as CommandDef;
// Help and version belong to mosaic only before a script name: `mosaic run s.ts --help` is the script's.
const takesScript = argv[0] === "run" || argv[0] === "script";
const ownArgs = takesScript ? [argv[0]!, ...splitAtScript(argv.slice(1)).flags] : argv;

try {
  if (ownArgs.includes("--help") || ownArgs.includes("-h") || argv.length === 0) {
    await showUsage((argv[0] === "run" ? runSubcommand : command) as CommandDef, argv[0] === "run" ? root : undefined);
  } else if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    console.log(packageJson.version);
  } else {
    await runCommand(command, { rawArgs: argv });
  }
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`mosaic: ${message}`);
  process.exit(2);
}
