/**
 * What a child runtime needs to know, carried as `--flag value` pairs (never
 * the secret): its place in the tree, and every option the table marks as
 * carried. No CLI library here: every worker parses these flags at start-up.
 */
import { kebabCase } from "../../_util/parse.ts";
import { InvalidArgumentError } from "../../errors.ts";
import type { Role } from "../../types.ts";
import { integer, readText } from "./kinds.ts";
import { optionsFromFlags, resolveOptions } from "./resolve.ts";
import { OPTION_NAMES, type OptionName, type ResolvedOptions, specOf } from "./table.ts";

export interface RoleConfig {
  role: Exclude<Role, "head" | "thread">;
  indices: number[];
  parentAddress: string;
  parentPort: number;
  /** The parent's Unix socket (transports/unix-socket.ts), dialled first: a parent elsewhere has none here, and TCP follows. */
  parentSocket?: string;
  /** Where the cluster's head listens (absent: the parent is the head). */
  head?: { address: string; port: number };
  /** Script that holds the user's tessera classes, when the program is the mosaic CLI. */
  script?: string;
  /** The monitor's, in cluster mode: the host of each node by index ("": this machine). */
  nodeHosts?: string[];
  /** A node that joined a dynamic head by itself (cluster/join.ts): its parent link carries heartbeats both ways. */
  joined?: boolean;
  options: ResolvedOptions;
}

const CHILD_ROLES = ["monitor", "node", "worker"] as const;

/** The flags that place a runtime in the tree, beside the carried options. */
export const PLACE_FLAGS = {
  role: { help: "Start one runtime of this role", choices: CHILD_ROLES as readonly string[], required: true },
  indices: { help: "Indices of the runtime, e.g. 0 for node:0, 0,1 for worker:0:1" },
  "parent-address": { help: "Address of the parent runtime", required: true },
  "parent-port": { help: "Port of the parent runtime", required: true },
  "parent-socket": { help: "Unix socket of the parent runtime, for a child of its machine" },
  "head-address": { help: "Address of the head (default: the parent's)" },
  "head-port": { help: "Port of the head (default: the parent's)" },
  script: { help: "Program whose tessera classes this runtime loads" },
  "node-hosts": { help: "The monitor's: host of each node, comma-separated (empty: this machine)" },
} as const satisfies Record<string, { help: string; required?: boolean; choices?: readonly string[] }>;

/** The role flag of an option (undefined: not carried to children). */
export function roleFlagOf(name: OptionName): string | undefined {
  return specOf(name).carried ? kebabCase(name) : undefined;
}

const ROLE_FLAG_NAMES = new Set<string>([...Object.keys(PLACE_FLAGS), ...OPTION_NAMES.flatMap((name) => roleFlagOf(name) ?? [])]);

export function roleConfigToArgv(config: RoleConfig): string[] {
  const argv = [
    "--role", config.role,
    "--indices", config.indices.join(","),
    "--parent-address", config.parentAddress,
    "--parent-port", String(config.parentPort),
  ];
  for (const name of OPTION_NAMES) {
    const flag = roleFlagOf(name);
    if (flag) argv.push(`--${flag}`, specOf(name).kind.toText(config.options[name]));
  }
  if (config.parentSocket) argv.push("--parent-socket", config.parentSocket);
  if (config.head) argv.push("--head-address", config.head.address, "--head-port", String(config.head.port));
  if (config.script) argv.push("--script", config.script);
  if (config.nodeHosts) argv.push("--node-hosts", config.nodeHosts.join(","));
  return argv;
}

function integerFlag(name: string, text: string | undefined, min: number): number {
  return readText(integer({ min }), text ?? "", `--${name}`);
}

/**
 * A RoleConfig from role flags (parsed by citty or by roleConfigFromArgv), with
 * a clear error for each bad value. Options the flags leave out take their
 * defaults, not the environment's: the parent passes every carried option.
 */
export function roleConfigFromFlags(flags: Record<string, unknown>): RoleConfig {
  const text = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const role = text("role");
  if (!(CHILD_ROLES as readonly (string | undefined)[]).includes(role)) {
    throw new InvalidArgumentError(`--role must be monitor, node or worker, got "${role ?? ""}"`);
  }
  const indicesText = text("indices") ?? "";
  const indices = indicesText === "" ? [] : indicesText.split(",").map((part) => integerFlag("indices", part, 0));
  const expected = { monitor: 0, node: 1, worker: 2 }[role as RoleConfig["role"]];
  if (indices.length !== expected) {
    throw new InvalidArgumentError(`--indices for a ${role} needs ${expected} comma-separated integers, got "${indicesText}"`);
  }
  const parentAddress = text("parent-address");
  if (!parentAddress) throw new InvalidArgumentError("--parent-address is required");
  return {
    role: role as RoleConfig["role"],
    indices,
    parentAddress,
    parentPort: integerFlag("parent-port", text("parent-port"), 1),
    parentSocket: text("parent-socket"),
    head: text("head-address") ? { address: text("head-address")!, port: integerFlag("head-port", text("head-port"), 1) } : undefined,
    script: text("script"),
    nodeHosts: text("node-hosts")?.split(","),
    options: resolveOptions(optionsFromFlags(flags, roleFlagOf), {}),
  };
}

/**
 * The role flags as the parent wrote them (`--name value` or `--name=value`).
 * Other flags are skipped: the user's program may have flags of its own.
 */
export function roleConfigFromArgv(argv: string[]): RoleConfig {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!ROLE_FLAG_NAMES.has(name)) continue;
    flags[name] = eq > 0 ? arg.slice(eq + 1) : (argv[++i] ?? "");
  }
  return roleConfigFromFlags(flags);
}
