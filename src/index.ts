/**
 * Mosaic for Bun: an actor-based parallel runtime.
 *
 * @example
 * import * as mosaic from "mosaic-bun";
 * await mosaic.run(async (runtime) => {
 *   console.log(runtime.workers.length);
 * }, { numWorkers: 2 });
 */
import { currentRole } from "./api/lifecycle.ts";

export { init, stop, interactive, run, runtime } from "./api/lifecycle.ts";
export {
  MosaicError,
  ProtocolError,
  HandshakeError,
  UnknownMethodError,
  ConnectionClosedError,
  TimeoutError,
  RuntimeDiedError,
  RuntimeStateError,
  InvalidArgumentError,
  RemoteError,
} from "./errors.ts";
export { HeadRuntime } from "./runtime/head.ts";
export { RuntimeProxy } from "./runtime/runtime-proxy.ts";
export type { InitOptions, Role } from "./runtime/options.ts";
export type { LogLevel } from "./logging/logger.ts";
export type { RuntimeInfo } from "./runtime/runtime.ts";

/** The role of this process: "head" in the user's program, else "monitor", "node" or "worker". */
export const role = currentRole();
