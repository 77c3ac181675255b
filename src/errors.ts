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

/**
 * Text an error description may carry, in characters (UTF-16 units): a
 * message or a data field up to 1 MiB, a stack up to 1 MiB, and the whole
 * description (cause chain and data included) up to 4 MiB. A description
 * travels in one frame, possibly batched with others (see
 * ERROR_BATCH_CHARS); 1 MiB is far more than any message a reader looks at
 * (a 300 MiB message once broke the 256 MiB frame limit and took the whole
 * tessera thread with it), and leaves even a full batch of 3-byte characters
 * well under that limit. What is cut says so, and how much.
 */
export const MAX_ERROR_TEXT = 1 << 20;
const MAX_DESCRIPTION_TEXT = 4 << 20;
/** Characters of error descriptions sent in one command: a batch past it is split (see errorBatches). */
export const ERROR_BATCH_CHARS = 16 << 20;
/** Causes described below the error itself. */
const MAX_CAUSE_DEPTH = 8;

/** `text` cut to `max` characters (not inside a surrogate pair), with a marker saying how much was cut. */
export function cutText(text: string, max = MAX_ERROR_TEXT): string {
  if (text.length <= max) return text;
  const end = cutAt(text, max);
  return `${text.slice(0, end)}${cutMarker(text.length - end)}`;
}

