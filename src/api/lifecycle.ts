/**
 * The life cycle API: init, stop, interactive, run, runtime.
 *
 * The same program runs in every role. In the head these calls start and stop
 * a runtime; in a monitor, node or worker process (started with `--role`) they
 * hand the process over to that role's runtime and never return, so that the
 * rest of the user's program only runs in the head.
 */
import { InvalidArgumentError, RuntimeStateError } from "../errors.ts";
import { state } from "../cluster/state.ts";
import type * as Entrypoint from "../cluster/entrypoint.ts";
import type { HeadNode } from "../cluster/head.ts";
import { type HeadRuntime, publicRuntime } from "./head-runtime.ts";
import type { InitOptions } from "../cluster/options.ts";
import type { Role } from "../types.ts";
import { inCall } from "../actors/current-call.ts";

// A tessera thread whose program never calls init() (a script under `mosaic run`
// may only use mosaic.runtime()) still starts serving once the program is loaded.
if (state.role === "thread") setTimeout(() => void startThread(), 0);

/** A tessera thread's serving loop, loaded only there. */
async function startThread(): Promise<never> {
  return (await import("../actors/thread/thread.ts")).startThread();
}

/**
 * What starts a head or a role runtime (and the options table behind it: 18
 * modules), loaded when a process starts one: a tessera thread runs the
 * program, and so this module, too, and never needs it.
 */
function entrypoint(): typeof Entrypoint {
  return require("../cluster/entrypoint.ts") as typeof Entrypoint;
}

/** The role of this process: "head" unless it was started with `--role`. */
export function currentRole(): Role {
  return state.role;
}

/**
 * init, stop, run and interactive called by a tessera method: they start and
 * stop runtimes, which only the head's program does (here they would hand a
 * thread that serves already over to its loop again, and never settle).
 */
function refusedInMethod(call: string): Promise<never> | undefined {
  if (state.role !== "thread" || !inCall()) return undefined;
  return Promise.reject(
    new RuntimeStateError(`mosaic.${call}() was called by a tessera method: it starts or stops runtimes, which only the head's program does (a method runs on a worker, in a runtime the head started)`),
  );
}

/** Never settles: the role runtime owns the process (or thread) and exits it when it stops. */
function handOver(): Promise<never> {
  if (state.role === "thread") return startThread();
  if (state.runtime) return new Promise<never>(() => {});
  // Under `mosaic run` the CLI started this worker's role, whose code may still load; the script's argv no longer
  // holds the role's flags (it shows the script's own arguments).
  const { roleStarting, startRole } = entrypoint();
  const starting = roleStarting();
  if (starting) return starting;
  const { roleConfigFromArgv } = require("../cluster/options.ts") as typeof import("../cluster/options.ts");
  return startRole(roleConfigFromArgv(process.argv.slice(2)));
}

let signalHandler: ((signal: NodeJS.Signals) => void) | undefined;

function installSignalHandlers(): void {
  signalHandler = (signal) => {
    const code = signal === "SIGINT" ? 130 : 143;
    void stop().finally(() => process.exit(code));
  };
  process.once("SIGINT", signalHandler);
  process.once("SIGTERM", signalHandler);
}

function removeSignalHandlers(): void {
  if (!signalHandler) return;
  process.off("SIGINT", signalHandler);
  process.off("SIGTERM", signalHandler);
  signalHandler = undefined;
}

/**
 * init() with options while a runtime runs returns that runtime: options that
 * differ from its own are said to be ignored, and which ones won (a script
 * under `mosaic run -w 3` asking for numWorkers 2 gets 3).
 */
function warnIgnoredOptions(head: HeadNode, options: InitOptions): void {
  const running = head.options as Record<string, unknown>;
  const differ = Object.entries(options).filter(([name, value]) => value !== undefined && name in running && JSON.stringify(value) !== JSON.stringify(running[name]));
  if (differ.length === 0) return;
  const show = (entries: [string, unknown][]) => entries.map(([name, value]) => `${name}: ${JSON.stringify(value)}`).join(", ");
  const owner = state.attached ? "mosaic run (its flags and MOSAIC_* environment)" : "the first init()";
  head.logger.warning(
    `init({ ${show(differ)} }) is ignored: the runtime is already running with { ${show(differ.map(([name]) => [name, running[name]]))} }, as ${owner} set it; ` +
      "those win (stop() first to start a runtime with other options)",
  );
}

