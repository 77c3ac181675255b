/**
 * Starting this process as one role: the head from options, or a monitor,
 * node or worker from the flags its parent gave it. Each role's code is
 * imported when that role starts: a process loads only its own.
 */
import { takeSecretFromEnv, createSecret } from "../comms/handshake.ts";
import { CLUSTER_ENV } from "../comms/shared-memory/index.ts";
import { HandshakeError } from "../errors.ts";
import { bareReporter, createLogger, prefixedReporter } from "../logging/logger.ts";
import { state } from "./state.ts";
import type { HeadNode } from "./head.ts";
import { dropPrelaunched, type Prelaunched, prelaunchMonitor } from "./prelaunch.ts";
import { refreshBundle } from "./child-bundle.ts";
import { type InitOptions, type RoleConfig, resolveOptions } from "./options.ts";
import { uidOf } from "../types.ts";
import { startStep } from "../_util/start-trace.ts";

/** Starts the head of a new runtime; stops whatever started if it fails. */
export async function startHead(options: InitOptions = {}): Promise<HeadNode> {
  startStep("head", "init");
  const { planCluster } = await import("./cluster-plan.ts");
  const plan = await planCluster(options, resolveOptions(options));
  const resolved = plan.options;
  // Names this cluster's shared-memory segments; children get it from their launcher. Random, not the head's
  // pid: runtimes on several machines share the cluster, and pids repeat across machines.
  const cluster = (process.env[CLUSTER_ENV] = Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex"));
  const logger = createLogger("head", resolved.logLevel, prefixedReporter());
  // Dynamic mode: nodes started by others must prove the same secret; one made here is written for them.
  const given = resolved.dynamic ? (await import("./secret.ts")).givenSecret(resolved.secretFile) : undefined;
  const secret = given ?? createSecret();
  // The monitor starts while head.ts still loads (prelaunch.ts).
  const prelaunched = prelaunchMonitor(resolved, plan.advertise, secret, { [CLUSTER_ENV]: cluster });
  startStep("head", "prelaunched");
  let head: HeadNode;
  try {
    const { HeadNode } = await import("./head.ts");
    head = new HeadNode(resolved, secret, logger, plan, resolved.dynamic && !given);
  } catch (error) {
    dropPrelaunched(prelaunched);
    throw error;
  }
  head.prelaunched = prelaunched;
  state.runtime = head;
  try {
    await head.start();
  } catch (error) {
    state.runtime = undefined;
    dropPrelaunched(prelaunched);
    throw error;
  }
  // The children ran source if the bundle was stale: the next start takes a new one.
  void refreshBundle();
  return head;
}

/**
 * Runs this process as the role its flags name, until that runtime stops (the
 * process then exits). Child roles print bare lines: their parent prefixes them.
 * Called again (a worker's script reaching init() while its role's code still
 * loads), it returns the same start: one runtime per process.
 */
export function startRole(config: RoleConfig, prelaunched?: Prelaunched): Promise<never> {
  // On globalThis, as state.ts: the compiled CLI and a script it loads from source are two copies of this module.
  const starts = globalThis as Record<symbol, Promise<never> | undefined>;
  return (starts[ROLE_START] ??= startRoleRuntime(config, prelaunched));
}

const ROLE_START = Symbol.for("mosaic.roleStart");

/** The role start under way in this process, if one began (its flags may no longer be in process.argv). */
export function roleStarting(): Promise<never> | undefined {
  return (globalThis as Record<symbol, Promise<never> | undefined>)[ROLE_START];
}

async function startRoleRuntime(config: RoleConfig, prelaunched: Prelaunched | undefined): Promise<never> {
  startStep(config.role, "role");
  const secret = takeSecretFromEnv();
  if (!secret) throw new HandshakeError("MOSAIC_SECRET is not set: a child runtime gets the cluster secret from its parent's environment");
  const logger = createLogger(uidOf(config.role, config.indices), config.options.logLevel, bareReporter());
  const Role = await roleRuntime(config.role);
  const runtime = new Role(config, secret, logger);
  runtime.prelaunched = prelaunched;
  state.role = config.role;
  state.runtime = runtime;
  try {
    await runtime.start();
  } catch (error) {
    logger.error(`failed to start: ${(error as Error).message}`);
    return runtime.exit("start failed", 1);
  }
  await runtime.stopped;
  return runtime.exit("stopped");
}

async function roleRuntime(role: RoleConfig["role"]) {
  if (role === "monitor") return (await import("./monitor.ts")).MonitorRuntime;
  if (role === "node") return (await import("./node.ts")).NodeRuntime;
  return (await import("./worker.ts")).WorkerRuntime;
}
