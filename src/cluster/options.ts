/**
 * Runtime options: the table describing each option once (options/table.ts),
 * resolving them from code, environment and defaults (options/resolve.ts), and
 * carrying them to child runtimes as flags (options/argv.ts).
 */
export { type InitOptions, type OptionName, type OptionSpec, type ResolvedOptions, OPTIONS, OPTION_NAMES, envName, specOf } from "./options/table.ts";
export { type Environment, optionsFromFlags, resolveOptions } from "./options/resolve.ts";
export { type RoleConfig, PLACE_FLAGS, roleConfigFromArgv, roleConfigFromFlags, roleConfigToArgv, roleFlagOf } from "./options/argv.ts";