/**
 * Starts a local runtime (monitor, nodes, workers) and resolves with it once
 * every worker is ready. Calling it again returns the running runtime.
 *
 * @example
 * const runtime = await mosaic.init({ numWorkers: 2 });
 * console.log(runtime.workers.map((w) => w.uid)); // ["worker:0:0", "worker:0:1"]
 * await mosaic.stop();
 */
export async function init(options: InitOptions = {}): Promise<HeadRuntime> {
  if (state.role !== "head") return refusedInMethod("init") ?? handOver();
  if (state.runtime) {
    if (state.runtime.state === "running") {
      warnIgnoredOptions(state.runtime as HeadNode, options);
      return publicRuntime(state.runtime as HeadNode);
    }
    if (state.runtime.state === "stopping") await state.runtime.stopped;
  }
  if (state.starting) return publicRuntime(await state.starting);
  state.starting = entrypoint().startHead(options);
  try {
    const head = await state.starting;
    installSignalHandlers();
    return publicRuntime(head);
  } finally {
    state.starting = undefined;
  }
}

/**
 * Stops the runtime: every worker, node and the monitor, in order. Resolves
 * when all of their processes have exited. Safe to call at any time, also while
 * the runtime is still starting. Under `mosaic run` it is left to the CLI.
 */
export async function stop(): Promise<void> {
  if (state.role !== "head") return refusedInMethod("stop") ?? handOver();
  if (state.attached) return;
  if (state.starting) await state.starting.catch(() => {});
  const runtime = state.runtime;
  if (!runtime) return;
  removeSignalHandlers();
  await runtime.stop();
  if (state.runtime === runtime) state.runtime = undefined;
}

/**
 * `interactive("on", options)` starts a runtime for a session (REPL, notebook),
 * `interactive("off")` stops it.
 */
export async function interactive(mode: "on" | "off", options: InitOptions = {}): Promise<HeadRuntime | undefined> {
  const refused = refusedInMethod("interactive");
  if (refused) return refused;
  if (mode === "on") return init(options);
  if (mode === "off") {
    await stop();
    return undefined;
  }
  return Promise.reject(new InvalidArgumentError(`interactive() takes "on" or "off", got ${JSON.stringify(mode)}`));
}

/**
 * Starts a runtime, runs `main` with it, and stops the runtime afterwards, also
 * when `main` throws (the error is re-thrown after the stop).
 *
 * @example
 * await mosaic.run(async (runtime) => {
 *   await Promise.all(runtime.workers.map((w) => w.ping()));
 * }, { numWorkers: 2 });
 */
export async function run<T>(main: (runtime: HeadRuntime) => T | Promise<T>, options: InitOptions = {}): Promise<T> {
  if (state.role !== "head") return refusedInMethod("run") ?? handOver();
  if (typeof main !== "function") throw new InvalidArgumentError("run() needs a function to run: run(async (runtime) => { ... })");
  const head = await init(options);
  if (state.attached) {
    const result = Promise.resolve().then(() => main(head));
    state.runs.push(result.catch(() => {}));
    return result;
  }
  try {
    return await main(head);
  } finally {
    await stop();
  }
}

/** The runtime of this process; throws if none was started. */
export function runtime(): HeadRuntime {
  if (state.role === "thread" && inCall()) throw new RuntimeStateError("mosaic.runtime() is the head's: a tessera method runs on a worker, where there is none (create, call and put from a method without it)");
  if (state.role !== "head" || !state.runtime || state.runtime.state !== "running") {
    throw new RuntimeStateError("no runtime is running: call `await mosaic.init()` (or interactive(\"on\")) first");
  }
  return publicRuntime(state.runtime as HeadNode);
}
