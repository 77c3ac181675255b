/**
 * Flags of the CLI: the citty definitions derived from the options table, and
 * the checks citty does not make (it parses any flag it is given; the CLI must
 * refuse the ones it does not know, naming them, rather than ignore a typo).
 */
import type { ArgDef, ArgsDef } from "citty";
import { kebabCase } from "../_util/parse.ts";
import { envName, type InitOptions, OPTION_NAMES, type OptionName, optionsFromFlags, PLACE_FLAGS, roleFlagOf, specOf } from "../cluster/options.ts";
import { InvalidArgumentError } from "../errors.ts";

/** The `mosaic run` flag of an option, or undefined when users may not set it there. */
export function runFlagOf(name: OptionName): string | undefined {
  const { run } = specOf(name);
  return run && (run.flag ?? kebabCase(name));
}

/**
 * citty definitions of the options that have a flag in `place`. No citty
 * defaults: a flag left out must leave the option unset, so that its
 * environment variable still applies; --help says the default instead.
 */
function optionArgs(place: "run" | "role"): ArgsDef {
  const args: Record<string, ArgDef> = {};
  for (const name of OPTION_NAMES) {
    const flag = place === "run" ? runFlagOf(name) : roleFlagOf(name);
    if (!flag) continue;
    const spec = specOf(name);
    const fallback = spec.defaultHelp ?? spec.kind.toText(spec.default as unknown);
    const description = `${spec.help} (default: ${fallback}${place === "run" ? `; env ${envName(name)}` : ""})`;
    const alias = place === "run" ? spec.run?.alias : undefined;
    // On a role command line every flag has a value (children get `--flag true`).
    const type = spec.kind.isSwitch && !spec.kind.optionalValue && place === "run" ? "boolean" : "string";
    args[flag] = { type, description, valueHint: spec.kind.hint || undefined, ...(alias ? { alias } : {}) } as ArgDef;
  }
  return args;
}

const flagsOf = (names: OptionName[]) => names.flatMap((name) => [runFlagOf(name)!, specOf(name).run?.alias ?? []].flat());

/** `mosaic run` flags that may stand alone or take a value after `=` (`--dashboard[=PORT]`). */
const RUN_OPTIONAL_VALUES = new Set(flagsOf(OPTION_NAMES.filter((name) => specOf(name).kind.optionalValue && runFlagOf(name))));

/** `mosaic run` flags (and aliases) that take no value. */
const RUN_SWITCHES = new Set([...flagsOf(OPTION_NAMES.filter((name) => specOf(name).kind.isSwitch && runFlagOf(name))), ...RUN_OPTIONAL_VALUES]);

/** Flags of `mosaic run`: every option users may set there. */
export const runOptionArgs = optionArgs("run");

/** Flags of `mosaic --role`: the runtime's place in the tree and every carried option. */
export const roleArgs: ArgsDef = {
  ...Object.fromEntries(
    Object.entries(PLACE_FLAGS).map(([flag, place]) => [
      flag,
      "choices" in place
        ? { type: "enum", options: [...place.choices], description: place.help, required: place.required }
        : { type: "string", description: place.help, required: "required" in place && place.required },
    ]),
  ),
  ...optionArgs("role"),
};

/** The options that `mosaic run` flags set (citty's parsed args), each checked. */
export function runOptionsFromArgs(args: Record<string, unknown>): InitOptions {
  return optionsFromFlags(args, runFlagOf);
}

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
    // A negative number is a value (`-w -1`), for the option to refuse with its own message.
    if (!arg.startsWith("-") || arg === "-" || arg === "--" || /^-\d/.test(arg)) continue;
    const name = arg.replace(/^--?/, "").split("=")[0]!.replace(/^no-/, "");
    if (!known.has(name)) throw new InvalidArgumentError(`unknown flag ${arg.split("=")[0]}: see --help`);
  }
}

/** The original mrun's multi-letter short flags, as their long forms (citty would read `-nw` as `-n -w`). */
const MRUN_FLAGS: Record<string, string> = { "-nw": "--nworkers", "-nth": "--nthreads" };

/**
 * Splits `[flags] <script> [script args]`: every flag before the script but
 * help and on/off switches takes a value, and what follows the script belongs to it.
 */
export function splitAtScript(rawArgs: string[]): { flags: string[]; script: string | undefined; scriptArgs: string[] } {
  const flags: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") return { flags, script: rawArgs[i + 1], scriptArgs: rawArgs.slice(i + 2) };
    if (!arg.startsWith("-")) return { flags, script: arg, scriptArgs: rawArgs.slice(i + 1) };
    if (MRUN_FLAGS[arg]) {
      flags.push(MRUN_FLAGS[arg]!);
      if (i + 1 < rawArgs.length) flags.push(rawArgs[++i]!);
      continue;
    }
    // citty would take the next word as the value of a bare `--dashboard`: it means on.
    flags.push(RUN_OPTIONAL_VALUES.has(arg.replace(/^--?/, "")) ? `${arg}=true` : arg);
    const takesValue = !arg.includes("=") && !["-h", "--help"].includes(arg) && !RUN_SWITCHES.has(arg.replace(/^--?(no-)?/, ""));
    if (takesValue && i + 1 < rawArgs.length) flags.push(rawArgs[++i]!);
  }
  return { flags, script: undefined, scriptArgs: [] };
}
