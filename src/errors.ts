/**
 * One error hierarchy for the whole runtime. Every error has a stable `code`
 * so that callers (and the wire) can tell failures apart without parsing text.
 */
export class MosaicError extends Error {
  readonly code: string = "MOSAIC_ERROR";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A frame could not be parsed, or broke the size limit. The peer is dropped. */
export class ProtocolError extends MosaicError {
  override readonly code = "PROTOCOL_ERROR";
}

/** A peer failed to prove it holds the cluster secret, or spoke another protocol version. */
export class HandshakeError extends MosaicError {
  override readonly code = "HANDSHAKE_FAILED";
}

/** A request named a method the receiving runtime does not serve. */
export class UnknownMethodError extends MosaicError {
  override readonly code = "UNKNOWN_METHOD";
  constructor(readonly method: string, readonly runtime: string) {
    super(`runtime ${runtime} has no method "${method}"`);
  }
}

/** The connection closed (or went silent) while a reply was still awaited. */
export class ConnectionClosedError extends MosaicError {
  override readonly code = "CONNECTION_CLOSED";
}

/** A request was not answered in the time its caller allowed. */
export class TimeoutError extends MosaicError {
  override readonly code = "TIMEOUT";
}

/** A runtime process (worker, node, monitor) exited or stopped answering. */
export class RuntimeDiedError extends MosaicError {
  override readonly code: string = "RUNTIME_DIED";
  constructor(
    readonly runtime: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The runtime was used in the wrong state: not started, already stopped, ... */
export class RuntimeStateError extends MosaicError {
  override readonly code = "RUNTIME_STATE";
}

/** A server could not listen: its address and port are taken (e.g. the dashboard's port). */
export class AddressInUseError extends MosaicError {
  override readonly code = "ADDRESS_IN_USE";
}

/** The worker holding a tessera died: its pending and later tasks fail with this. */
export class WorkerDiedError extends RuntimeDiedError {
  override readonly code = "WORKER_DIED";
}

/** The task was cancelled (`task.cancel()`) before it ran, or its method stopped on its signal. */
export class CancelledError extends MosaicError {
  override readonly code = "CANCELLED";
}

/** A value arrived as an instance of a class this process has not registered (`mosaic.register`). */
export class ClassNotRegisteredError extends MosaicError {
  override readonly code = "CLASS_NOT_REGISTERED";
}

/** A task could not run because a task it depends on failed. */
export class DependencyError extends MosaicError {
  override readonly code = "DEPENDENCY_FAILED";
}

/** A method name that the tessera's class does not have. */
export class UnknownTesseraMethodError extends MosaicError {
  override readonly code = "UNKNOWN_TESSERA_METHOD";
}

/** A transfer or object did not fit the memory budget of the runtime that was to hold it. */
export class OutOfMemoryError extends MosaicError {
  override readonly code = "OUT_OF_MEMORY";
}

/** Invalid options or arguments given to a public API. */
export class InvalidArgumentError extends MosaicError {
  override readonly code = "INVALID_ARGUMENT";
}

/** A tessera method called its own tessera: the call would wait behind the method that waits for it (see README, Workers that use the runtime). */
export class DeadlockError extends MosaicError {
  override readonly code = "DEADLOCK";
}

/** A scheduler's node list (a SLURM hostlist, a node file) that cannot be read: the message names the input. */
export class AllocationError extends MosaicError {
  override readonly code = "INVALID_ALLOCATION";
}

/** A host name (from --hosts, a host file or a job's node list) that does not resolve to an address. */
export class HostResolutionError extends MosaicError {
  override readonly code = "HOST_UNRESOLVED";
}

/**
 * Failures of the runtime itself (not of user code) keep their class when
 * they come back from another runtime: a dead worker or tessera thread is a
 * WorkerDiedError, a failed dependency a DependencyError, a refused transfer
 * an OutOfMemoryError. The remote error (where it happened, its stack, the
 * task, and the remote cause chain) is kept as their `cause`.
 */
export function localError(description: ErrorDescription): MosaicError {
  const remote = new RemoteError(description);
  const where = description.runtime ?? "a remote runtime";
  switch (description.code) {
    case "OUT_OF_MEMORY":
      return new OutOfMemoryError(`${description.message} (on ${where})`, { cause: remote });
    case "WORKER_DIED": {
      // The dead worker travels as the error's own field (see describeError's data).
      const worker = typeof description.data?.runtime === "string" ? description.data.runtime : where;
      return new WorkerDiedError(worker, description.message, { cause: remote });
    }
    case "DEPENDENCY_FAILED":
      return new DependencyError(`${description.message} (on ${where})`, { cause: remote });
    case "CANCELLED":
      return new CancelledError(description.message, { cause: remote });
    case "DEADLOCK":
      return new DeadlockError(description.message, { cause: remote });
    default:
      return remote;
  }
}

/** Serialised form of an error as it crosses the wire. */
export interface ErrorDescription {
  name: string;
  code: string;
  message: string;
  stack?: string;
  runtime?: string;
  pid?: number;
  host?: string;
  data?: Record<string, unknown>;
  cause?: ErrorDescription;
  /** For failures of tasks: where and what ran. */
  tessera?: string;
  method?: string;
  task?: string;
}

/**
 * An error raised in another runtime and re-thrown here. Keeps the remote class
 * name, message and stack, where it happened, and the remote cause chain.
 */
export class RemoteError extends MosaicError {
  override readonly code: string = "REMOTE_ERROR";
  readonly remoteName: string;
  readonly remoteCode: string;
  readonly remoteStack: string | undefined;
  readonly runtime: string | undefined;
  readonly pid: number | undefined;
  readonly host: string | undefined;
  readonly data: Record<string, unknown>;
  /** For task failures: the tessera uid, method name and task uid. */
  readonly tessera: string | undefined;
  readonly method: string | undefined;
  readonly task: string | undefined;

  constructor(description: ErrorDescription) {
    super(`${description.name}: ${description.message}${description.runtime ? ` (on ${description.runtime})` : ""}`, {
      cause: description.cause ? new RemoteError(description.cause) : undefined,
    });
    this.remoteName = description.name;
    this.remoteCode = description.code;
    this.remoteStack = description.stack;
    this.runtime = description.runtime;
    this.pid = description.pid;
    this.host = description.host;
    this.data = description.data ?? {};
    this.tessera = description.tessera;
    this.method = description.method;
    this.task = description.task;
    if (description.stack) this.stack = `${this.name}: ${this.message}\n    --- remote stack (${description.runtime ?? "remote"}) ---\n${description.stack}`;
  }
}

const hostName = (() => {
  try {
    return require("node:os").hostname() as string;
  } catch {
    return "unknown";
  }
})();

/** Turns any thrown value into its wire form, tagging where it happened. */
export function describeError(error: unknown, runtime?: string, depth = 0): ErrorDescription {
  if (error instanceof RemoteError) {
    return {
      name: error.remoteName,
      code: error.remoteCode,
      message: error.message.replace(/^[^:]*: /, "").replace(/ \(on [^)]*\)$/, ""),
      stack: error.remoteStack,
      runtime: error.runtime,
      pid: error.pid,
      host: error.host,
      data: error.data,
      tessera: error.tessera,
      method: error.method,
      task: error.task,
      cause: error.cause && depth < 8 ? describeError(error.cause, undefined, depth + 1) : undefined,
    };
  }
  if (error instanceof Error) {
    const data: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(error)) {
      if (!["code", "name", "message", "stack"].includes(key) && (typeof value === "string" || typeof value === "number" || typeof value === "boolean")) {
        data[key] = value;
      }
    }
    return {
      name: error.name,
      code: typeof (error as { code?: unknown }).code === "string" ? String((error as { code?: unknown }).code) : "ERROR",
      message: error.message,
      stack: error.stack,
      runtime,
      pid: process.pid,
      host: hostName,
      data,
      cause: error.cause !== undefined && depth < 8 ? describeError(error.cause, runtime, depth + 1) : undefined,
    };
  }
  return { name: "Error", code: "ERROR", message: String(error), runtime, pid: process.pid, host: hostName };
}
