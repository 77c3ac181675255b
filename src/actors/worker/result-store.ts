/**
 * What a worker keeps for others (the warehouse's worker half): task results
 * and warehouse objects, encoded, until released or dropped; who waits for a
 * result not there yet; marks for what is gone (a late request fails at once);
 * and the spill of stored values to disk past half the worker's budget.
 */
import type { Connection } from "../../comms/connection.ts";
import { type ErrorDescription, RemoteError, RuntimeStateError } from "../../errors.ts";
import { IdTable } from "../../_util/id-table.ts";
import { recentIds } from "../../_util/recent.ts";
import { type Spillable, SpillStore } from "../../warehouse/spill-store.ts";
import type { Value } from "../thread/protocol.ts";
import { LATER, type ResultEntry, resultsReply } from "./remote-results.ts";
import type { TesseraThread } from "./thread-pool.ts";
import type { WithPayloads } from "../../comms/connection.ts";
import { collectSoon, SHM_MIN_BYTES } from "../../comms/shared-memory/index.ts";

export const EMPTY: Value = [new Uint8Array(0), []];

interface TaskRecord extends Spillable {
  state: "pending" | "done" | "failed";
  /** The thread a call was handed to (its failure fails only what ran there). */
  thread?: TesseraThread;
  result?: Value;
  error?: ErrorDescription;
  released: boolean;
  /** Who waits for the result here (dependencies, `result` requests); made when the first one comes. */
  waiters?: Waiter[];
  /** The connection of the runtime that made the call: it hears of the completion. */
  owner?: Connection;
}

/** Hears once a result settles: its value (whole: a waiter that wants only the completion drops it) or its failure. */
export interface Waiter {
  resolve(value: Value): void;
  reject(error: Error): void;
}

/** Every record with all its fields from the start: one object shape for all of them, read and written at one cost. */
function newRecord(state: TaskRecord["state"], result: Value | undefined, owner: Connection | undefined): TaskRecord {
  return { state, thread: undefined, result, error: undefined, released: false, waiters: undefined, owner, spilled: undefined };
}

/**
 * A slot of the store: a record, or the bytes alone of a result without
 * payloads that its thread reported to the head itself (the commonest kind:
 * pipelined calls' small results, which nobody here may ever ask for). A
 * record is made of such bytes only when one is needed (see #record).
 */
type Slot = TaskRecord | Uint8Array;

/**
 * One-byte results (small integers, nil, booleans, empty strings, arrays and
 * maps), shared: stored values are only read (copied into messages and posts),
 * never changed, so each of these needs no memory of its own.
 */
const ONE_BYTE_RESULTS = Array.from({ length: 256 }, (_, byte) => Uint8Array.of(byte));

/** The result's bytes `at` to `end` of a batch of them, in memory of its own (or shared, for one byte). */
export function resultBytes(batch: Uint8Array, at: number, end: number): Uint8Array {
  return end - at === 1 ? ONE_BYTE_RESULTS[batch[at]!]! : batch.slice(at, end);
}

/** What a worker holds, for its status. */
export interface StoreCounts {
  tasks: number;
  objects: number;
  residentBytes: number;
  spilled: number;
  spilledBytes: number;
  writingBytes: number;
}

export class ResultStore {
  readonly #uid: string;
  /** By wire id: pipelined calls put hundreds of thousands here (an IdTable adds and removes them far cheaper than a Map). */
  #tasks = new IdTable<Slot>();
  /** Ids of the warehouse objects held here (put or cached), for counts. */
  #objects = new Set<number>();
  /** Stored values past half the worker's memory budget go to disk, coldest first. */
  readonly #spill: SpillStore;
  /**
   * Ids released, dropped or abandoned here (the most recent ones): a late
   * request for one fails at once instead of waiting for a call that will not come.
   */
  #gone = recentIds<string>(100_000);

  /**
   * `onWait`: someone waits here for a result not reported yet (a tessera
   * thread may hold back completions the head already has: see the thread's outbox.ts).
   */
  constructor(uid: string, spill: SpillStore, onWait?: () => void) {
    this.#uid = uid;
    this.#spill = spill;
    this.#onWait = onWait;
  }

  readonly #onWait: (() => void) | undefined;

  markGone(id: number, reason: string): void {
    this.#gone.set(id, reason);
  }

