/**
 * Results of tasks held by other workers, fetched for the dependencies of
 * calls: every fetch of one tick to one worker goes in a single `results`
 * request (a stream of dependent calls costs one round trip per batch, not per call).
 */
import { WithPayloads } from "../comms/connection.ts";
import { describeError, type ErrorDescription, localError } from "../errors.ts";
import type { Runtime } from "./runtime.ts";
import type { Value } from "./thread.ts";

/** One entry of a `results` reply: [ok, body or error, how many of the reply's payloads are this value's]. */
export type ResultEntry = [ok: true, bytes: Uint8Array, payloads: number] | [ok: false, error: ErrorDescription, payloads: 0];

interface Batch {
  items: [id: number, data: boolean][];
  waiters: PromiseWithResolvers<Value>[];
}

export class RemoteResults {
  #runtime: Runtime;
  #batches = new Map<string, Batch>();

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  fetch(worker: string, id: number, data: boolean): Promise<Value> {
    let batch = this.#batches.get(worker);
    if (!batch) {
      this.#batches.set(worker, (batch = { items: [], waiters: [] }));
      if (this.#batches.size === 1) queueMicrotask(() => this.#flush());
    }
    const waiter = Promise.withResolvers<Value>();
    batch.items.push([id, data]);
    batch.waiters.push(waiter);
    return waiter.promise;
  }

  #flush(): void {
    const batches = this.#batches;
    this.#batches = new Map();
    for (const [worker, { items, waiters }] of batches) {
      this.#runtime.request<ResultEntry[] | WithPayloads<ResultEntry[]>>(worker, "results", items).then(
        (reply) => {
          const [entries, payloads] = reply instanceof WithPayloads ? [reply.value, reply.payloads] : [reply, []];
          let at = 0;
          entries.forEach((entry, i) => {
            if (entry[0]) waiters[i]!.resolve([entry[1], payloads.slice(at, (at += entry[2]))]);
            else waiters[i]!.reject(localError(entry[1]));
          });
        },
        (error: Error) => {
          for (const waiter of waiters) waiter.reject(error);
        },
      );
    }
  }
}

/** Builds a `results` reply from settled values (the worker side). */
export function resultsReply(settled: PromiseSettledResult<Value>[], runtime: string): ResultEntry[] | WithPayloads<ResultEntry[]> {
  const entries: ResultEntry[] = [];
  const payloads: Uint8Array[] = [];
  for (const outcome of settled) {
    if (outcome.status === "fulfilled") {
      entries.push([true, outcome.value[0], outcome.value[1].length]);
      payloads.push(...outcome.value[1]);
    } else entries.push([false, describeError(outcome.reason, runtime), 0]);
  }
  return payloads.length > 0 ? new WithPayloads(entries, payloads) : entries;
}
