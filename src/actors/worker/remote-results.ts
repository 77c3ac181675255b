/**
 * Results of tasks held by other workers, fetched for the dependencies of
 * calls. Every fetch of one tick to one worker goes in a single `results`
 * request, answered at once with what is ready there; what is not ready yet is
 * then asked for one by one (a batch must never wait for a result that may
 * itself wait for this worker: that would deadlock the two).
 */
import { WithPayloads } from "../../comms/connection.ts";
import { describeError, type ErrorDescription, localError } from "../../errors.ts";
import type { RuntimeLinks } from "../links.ts";
import { KeyedBatcher } from "../../_util/tick-batcher.ts";
import type { Value } from "../thread/protocol.ts";

/** One entry of a `results` reply: ready (with how many of the reply's payloads are its own), failed, or not done yet. */
export type ResultEntry =
  | [state: 0, bytes: Uint8Array, payloads: number]
  | [state: 1, error: ErrorDescription]
  | [state: 2];

type Fetch = [id: number, data: boolean, waiter: PromiseWithResolvers<Value>];

export class RemoteResults {
  #runtime: RuntimeLinks;
  readonly #batches = new KeyedBatcher<string, Fetch>((worker, fetches) => this.#request(worker, fetches));

  constructor(runtime: RuntimeLinks) {
    this.#runtime = runtime;
  }

  fetch(worker: string, id: number, data: boolean): Promise<Value> {
    const waiter = Promise.withResolvers<Value>();
    this.#batches.add(worker, [id, data, waiter]);
    return waiter.promise;
  }

  #request(worker: string, fetches: Fetch[]): void {
    const items = fetches.map(([id, data]): [number, boolean] => [id, data]);
    this.#runtime.request<ResultEntry[] | WithPayloads<ResultEntry[]>>(worker, "results", items).then(
      (reply) => {
        const [entries, payloads] = reply instanceof WithPayloads ? [reply.value, reply.payloads] : [reply, []];
        let at = 0;
        entries.forEach((entry, i) => {
          const waiter = fetches[i]![2];
          if (entry[0] === 0) waiter.resolve([entry[1], payloads.slice(at, (at += entry[2]))]);
          else if (entry[0] === 1) waiter.reject(localError(entry[1]));
          else {
            // Not done yet: this one waits on its own, so it holds up nothing else.
            this.#runtime
              .request<Uint8Array | WithPayloads<Uint8Array>>(worker, "result", items[i])
              .then((one) => waiter.resolve(one instanceof WithPayloads ? [one.value, one.payloads] : [one, []]), waiter.reject);
          }
        });
      },
      (error: Error) => {
        for (const fetch of fetches) fetch[2].reject(error);
      },
    );
  }
}

/** Builds a `results` reply from what is stored now (the worker side). */
export function resultsReply(
  entries: ({ ready: Value } | { failed: unknown } | undefined)[],
  runtime: string,
): ResultEntry[] | WithPayloads<ResultEntry[]> {
  const reply: ResultEntry[] = [];
  const payloads: Uint8Array[] = [];
  for (const entry of entries) {
    // A frame carries at most 65,535 payloads: a value that would pass that is fetched on its own.
    if (entry === undefined || ("ready" in entry && payloads.length + entry.ready[1].length > 0xffff)) reply.push([2]);
    else if ("ready" in entry) {
      reply.push([0, entry.ready[0], entry.ready[1].length]);
      payloads.push(...entry.ready[1]);
    } else reply.push([1, describeError(entry.failed, runtime)]);
  }
  return payloads.length > 0 ? new WithPayloads(reply, payloads) : reply;
}