  #goneError(id: number): Error {
    return new RuntimeStateError(`result or object #${id} is no longer on ${this.#uid}: ${this.#gone.get(id)}`);
  }

  /** The record of `id`, made now of a result's bytes alone (see Slot). */
  #record(id: number): TaskRecord | undefined {
    const slot = this.#tasks.get(id);
    if (!(slot instanceof Uint8Array)) return slot;
    const record = newRecord("done", [slot, []], undefined);
    this.#tasks.set(id, record);
    return record;
  }

  isPending(id: number): boolean {
    const slot = this.#tasks.get(id);
    return !(slot instanceof Uint8Array) && slot?.state === "pending";
  }

  isDone(id: number): boolean {
    const slot = this.#tasks.get(id);
    return slot instanceof Uint8Array || slot?.state === "done";
  }

  /** A call arrived: its caller hears of its completion. */
  expect(task: number, owner: Connection): void {
    const record = this.#record(task);
    if (record) record.owner = owner;
    else this.#tasks.set(task, newRecord("pending", undefined, owner));
  }

  /** The call went to `thread`: if that thread dies, it fails. */
  assign(task: number, thread: TesseraThread): void {
    const record = this.#record(task);
    if (record) record.thread = thread;
  }

  /** Calls still running (or waiting) on `thread`. */
  pendingOn(thread: TesseraThread): number[] {
    const ids: number[] = [];
    for (const [id, record] of this.#tasks.entries()) if (!(record instanceof Uint8Array) && record.state === "pending" && record.thread === thread) ids.push(id);
    return ids;
  }

  /**
   * A task ended: its result is kept (unless released meanwhile) and whoever
   * waits for it here is answered. Returns the caller to tell, if one is to be told.
   */
  settle(id: number, result: Value | undefined, error: ErrorDescription | undefined): Connection | undefined {
    let record = this.#record(id);
    // A call the head sent straight to the thread: heard of here only now (unless released meanwhile).
    if (!record && !this.#gone.has(id)) this.#tasks.set(id, (record = newRecord("pending", undefined, undefined)));
    if (!record || record.state !== "pending") return undefined;
    record.state = error ? "failed" : "done";
    if (!record.released) {
      record.result = result;
      record.error = error;
      if (result && result[1].length > 0) this.#spill.add(id, record);
    } else {
      this.#tasks.delete(id);
      this.markGone(id, "released");
    }
    const waiters = record.waiters;
    record.waiters = undefined;
    if (waiters) for (const waiter of waiters) {
      if (error) waiter.reject(new RemoteError(error));
      else waiter.resolve(result!);
    }
    const owner = record.owner;
    record.owner = undefined;
    return owner;
  }

  /**
   * A task its thread reported done to the head itself, its result without
   * payloads (`bytes`, in memory of its own): kept as those bytes alone
   * unless someone waits for it here already.
   */
  settleReported(id: number, bytes: Uint8Array): void {
    if (this.#tasks.get(id) !== undefined || this.#gone.has(id)) this.settle(id, [bytes, []], undefined);
    else this.#tasks.set(id, bytes);
  }

  /** A warehouse object put here by the head, or read here from another worker and kept for later calls. */
  store(id: number, value: Value): void {
    this.#objects.add(id);
    const record = this.#record(id);
    if (record && record.state !== "pending") return;
    const waiters = record?.waiters ?? [];
    const stored = newRecord("done", value, undefined);
    this.#tasks.set(id, stored);
    this.#spill.add(id, stored);
    for (const waiter of waiters) waiter.resolve(value);
  }

  /** The encoded result of a task (an empty value when `data` is false), once it is done. */
  resultValue(id: number, data: boolean): Promise<Value> {
    let record = this.#record(id);
    if (!record && this.#gone.has(id)) return Promise.reject(this.#goneError(id));
    // A dependent may ask before the call itself has reached us: wait for it.
    if (!record) this.#tasks.set(id, (record = newRecord("pending", undefined, undefined)));
    if (record.state === "done") {
      if (!data) return Promise.resolve(EMPTY);
      const loading = this.#spill.touch(id, record);
      return loading ? loading.then(() => record.result!) : Promise.resolve(record.result!);
    }
    if (record.state === "failed") return Promise.reject(new RemoteError(record.error!));
    const { promise, resolve, reject } = Promise.withResolvers<Value>();
    (record.waiters ??= []).push({ resolve: (value) => resolve(data ? value : EMPTY), reject });
    this.#onWait?.();
    return promise;
  }

  /**
   * Results for another worker's dependencies: what is settled now, in one
   * reply; `later` is handed what is not (it sends each when it settles).
   */
  resultValues(items: [number, boolean][], later: (id: number, data: boolean) => Waiter): ResultEntry[] | WithPayloads<ResultEntry[]> {
    return resultsReply(
      items.map(([id, data]) => {
        const record = this.#record(id);
        if (record?.state === "done") {
          if (!data) return { ready: EMPTY };
          const loading = record.spilled || record.result![1].length > 0 ? this.#spill.touch(id, record) : undefined;
          if (!loading) return { ready: record.result! };
          // On disk: sent once read back (off the event loop), as a result that settles later is.
          const waiter = later(id, data);
          loading.then(() => waiter.resolve(record.result!), (error: Error) => waiter.reject(error));
          return LATER;
        }
        if (record?.state === "failed") return { failed: new RemoteError(record.error!) };
        if (this.#gone.has(id)) return { failed: this.#goneError(id) };
        // Not here yet, or running: asked for before the call itself came, it waits for it too.
        let pending = record;
        if (!pending) this.#tasks.set(id, (pending = newRecord("pending", undefined, undefined)));
        (pending.waiters ??= []).push(later(id, data));
        // Its completion may be held back by its thread: asked for now.
        this.#onWait?.();
        return LATER;
      }),
      this.#uid,
    );
  }

  /** Results (and objects) the caller no longer needs: kept ones go now, pending ones when they end. */
  release(ids: number[]): void {
    let large = false;
    for (const id of ids) {
      const record = this.#tasks.get(id);
      if (!record || record instanceof Uint8Array) {
        if (record) this.#tasks.delete(id);
        this.markGone(id, "released");
        continue;
      }
      if (record.state === "pending") record.released = true;
      else {
        this.#tasks.delete(id);
        this.#objects.delete(id);
        this.#spill.remove(id, record);
        this.markGone(id, "released");
        if (!large && record.result) large = record.result[1].some((payload) => payload.byteLength >= SHM_MIN_BYTES);
      }
    }
    // A large result's segment goes back to its thread's pool only once its mapping here is collected, and
    // mapped memory does not move the collector: without this the next large result takes a fresh segment.
    if (large) collectSoon();
  }

  get counts(): StoreCounts {
    return { tasks: this.#tasks.size - this.#objects.size, objects: this.#objects.size, ...this.#spill.stats };
  }

  close(): void {
    this.#spill.close();
  }
}
