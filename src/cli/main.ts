#!/usr/bin/env bun
/**
 * The `mosaic` executable (also what `bun build --compile` turns into
 * dist/mosaic). Decides the role from the flags; only this file sets exit codes.
 */
import { type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import packageJson from "../../package.json" with { type: "json" };
import { InvalidArgumentError } from "../errors.ts";
import { isCompiledBinary, THREAD_SCRIPT_ENV } from "../launch/program.ts";
import { LAUNCH_ENTRY_FLAG } from "../launch/remote.ts";
import { runRemoteEntry } from "../launch/remote-entry.ts";
import { provideLibraryModule } from "./_library-module.ts";
import { splitAtScript } from "./_flags.ts";
import { pingCommand } from "./commands/ping.ts";
import { profileCommand } from "./commands/profile.ts";
import { joinCommand } from "./commands/join.ts";
import { roleCommand } from "./commands/role.ts";
import { runCommand as runSubcommand } from "./commands/run.ts";
import { scriptCommand } from "./commands/script.ts";
import { state } from "../cluster/state.ts";
import { startThread } from "../actors/thread/thread.ts";

if (isCompiledBinary()) provideLibraryModule();

// The launch entry of a remote start (remote-protocol.ts) when the program is this binary: `mosaic --launch-entry PROGRAM ARGS...`.
if (process.argv[2] === LAUNCH_ENTRY_FLAG) process.exit(await runRemoteEntry(process.argv.slice(3)));

// This entry also runs as a worker's tessera thread: of the binary's script (which hands the thread over when it
// calls init() or run(), or is served once loaded), or of no script.
if (state.role === "thread") {
  const script = isCompiledBinary() ? process.env[THREAD_SCRIPT_ENV] : undefined;
  if (script) await import(script);
  await startThread();
}

const root = defineCommand({
  meta: { name: "mosaic", version: packageJson.version, description: "Mosaic for Bun: actor-based parallel runtime" },
  subCommands: { run: runSubcommand, script: scriptCommand, ping: pingCommand, profile: profileCommand },
});

const argv = process.argv.slice(2);
const isRole = argv.some((arg) => arg === "--role" || arg.startsWith("--role="));
const isJoin = isRole && argv.some((arg) => arg === "--join" || arg.startsWith("--join="));
const command = (isJoin ? joinCommand : isRole ? roleCommand : root) as CommandDef;
// Help and version belong to mosaic only before a script name: `mosaic run s.ts --help` is the script's.
const takesScript = argv[0] === "run" || argv[0] === "script";
const ownArgs = takesScript ? [argv[0]!, ...splitAtScript(argv.slice(1)).flags] : argv;

/** Help text, coloured only for a terminal that wants colour (https://no-color.org). */
async function printUsage(cmd: CommandDef, parent?: CommandDef): Promise<void> {
  const text = await renderUsage(cmd, parent);
  const colour = process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  console.log(colour ? text : Bun.stripANSI(text));
}

const subCommands = root.subCommands as Record<string, CommandDef>;
const sub = isRole ? undefined : subCommands[argv[0] ?? ""];

try {
  if (ownArgs.includes("--help") || ownArgs.includes("-h") || argv.length === 0) {
    await printUsage(sub ?? command, sub ? root : undefined);
  } else if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    console.log(packageJson.version);
  } else if (!isRole && !sub) {
    const first = argv[0]!;
    throw new InvalidArgumentError(
      first.startsWith("-") ? `unknown flag ${first.split("=")[0]}: see mosaic --help` : `unknown command "${first}": the commands are ${Object.keys(subCommands).join(", ")}`,
    );
  } else {
    await runCommand(command, { rawArgs: argv });
  }
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`mosaic: ${message}`);
  process.exit(2);
}