/** Where to cut `text` to keep at most `max` characters: not inside a surrogate pair. */
export function cutAt(text: string, max: number): number {
  let end = Math.max(0, Math.min(max, text.length));
  if (end > 0 && end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
  return end;
}

/** What ends a text that was cut, saying how much. */
export function cutMarker(cut: number): string {
  return `... [${cut} more characters cut]`;
}

/** A stack cut in its middle: its head names the error, its tail where it was thrown from. */
function cutStack(stack: string, max: number): string {
  if (stack.length <= max) return stack;
  let head = Math.max(0, Math.floor(max / 2));
  let tail = stack.length - Math.max(0, max - head);
  if (head > 0 && isHighSurrogate(stack.charCodeAt(head - 1))) head--;
  if (tail < stack.length && isLowSurrogate(stack.charCodeAt(tail))) tail++;
  return `${stack.slice(0, head)}\n    ... [${tail - head} characters of the stack cut] ...\n${stack.slice(tail)}`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** A property read that may throw (a getter, a proxy trap): undefined then. */
function read(value: unknown, key: PropertyKey): unknown {
  try {
    return (value as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** Any value as text, whatever it is (a null-prototype object, a symbol, a proxy whose traps throw). */
function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {}
  try {
    return Object.prototype.toString.call(value);
  } catch {}
  return `[${typeof value}]`;
}

/** A thrown value's message (any value's text when it is not an Error), for a message of our own: never throws. */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return textOf(read(error, "message"));
  } catch {} // a proxy whose getPrototypeOf trap throws
  return textOf(error);
}

/** A thrown value's stack (else its message, else its text), for a log line: never throws. */
export function printableError(error: unknown): string {
  try {
    if (error instanceof Error) {
      const stack = read(error, "stack");
      return typeof stack === "string" ? stack : textOf(read(error, "message"));
    }
  } catch {}
  return textOf(error);
}

/** What is left of a description's text budget as it is built. */
interface TextBudget {
  left: number;
}

function spend(budget: TextBudget, text: string, cut: (text: string, max: number) => string): string {
  const kept = cut(text, Math.min(MAX_ERROR_TEXT, budget.left));
  budget.left = Math.max(0, budget.left - kept.length);
  return kept;
}

/**
 * Turns any thrown value into its wire form, tagging where it happened. Total:
 * whatever was thrown (getters and proxy traps that throw, null prototypes,
 * symbols, huge texts, long cause chains) it returns a description of bounded
 * size and never throws, as it runs in the catch blocks that keep a tessera
 * thread alive.
 */
export function describeError(error: unknown, runtime?: string, depth = 0): ErrorDescription {
  try {
    return describeWithin(error, runtime, depth, { left: MAX_DESCRIPTION_TEXT });
  } catch {
    // Not expected (every read above is guarded), but this must not throw.
    return { name: "Error", code: "ERROR", message: "a value was thrown that could not be described", runtime, pid: process.pid, host: hostName };
  }
}

function describeWithin(error: unknown, runtime: string | undefined, depth: number, budget: TextBudget): ErrorDescription {
  let isRemote = false;
  let isError = false;
  try {
    isRemote = error instanceof RemoteError;
    isError = !isRemote && error instanceof Error;
  } catch {} // a proxy whose getPrototypeOf trap throws: described as a plain value
  if (isRemote) {
    const remote = error as RemoteError;
    return {
      name: remote.remoteName,
      code: remote.remoteCode,
      message: spend(budget, remote.message.replace(/^[^:]*: /, "").replace(/ \(on [^)]*\)$/, ""), cutText),
      stack: remote.remoteStack === undefined ? undefined : spend(budget, remote.remoteStack, cutStack),
      runtime: remote.runtime,
      pid: remote.pid,
      host: remote.host,
      data: remote.data,
      tessera: remote.tessera,
      method: remote.method,
      task: remote.task,
      cause: remote.cause && depth < MAX_CAUSE_DEPTH ? describeWithin(remote.cause, undefined, depth + 1, budget) : undefined,
    };
  }
  if (isError) {
    const data: Record<string, unknown> = {};
    let keys: string[] = [];
    try {
      keys = Object.keys(error as object);
    } catch {} // an ownKeys trap that throws: no data
    let skipped = 0;
    for (const key of keys) {
      if (["code", "name", "message", "stack"].includes(key)) continue;
      if (budget.left <= key.length) {
        skipped++;
        continue;
      }
      const value = read(error, key);
      if (typeof value === "string") data[key] = spend(budget, value, cutText);
      else if (typeof value === "number" || typeof value === "boolean") data[key] = value;
      else continue;
      budget.left = Math.max(0, budget.left - key.length);
    }
    if (skipped > 0) data["(cut)"] = `${skipped} more fields cut`;
    const name = read(error, "name");
    const code = read(error, "code");
    const message = read(error, "message");
    const stack = read(error, "stack");
    const cause = read(error, "cause");
    return {
      name: typeof name === "string" ? cutText(name, 1024) : cutText(textOf(name), 1024),
      code: typeof code === "string" ? cutText(code, 1024) : "ERROR",
      message: spend(budget, typeof message === "string" ? message : textOf(message), cutText),
      stack: stack === undefined ? undefined : spend(budget, typeof stack === "string" ? stack : textOf(stack), cutStack),
      runtime,
      pid: process.pid,
      host: hostName,
      data,
      cause: cause !== undefined && depth < MAX_CAUSE_DEPTH ? describeWithin(cause, runtime, depth + 1, budget) : undefined,
    };
  }
  return { name: "Error", code: "ERROR", message: spend(budget, textOf(error), cutText), runtime, pid: process.pid, host: hostName };
}

/** Characters of text in a description (its cause chain and data included): what errorBatches counts. */
export function descriptionChars(description: ErrorDescription): number {
  let chars = 0;
  for (let at: ErrorDescription | undefined = description, depth = 0; at && depth <= MAX_CAUSE_DEPTH + 1; at = at.cause, depth++) {
    chars += 64 + (at.message?.length ?? 0) + (at.stack?.length ?? 0);
    for (const key in at.data) {
      const value = at.data[key];
      chars += key.length + (typeof value === "string" ? value.length : 8);
    }
  }
  return chars;
}

/**
 * Failures `[id, description]` in slices of at most ERROR_BATCH_CHARS of
 * text each (and at least one failure): a tick's worth of failures with long
 * texts would otherwise pass the frame limit together and drop the link.
 */
export function errorBatches<T extends [unknown, ErrorDescription]>(failed: T[]): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let chars = 0;
  for (const item of failed) {
    const size = descriptionChars(item[1]);
    if (batch.length > 0 && chars + size > ERROR_BATCH_CHARS) {
      batches.push(batch);
      batch = [];
      chars = 0;
    }
    batch.push(item);
    chars += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
