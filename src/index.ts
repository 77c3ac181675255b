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
export { put, get, drop } from "./api/warehouse.ts";
export { ObjectRef } from "./core/object-ref.ts";
export type { PutOptions } from "./warehouse/warehouse-client.ts";
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
  WorkerDiedError,
  DependencyError,
  UnknownTesseraMethodError,
} from "./errors.ts";
export { HeadRuntime } from "./runtime/head.ts";
export { tessera, Tessera } from "./core/tessera.ts";
export type { TesseraStatics } from "./core/tessera.ts";
export { TaskProxy, TaskOutput, DoneMarker } from "./core/task-proxy.ts";
export type { TaskState, TaskOutputs } from "./core/task-proxy.ts";
export type { TesseraProxy, TesseraState, Remote, RemoteArgs, RemoteMethod } from "./core/tessera-proxy.ts";
export type { PlacementOptions } from "./core/actor-client.ts";
export { ClassNotFoundError } from "./core/registry.ts";
export { RuntimeProxy } from "./runtime/runtime-proxy.ts";
export type { InitOptions, Role } from "./runtime/options.ts";
export type { LogLevel } from "./logging/logger.ts";
export type { RuntimeInfo } from "./runtime/runtime.ts";

/** The role of this process: "head" in the user's program, else "monitor", "node" or "worker". */
export const role = currentRole();
