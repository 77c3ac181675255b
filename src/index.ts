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
export { sharedArray } from "./api/shared-array.ts";
export type { SharedArray, TypedArrayConstructor } from "./api/shared-array.ts";
export { ObjectRef } from "./actors/head/object-ref.ts";
export type { PutOptions } from "./actors/head/warehouse-client.ts";
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
  CancelledError,
  DeadlockError,
  ClassNotRegisteredError,
  UnknownTesseraMethodError,
  OutOfMemoryError,
  AddressInUseError,
} from "./errors.ts";
export { HeadRuntime } from "./api/head-runtime.ts";
export type { AsyncForOptions } from "./api/head-runtime.ts";
export { tessera, Tessera } from "./actors/head/tessera.ts";
export type { TesseraStatics, WithOptions } from "./actors/head/tessera.ts";
export { ArrayElementError, ArrayTask, each, PerElement } from "./actors/head/tessera-array.ts";
export type { TesseraArray, ArrayMethod, ArrayArgs } from "./actors/head/tessera-array.ts";
export { TaskProxy, TaskOutput, DoneMarker } from "./actors/head/task-proxy.ts";
export type { TaskState, TaskTimes, TaskOutputs } from "./actors/head/task-proxy.ts";
export type { TesseraProxy, TesseraState, Remote, RemoteArgs, RemoteMethod, RemoteCall, CallOptions } from "./actors/head/tessera-proxy.ts";
export type { RetryOptions } from "./actors/head/retries.ts";
export { wait } from "./actors/head/wait.ts";
export { remote } from "./actors/head/remote-function.ts";
export type { RemoteFunction, RemoteFunctionCall } from "./actors/head/remote-function.ts";
export type { WaitOptions, WaitResult } from "./actors/head/wait.ts";
export { signal } from "./actors/current-call.ts";
export type { BarrierReport } from "./actors/head/barrier.ts";
export type { TesseraOptions } from "./actors/head/tessera.ts";
export { ClassNotFoundError, register, register as serializable } from "./actors/registry.ts";
export { RuntimeProxy } from "./cluster/runtime-proxy.ts";
export type { InitOptions } from "./cluster/options.ts";
export type { Role } from "./types.ts";
export type { LogLevel } from "./logging/logger.ts";
export { logger } from "./logging/user-logger.ts";
export type { UserLogger } from "./logging/user-logger.ts";
export type { RuntimeInfo } from "./cluster/runtime.ts";
export { events, EventStream } from "./observe/events.ts";
export type { RuntimeEvent, RuntimeEventType, EventOf } from "./observe/events.ts";
export type { RuntimeResources } from "./observe/resources.ts";
export type { ClusterStatus, ClusterStatusOptions } from "./observe/status.ts";

/** The role of this process: "head" in the user's program, else "monitor", "node" or "worker". */
export const role = currentRole();
