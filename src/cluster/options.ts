/**
 * Runtime options: the public camelCase form (mirroring the original's
 * `mosaic.init`), their defaults in one place, and the flags that carry them
 * to child runtimes.
 */
import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "../errors.ts";
import { type LogLevel, parseLogLevel } from "../logging/logger.ts";

import type { Role } from "../types.ts";

export interface InitOptions {
  /** Nodes to start (local mode: processes on this machine). Default 1. */
  numNodes?: number;
  /** Workers per node. Default: the number of cores, at least 1. */
  numWorkers?: number;
  /** Threads a worker may use for tesserae. Default 2. */
  numThreads?: number;
  /** Address runtimes listen on. Default 127.0.0.1. */
  address?: string;
  /** Port for the head (0: any free port). Children always take any free port. */
  port?: number;
  /** error, warning, info, perf or debug. Default info. */
  logLevel?: LogLevel;
  /** Milliseconds between heartbeats on an idle connection. Default 2000. */
  heartbeatInterval?: number;
  /** Milliseconds of silence after which a peer is declared dead. Default 6000. */
  heartbeatTimeout?: number;
  /** Milliseconds allowed for the whole runtime to come up. Default 30000. */
  startTimeout?: number;
  /** Fraction of the machine's memory that the runtime may use (workers of a node share it). Default 0.9. */
  memoryFraction?: number;
  /** Bytes each runtime process may use, instead of memoryFraction. 0: use memoryFraction. */
  memoryLimit?: number;
  /**
   * Milliseconds a free shared-memory segment is kept for the next large
   * transfer before its memory goes back to the system. Default 30000: long
   * enough for an iterative program's next round to find its memory there.
   */
  segmentIdleTime?: number;
}

export type ResolvedOptions = Required<InitOptions>;

const MAX_SEGMENT_IDLE_TIME = 86_400_000;

