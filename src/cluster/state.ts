/**
 * Process-wide state of the library. Kept on globalThis under a registered
 * symbol so that two copies of the library in one process (the compiled CLI
 * and a script it loads from source) still share one runtime and one registry.
 */
import type { HeadNode } from "./head.ts";
import type { Role } from "../types.ts";
import { tesseraThreadSettings } from "../actors/thread/channel.ts";
import { setClientResolver } from "../actors/head/context.ts";
import { RuntimeStateError } from "../errors.ts";
import type { Runtime } from "./runtime.ts";

export interface MosaicState {
  role: Role;
  /** The runtime of this process, once started. */
  runtime: Runtime | undefined;
  /** In flight while the head starts, so concurrent init() calls share it. */
  starting: Promise<HeadNode> | undefined;
  /** True when `mosaic run` started the runtime: the script's init()/stop() attach to it. */
  attached: boolean;
  /** Promises of `mosaic.run()` calls made by a script under `mosaic run`, awaited before teardown. */
  runs: Promise<unknown>[];
  /** Called when a tessera thread's program reaches init(): its classes are all declared. */
  onThreadProgramReady: (() => void) | undefined;
}

const KEY = Symbol.for("mosaic.state");

function roleFromArgv(argv: string[]): Role {
  const at = argv.indexOf("--role");
  const value = at >= 0 ? argv[at + 1] : argv.find((arg) => arg.startsWith("--role="))?.slice(7);
  return value === "monitor" || value === "node" || value === "worker" ? value : "head";
}


function detectRole(): Role {
  if (tesseraThreadSettings() !== undefined) return "thread";
  return roleFromArgv(process.argv);
}

export const state: MosaicState = ((globalThis as Record<symbol, MosaicState | undefined>)[KEY] ??= {
  role: detectRole(),
  onThreadProgramReady: undefined,
  runtime: undefined,
  starting: undefined,
  attached: false,
  runs: [],
});

// `X.remote()` (actor model) asks here for the running head's client.
setClientResolver((what) => {
  if (state.role !== "head") {
    throw new RuntimeStateError(`${what} called in a ${state.role}: only the head creates tesserae (guard with mosaic.role === "head")`);
  }
  const runtime = state.runtime as HeadNode | undefined;
  if (!runtime || runtime.state !== "running") {
    throw new RuntimeStateError(`${what} needs a running runtime: call \`await mosaic.init()\` (or interactive("on")) first`);
  }
  return runtime.actors;
});
