/**
 * citty parses any flag it is given; the CLI must refuse the ones it does not
 * know, naming them, rather than ignore a typo.
 */
import type { ArgsDef } from "citty";
import { InvalidArgumentError } from "../errors.ts";

function flagNames(definition: ArgsDef): Set<string> {
  const names = new Set<string>(["help", "h", "version", "v"]);
  for (const [name, arg] of Object.entries(definition)) {
    names.add(name);
    for (const alias of [("alias" in arg && arg.alias) || []].flat()) names.add(alias);
  }
  return names;
}

/** Throws InvalidArgumentError for the first flag of `rawArgs` not in `definition`. */
export function rejectUnknownFlags(rawArgs: string[], definition: ArgsDef): void {
  const known = flagNames(definition);
  for (const arg of rawArgs) {
    if (!arg.startsWith("-") || arg === "-" || arg === "--") continue;
    const name = arg.replace(/^--?/, "").split("=")[0]!.replace(/^no-/, "");
    if (!known.has(name)) throw new InvalidArgumentError(`unknown flag ${arg.split("=")[0]}: see --help`);
  }
}

/**
 * Splits `[flags] <script> [script args]`: every flag before the script takes a
 * value, and what follows the script belongs to it.
 */
export function splitAtScript(rawArgs: string[]): { flags: string[]; script: string | undefined; scriptArgs: string[] } {
  const flags: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") return { flags, script: rawArgs[i + 1], scriptArgs: rawArgs.slice(i + 2) };
    if (!arg.startsWith("-")) return { flags, script: arg, scriptArgs: rawArgs.slice(i + 1) };
    flags.push(arg);
    if (!arg.includes("=") && !["-h", "--help"].includes(arg) && i + 1 < rawArgs.length) flags.push(rawArgs[++i]!);
  }
  return { flags, script: undefined, scriptArgs: [] };
}
