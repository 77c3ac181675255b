/**
 * A tessera thread: one of the threads of a worker process, where tesserae
 * live and their methods run. The worker's main thread keeps the sockets, so a
 * method that blocks here (a tight loop, Bun.sleepSync) freezes nothing else.
 *
 * The thread runs the user's program too (to declare its classes); the
 * program's init()/run() call hands the thread over to this loop.
 */
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { describeError, type ErrorDescription, UnknownTesseraMethodError } from "../errors.ts";
import { findClass, classNameOf } from "../core/registry.ts";
import { decodePlain, decodeWithReferences, DONE, encodePlain, type TaskReference } from "../core/wire.ts";

/** Main thread → tessera thread. */
export type ThreadOp =
  | { op: "create"; tessera: number; key: string; args: Uint8Array; deps: Record<number, Uint8Array> }
  | { op: "call"; tessera: number; task: number; method: string; args: Uint8Array; deps: Record<number, Uint8Array> }
  | { op: "release"; tessera: number };

/** Tessera thread → main thread. */
export type ThreadReport =
  | { op: "ready" }
  | { op: "created"; tessera: number }
  | { op: "createFailed"; tessera: number; error: ErrorDescription }
  | { op: "done"; task: number; result: Uint8Array }
  | { op: "failed"; task: number; error: ErrorDescription }
  | { op: "log"; stream: "stdout" | "stderr"; text: string };

interface ResidentTessera {
  instance: Record<string, unknown> | undefined;
  className: string;
  queue: ThreadOp[];
  running: boolean;
  error: ErrorDescription | undefined;
}

let started = false;
const workerUid: string = (workerData as { uid?: string } | undefined)?.uid ?? "worker";
const tesserae = new Map<number, ResidentTessera>();
let outbox: ThreadReport[] = [];

function report(message: ThreadReport): void {
  outbox.push(message);
  if (outbox.length === 1) queueMicrotask(flushReports);
}

function flushReports(): void {
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  parentPort!.postMessage(batch);
}

function decodeArgs(bytes: Uint8Array, deps: Record<number, Uint8Array>): unknown[] {
  const values = new Map<number, unknown>();
  const resolve = (reference: TaskReference) => {
    if (reference.index === "done") return DONE;
    if (!values.has(reference.id)) values.set(reference.id, decodePlain(deps[reference.id]!));
    const value = values.get(reference.id);
    return reference.index === undefined ? value : (value as unknown[])[reference.index];
  };
  const args = decodeWithReferences(bytes, resolve) as unknown[];
  // `outputs.done` only orders the call: it is not an argument of the method.
  return args.filter((arg) => arg !== DONE);
}

async function runQueue(resident: ResidentTessera): Promise<void> {
  resident.running = true;
  while (resident.queue.length > 0) {
    const op = resident.queue.shift()!;
    if (op.op === "release") {
      tesserae.delete(op.tessera);
      continue;
    }
    if (op.op === "create") {
      try {
        const Class = findClass(op.key) as new (...args: unknown[]) => Record<string, unknown>;
        resident.instance = new Class(...decodeArgs(op.args, op.deps));
        report({ op: "created", tessera: op.tessera });
      } catch (error) {
        resident.error = describeError(error, workerUid);
        report({ op: "createFailed", tessera: op.tessera, error: resident.error });
      }
      continue;
    }
    try {
      if (resident.error) throw new Error(`the tessera could not be created: ${resident.error.message}`);
      const method = resident.instance?.[op.method];
      if (typeof method !== "function") throw new UnknownTesseraMethodError(`${resident.className} has no method "${op.method}"`);
      let result = method.apply(resident.instance, decodeArgs(op.args, op.deps));
      // Only async methods pay for an await: synchronous ones run back to back.
      if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") result = await result;
      report({ op: "done", task: op.task, result: encodePlain(result) });
    } catch (error) {
      report({ op: "failed", task: op.task, error: describeError(error, workerUid) });
    }
  }
  resident.running = false;
}

function onOps(ops: ThreadOp[]): void {
  for (const op of ops) {
    let resident = tesserae.get(op.tessera);
    if (!resident) {
      if (op.op === "release") continue;
      const className = op.op === "create" ? classNameOf(op.key) : "tessera";
      tesserae.set(op.tessera, (resident = { instance: undefined, className, queue: [], running: false, error: undefined }));
    }
    resident.queue.push(op);
    if (!resident.running) void runQueue(resident);
  }
}

/**
 * Console output of tessera methods travels with their completions, so the
 * head prints a method's lines before it learns that the method is done.
 */
function captureConsole(): void {
  // Sent at once (with what is queued before it): a method that then blocks must not hold its lines back.
  const capture = (stream: "stdout" | "stderr") => (...args: unknown[]) => {
    outbox.push({ op: "log", stream, text: format(...args) });
    flushReports();
  };
  console.log = console.info = console.debug = capture("stdout");
  console.warn = console.error = capture("stderr");
}

/** Hands this thread over to the tessera loop. Never settles. */
export function startThread(): Promise<never> {
  if (!started) {
    started = true;
    captureConsole();
    parentPort!.on("message", onOps);
    report({ op: "ready" });
  }
  return new Promise<never>(() => {});
}
