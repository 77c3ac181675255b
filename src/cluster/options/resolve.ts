/**
 * Options from their sources, in one order: given in code (or as flags) >
 * environment variables > defaults; then the rules tying options together.
 */
import { InvalidArgumentError } from "../../errors.ts";
import { readText, readValue } from "./kinds.ts";
import { envName, type InitOptions, OPTION_NAMES, type OptionName, type ResolvedOptions, specOf } from "./table.ts";

/** Environment variables as `process.env` holds them. */
export type Environment = Record<string, string | undefined>;


/**
 * Options read from flags: `flagOf` names the flag of each option (undefined:
 * it has none here); flags absent from `values` stay unset.
 */
export function optionsFromFlags(
  values: Record<string, unknown>,
  flagOf: (name: OptionName) => string | undefined,
): InitOptions {
  const options: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) {
    const flag = flagOf(name);
    const text = flag === undefined ? undefined : values[flag];
    if (typeof text === "string") options[name] = readText(specOf(name).kind, text, `--${flag}`);
    else if (typeof text === "boolean") options[name] = readValue(specOf(name).kind, text, name);
  }
  return options as InitOptions;
}

/**
 * Every option with a value, each checked, or an InvalidArgumentError naming
 * the first one that cannot work. `env` supplies what `options` leaves unset
 * (a child runtime passes none: its parent's flags say everything).
 */
export function resolveOptions(options: InitOptions | null = {}, env: Environment = process.env): ResolvedOptions {
  options ??= {};
  if (typeof options !== "object") throw new InvalidArgumentError(`options must be an object, got ${typeof options}`);
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as string[]).includes(key)) {
      throw new InvalidArgumentError(`unknown option "${key}": known options are ${OPTION_NAMES.join(", ")}`);
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) {
    const given = options[name];
    const text = env[envName(name)];
    if (given !== undefined) resolved[name] = readValue(specOf(name).kind, given, name);
    else if (text !== undefined && text !== "") resolved[name] = readText(specOf(name).kind, text, envName(name));
    else {
      const fallback = specOf(name).default;
      resolved[name] = typeof fallback === "function" ? fallback(resolved, env) : fallback;
    }
  }
  for (const name of OPTION_NAMES) {
    const refusal = specOf(name).relation?.(resolved[name], resolved as ResolvedOptions);
    if (refusal) throw new InvalidArgumentError(refusal);
  }
  return resolved as ResolvedOptions;
}
