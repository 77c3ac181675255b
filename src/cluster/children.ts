/**
 * What a parent runtime starts its children with: their places in the tree
 * (a node's workers, the monitor's nodes) and their launch specs. One source
 * for both the role's own code (runtime.ts, node.ts, monitor.ts) and
 * prelaunch.ts, which starts the first children before that code has loaded:
 * so it imports little.
 */
import type { LaunchSpec, LineSink } from "../launch/launcher.ts";
import { uidOf } from "../types.ts";
import { programEnv } from "./coordinator.ts";
import { type ResolvedOptions, type RoleConfig, roleConfigToArgv } from "./options.ts";

/** Where a parent listens, as its children are told (`socket`: its Unix socket, for children of its machine). */
export interface ParentPlace {
  address: string;
  port: number;
  socket?: string;
}

/** Where the cluster's head listens: the monitor's parent is the head; others are told (--head-address). */
export function headOf(config: RoleConfig): ParentPlace {
  return config.head ?? { address: config.parentAddress, port: config.parentPort };
}

/** Set by the CLI when the head's program is a script it loaded, so children load it too. */
export function scriptForChildren(): string | undefined {
  return (globalThis as { [key: symbol]: unknown })[Symbol.for("mosaic.script")] as string | undefined;
}

/** The head's one child; `nodeHosts`: cluster mode's plan. */
export function monitorConfig(options: ResolvedOptions, head: ParentPlace, nodeHosts?: string[]): RoleConfig {
  return { role: "monitor", indices: [], parentAddress: head.address, parentPort: head.port, parentSocket: head.socket, script: scriptForChildren(), nodeHosts, options };
}

/** Worker `index` of the node `node` (the index grows past numWorkers as workers are replaced). */
export function workerConfig(node: RoleConfig, index: number, parent: ParentPlace): RoleConfig {
  return { role: "worker", indices: [node.indices[0]!, index], parentAddress: parent.address, parentPort: parent.port, parentSocket: parent.socket, head: headOf(node), script: node.script, options: node.options };
}

/** Node `index` of the monitor `monitor`. */
export function nodeConfig(monitor: RoleConfig, index: number, parent: ParentPlace): RoleConfig {
  return { role: "node", indices: [index], parentAddress: parent.address, parentPort: parent.port, parentSocket: parent.socket, head: headOf(monitor), script: monitor.script, options: monitor.options };
}

/**
 * The children a runtime starts on this machine as soon as it listens: a
 * node's workers, the monitor's nodes in local mode (in cluster mode they
 * start on other hosts, through their launchers).
 */
export function firstLocalChildren(config: RoleConfig, parent: ParentPlace): RoleConfig[] {
  if (config.role === "node") return Array.from({ length: config.options.numWorkers }, (_, j) => workerConfig(config, j, parent));
  if (config.role === "monitor" && !config.nodeHosts) return Array.from({ length: config.options.numNodes }, (_, i) => nodeConfig(config, i, parent));
  return [];
}

/**
 * JavaScriptCore's threshold for its top tier (FTL) in the children, 10x its
 * default: a function of the runtime's call path stays in the tier below
 * (DFG) for ~10x more runs instead of being compiled again, which on a few
 * cores took the CPU from the calls and from the program's own compiles.
 * Measured 2026-12-04 (2 vCPUs, alternated with the code before, 4-5 runs
 * each): `usage.bench` warm pipelined calls 335-401k → 408-579k/s, dependent
 * pairs right after start 53-71k → 78-82k/s, warm 163-229k → 191-246k/s;
 * `actors.bench` tesserae created 39-46k → 58-71k/s, settled pipelined and
 * dependent calls the same within noise; a numeric method's first call 7-25
 * ms (median ~16) → 7.5-14 (~8), its second at full speed (1.7-2.5 ms) in 9
 * of 10 runs (one 5 ms) against 2 of 10 (one more 3.1 ms, the others 6-15:
 * its FTL compile queued behind the call path's); an allocating one the same
 * within noise. The
 * first 20,000 calls of a run moved little (a probe: 132-144k → 141-164k/s;
 * `usage.bench`: within noise): the head's own compiles are most of the rest,
 * and only its own command line can set its options (README).
 *
 * A user's own value wins (JSC's default is 100000). Bun refuses to start
 * with an option its JavaScriptCore does not know (they change without
 * notice), so it is set only under the Bun versions it was checked with
 * (CHECKED_BUN_VERSIONS; lifecycle.test fails under another). Remote hosts
 * are taken to run the head's Bun, as they run its program.
 */
const FTL_OPTION = "BUN_JSC_thresholdForFTLOptimizeAfterWarmUp";
const FTL_THRESHOLD = "1000000";
export const CHECKED_BUN_VERSIONS = ["1.4."];

/** The JSC options children start with: see FTL_OPTION. */
export function jscOptions(): Record<string, string> {
  const given = process.env[FTL_OPTION];
  if (given !== undefined) return { [FTL_OPTION]: given };
  return CHECKED_BUN_VERSIONS.some((version) => Bun.version.startsWith(version)) ? { [FTL_OPTION]: FTL_THRESHOLD } : {};
}

/**
 * How a child is launched: its flags, the environment it needs, its output's
 * sink; `host`: on that host (undefined: this machine). `env`: more of it (the
 * cluster's id, which Runtime.spawnChild adds: a remote child inherits
 * nothing; prelaunch.ts's children, all local, inherit it).
 */
export function childSpec(config: RoleConfig, secret: string, output: LineSink, host?: string, env: Record<string, string> = {}): LaunchSpec {
  return {
    uid: uidOf(config.role, config.indices),
    host,
    args: roleConfigToArgv(config),
    env: {
      ...env,
      // Bun's idle collector wakes every process each second (and all of its GC helper threads) for as
      // long as the heap keeps changing, which a heartbeat does: most of an idle runtime's CPU. The
      // engine's own allocation-driven collections still run, and the runtime collects where it needs to.
      BUN_GC_TIMER_DISABLE: process.env.BUN_GC_TIMER_DISABLE ?? "1",
      // mimalloc's scavenger thread is woken after each wake-up of the main thread that freed memory, and
      // sleeps 100 ms before it returns pages: two more wake-ups per tick of an idle runtime. Without it
      // the freeing thread returns them itself, later in its own work (measured: bench/_idle-threads.ts).
      MIMALLOC_SCAVENGER: process.env.MIMALLOC_SCAVENGER ?? "0",
      ...jscOptions(),
      // A remote child inherits nothing: the switch goes with it (transports/unix-socket.ts).
      ...(process.env.MOSAIC_UNIX_SOCKETS === undefined ? {} : { MOSAIC_UNIX_SOCKETS: process.env.MOSAIC_UNIX_SOCKETS }),
      ...programEnv(),
    },
    secret,
    output,
  };
}