function positiveInteger(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function resolveOptions(options: InitOptions | null = {}): ResolvedOptions {
  options ??= {};
  if (typeof options !== "object") throw new InvalidArgumentError(`options must be an object, got ${typeof options}`);
  const known = new Set([
    "numNodes", "numWorkers", "numThreads", "address", "port", "logLevel",
    "heartbeatInterval", "heartbeatTimeout", "startTimeout", "memoryFraction", "memoryLimit", "segmentIdleTime",
  ]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new InvalidArgumentError(`unknown option "${key}": known options are ${[...known].join(", ")}`);
  }
  const fraction = options.memoryFraction ?? 0.9;
  if (!(fraction > 0 && fraction <= 1)) throw new InvalidArgumentError(`option memoryFraction must be in (0, 1], got ${fraction}`);
  if (options.address !== undefined && (typeof options.address !== "string" || options.address.trim() === "")) {
    throw new InvalidArgumentError(`option address must be a host name or IP address, got ${JSON.stringify(options.address)}`);
  }
  const port = positiveInteger("port", options.port, 0, 0);
  if (port > 65535) throw new InvalidArgumentError(`option port must be at most 65535, got ${port}`);
  const heartbeatInterval = positiveInteger("heartbeatInterval", options.heartbeatInterval, 2000);
  const heartbeatTimeout = positiveInteger("heartbeatTimeout", options.heartbeatTimeout, Math.max(6000, 3 * heartbeatInterval));
  // A parent ends a child silent for heartbeatTimeout: leave room for a late beat or two.
  if (heartbeatTimeout < 2 * heartbeatInterval) {
    throw new InvalidArgumentError(`option heartbeatTimeout (${heartbeatTimeout} ms) must be at least twice heartbeatInterval (${heartbeatInterval} ms)`);
  }
  const segmentIdleTime = positiveInteger("segmentIdleTime", options.segmentIdleTime, 30000, 0);
  // Timers of 2^31 ms or more fire at once in Bun (and would then re-arm every millisecond).
  if (segmentIdleTime > MAX_SEGMENT_IDLE_TIME) {
    throw new InvalidArgumentError(`option segmentIdleTime must be at most ${MAX_SEGMENT_IDLE_TIME} ms (a day), got ${segmentIdleTime}`);
  }
  return {
    numNodes: positiveInteger("numNodes", options.numNodes, 1),
    numWorkers: positiveInteger("numWorkers", options.numWorkers, Math.max(1, availableParallelism())),
    numThreads: positiveInteger("numThreads", options.numThreads, 2),
    address: options.address ?? "127.0.0.1",
    port,
    logLevel: parseLogLevel(options.logLevel),
    heartbeatInterval,
    heartbeatTimeout,
    startTimeout: positiveInteger("startTimeout", options.startTimeout, 30000),
    memoryFraction: fraction,
    memoryLimit: positiveInteger("memoryLimit", options.memoryLimit, 0, 0),
    segmentIdleTime,
  };
}

/** What a child runtime needs to know, carried as `--flags` (never the secret). */
export interface RoleConfig {
  role: Exclude<Role, "head" | "thread">;
  indices: number[];
  parentAddress: string;
  parentPort: number;
  /** Where the cluster's head listens (absent: the parent is the head). */
  head?: { address: string; port: number };
  /** Script that holds the user's tessera classes, when the program is the mosaic CLI. */
  script?: string;
  options: ResolvedOptions;
}

export function roleConfigToArgv(config: RoleConfig): string[] {
  const { options } = config;
  const argv = [
    "--role", config.role,
    "--indices", config.indices.join(","),
    "--parent-address", config.parentAddress,
    "--parent-port", String(config.parentPort),
    "--address", options.address,
    "--num-nodes", String(options.numNodes),
    "--num-workers", String(options.numWorkers),
    "--num-threads", String(options.numThreads),
    "--log-level", options.logLevel,
    "--heartbeat-interval", String(options.heartbeatInterval),
    "--heartbeat-timeout", String(options.heartbeatTimeout),
    "--start-timeout", String(options.startTimeout),
    "--memory-fraction", String(options.memoryFraction),
    "--memory-limit", String(options.memoryLimit),
    "--segment-idle-time", String(options.segmentIdleTime),
  ];
  if (config.head) argv.push("--head-address", config.head.address, "--head-port", String(config.head.port));
  if (config.script) argv.push("--script", config.script);
  return argv;
}

/** Flags of a role runtime, in citty's format (shared by the CLI and by `init()` in a child). */
export const roleArgsDefinition = {
  role: { type: "enum", options: ["monitor", "node", "worker"] as string[], description: "Start one runtime of this role", required: true },
  indices: { type: "string", description: "Indices of the runtime, e.g. 0 for node:0, 0,1 for worker:0:1", default: "" },
  "parent-address": { type: "string", description: "Address of the parent runtime", required: true },
  "parent-port": { type: "string", description: "Port of the parent runtime", required: true },
  "head-address": { type: "string", description: "Address of the head (default: the parent's)" },
  "head-port": { type: "string", description: "Port of the head (default: the parent's)" },
  address: { type: "string", description: "Address to listen on", default: "127.0.0.1" },
  "num-nodes": { type: "string", description: "Nodes in the runtime", default: "1" },
  "num-workers": { type: "string", description: "Workers per node", default: "1" },
  "num-threads": { type: "string", description: "Threads per worker", default: "2" },
  "log-level": { type: "string", description: "error, warning, info, perf or debug", default: "info" },
  "heartbeat-interval": { type: "string", default: "2000" },
  "heartbeat-timeout": { type: "string", default: "6000" },
  "start-timeout": { type: "string", default: "30000" },
  "memory-fraction": { type: "string", default: "0.9" },
  "memory-limit": { type: "string", description: "Bytes each runtime may use (0: use --memory-fraction)", default: "0" },
  "segment-idle-time": { type: "string", description: "Milliseconds a free shared-memory segment is kept for reuse", default: "30000" },
  script: { type: "string", description: "Program whose tessera classes this runtime loads" },
} as const;

function integerFlag(name: string, value: string | undefined, min = 0): number {
  const parsed = Number(value);
  if (value === undefined || value === "" || !Number.isInteger(parsed) || parsed < min) {
    throw new InvalidArgumentError(`--${name} must be an integer >= ${min}, got "${value ?? ""}"`);
  }
  return parsed;
}

/** Builds a RoleConfig from parsed role flags, with a clear error for each bad value. */
export function roleConfigFromFlags(flags: Record<string, string | boolean | undefined | string[]>): RoleConfig {
  const text = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const role = text("role");
  if (role !== "monitor" && role !== "node" && role !== "worker") {
    throw new InvalidArgumentError(`--role must be monitor, node or worker, got "${role ?? ""}"`);
  }
  const indicesText = text("indices") ?? "";
  const indices = indicesText === "" ? [] : indicesText.split(",").map((part) => integerFlag("indices", part));
  const expected = { monitor: 0, node: 1, worker: 2 }[role];
  if (indices.length !== expected) {
    throw new InvalidArgumentError(`--indices for a ${role} needs ${expected} comma-separated integers, got "${indicesText}"`);
  }
  const parentAddress = text("parent-address");
  if (!parentAddress) throw new InvalidArgumentError("--parent-address is required");
  return {
    role,
    indices,
    parentAddress,
    parentPort: integerFlag("parent-port", text("parent-port"), 1),
    head: text("head-address") ? { address: text("head-address")!, port: integerFlag("head-port", text("head-port"), 1) } : undefined,
    script: text("script"),
    options: resolveOptions({
      address: text("address") ?? "127.0.0.1",
      numNodes: integerFlag("num-nodes", text("num-nodes") ?? "1", 1),
      numWorkers: integerFlag("num-workers", text("num-workers") ?? "1", 1),
      numThreads: integerFlag("num-threads", text("num-threads") ?? "2", 1),
      logLevel: parseLogLevel(text("log-level")),
      heartbeatInterval: integerFlag("heartbeat-interval", text("heartbeat-interval") ?? "2000", 1),
      heartbeatTimeout: integerFlag("heartbeat-timeout", text("heartbeat-timeout") ?? "6000", 1),
      startTimeout: integerFlag("start-timeout", text("start-timeout") ?? "30000", 1),
      memoryFraction: Number(text("memory-fraction") ?? "0.9"),
      memoryLimit: integerFlag("memory-limit", text("memory-limit") ?? "0"),
      segmentIdleTime: integerFlag("segment-idle-time", text("segment-idle-time") ?? "30000"),
    }),
  };
}
