/**
 * Where a tessera thread's nested calls (a method that creates, calls, puts)
 * meet the thread they run on. The thread layer fills in its side (its own
 * link to the head, storing a value in its worker), the client that makes the
 * proxies (head/nested-client.ts) fills in its own; neither imports the other.
 * Also the messages a thread and the head exchange for it (types and op table
 * only; see head/nested-calls.ts for the head's side).
 */
import type { Connection } from "../comms/connection.ts";
import type { ErrorDescription } from "../errors.ts";
import type { TaskReference } from "./wire/value-codec.ts";

/** Thread → head, `nested` command (fire and forget, in order on the thread's link). */
export const Nested = { Call: 0, Hold: 1, LetGo: 2, ReleaseTask: 3, Cancel: 4, Pin: 5, LetGoObject: 6, HoldObject: 7, PinObject: 8, CallFunction: 9 } as const;
export type NestedCommand =
  | [op: 0, task: number, tessera: number, method: string, args: Uint8Array, caller: number, options: Record<string, unknown> | null]
  | [op: 1, tessera: number, uid: string]
  | [op: 2, tessera: number]
  | [op: 3, task: number]
  | [op: 4, task: number]
  | [op: 5, uid: string, task: number]
  | [op: 6, object: number]
  | [op: 7, object: number]
  | [op: 8, object: number, task: number]
  | [op: 9, task: number, key: string, args: Uint8Array, caller: number, options: Record<string, unknown> | null];

/** Thread → head, `nested` request (answered). Create answers once the tessera exists: [uid, worker]. */
export const NestedAsk = { Create: 0, Result: 1, Put: 2, Get: 3, Drop: 4 } as const;
export type NestedRequest =
  | [op: 0, tessera: number, uid: string, key: string, methods: string[], args: Uint8Array, options: Record<string, unknown> | null]
  | [op: 1, task: number]
  | [op: 2, size: number]
  | [op: 3, object: number, holder: string]
  | [op: 4, object: number];

/** Head → thread, `nested` command: tasks settled, each [local task, worker it ran on, error, small result]. */
export type NestedSettled = [task: number, worker: string, error: ErrorDescription | null, inline: Uint8Array | null][];

export interface NestedLink {
  /** True on a tessera thread (set when the thread starts): `X.remote()`, `put` go through the nested client there. */
  onThread: boolean;
  /** The thread's own link to the head (set by the thread layer; nested calls need it). */
  connection: Connection | undefined;
  /** Encodes a value to store (the thread layer): what `store` takes, and its size in bytes. */
  encode: ((value: unknown) => { encoded: unknown; size: number }) | undefined;
  /** Stores what `encode` made in this worker's result store under `id`: kept where it was made. */
  store: ((id: number, encoded: unknown) => void) | undefined;
  /** This thread's worker (objects put here are held there), and the thread's own uid (it names what it creates). */
  worker: string;
  thread: string;
  /** Notifications from the head (the nested client). */
  onSettled: ((settled: NestedSettled) => void) | undefined;
  /**
   * Tessera proxies and object references met in the result of `task` (the
   * nested client has the head hold them while the result lives; see
   * PUT_VALUE for a value being put).
   */
  resultHolds: ((task: number, handles: object[] | undefined, references: TaskReference[]) => void) | undefined;
  /** What a reference in a value this thread decodes becomes: an ObjectRef this thread holds, or the reference. */
  readReference: ((reference: TaskReference) => unknown) | undefined;
}

/** The `task` of resultHolds while a value is encoded to be put (its id is not known yet: the client keeps them for it). */
export const PUT_VALUE = -1;

export const nestedLink: NestedLink = {
  onThread: false,
  connection: undefined,
  encode: undefined,
  store: undefined,
  worker: "",
  thread: "",
  onSettled: undefined,
  resultHolds: undefined,
  readReference: undefined,
};
