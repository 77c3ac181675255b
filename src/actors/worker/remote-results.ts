/**
 * Results of tasks held by other workers, fetched for the dependencies of
 * calls. Every fetch of one tick to one worker goes in a single `results`
 * request, answered at once with what is ready there; the holder sends the
 * rest as each settles, in `settled` commands batched per tick (see
 * result-pushes.ts). No batch ever waits for a result that may itself wait
 * for this worker: that would deadlock the two.
 */
import { type Connection, WithPayloads } from "../../comms/connection.ts";
import { ConnectionClosedError, describeError, type ErrorDescription, localError } from "../../errors.ts";
import type { RuntimeLinks } from "../links.ts";
import { KeyedBatcher } from "../../_util/tick-batcher.ts";
import type { Value } from "../thread/protocol.ts";
import type { SettledEntry } from "./result-pushes.ts";

/**
 * One entry of a `results` reply: ready (with how many of the reply's
 * payloads are its own), failed, to be asked for on its own (too many
 * payloads for the reply's frame), or sent later when it settles.
 */
export type ResultEntry =
  | [state: 0, bytes: Uint8Array, payloads: number]
  | [state: 1, error: ErrorDescription]
  | [state: 2]
  | [state: 3];

/** In a `results` reply's making: the holder sends this one when it settles. */
export const LATER = "later";

type Fetch = [id: number, data: boolean, resolve: (value: Value) => void, reject: (error: Error) => void];

export class RemoteResults {
  #runtime: RuntimeLinks;
  readonly #batches = new KeyedBatcher<string, Fetch>((worker, fetches) => this.#request(worker, fetches));
  /** Fetches whose results the holder sends when they settle, by the link they were asked on and task id. */
  readonly #awaited = new Map<Connection, Map<number, Fetch[]>>();

  constructor(runtime: RuntimeLinks) {
    this.#runtime = runtime;
  }

  /** `resolve` or `reject` is called once the holder answers (callbacks: no promise per dependency). */
  fetch(worker: string, id: number, data: boolean, resolve: (value: Value) => void, reject: (error: Error) => void): void {
    this.#batches.add(worker, [id, data, resolve, reject]);
  }

  #request(worker: string, fetches: Fetch[]): void {
    const items = fetches.map(([id, data]): [number, boolean] => [id, data]);
    this.#runtime.connect(worker).then(
      (connection) => {
        // Awaited before the request leaves: what the holder sends later finds its fetch whatever the order.
        const awaited = this.#awaitedOn(connection);
        for (const fetch of fetches) {
          const list = awaited.get(fetch[0]);
          if (list) list.push(fetch);
          else awaited.set(fetch[0], [fetch]);
        }
        connection.request<ResultEntry[] | WithPayloads<ResultEntry[]>>("results", items).then(
          (reply) => {
            const [entries, payloads] = reply instanceof WithPayloads ? [reply.value, reply.payloads] : [reply, []];
            let at = 0;
            for (let i = 0; i < entries.length; i++) {
              const entry = entries[i]!;
              if (entry[0] === 3) continue; // it comes in a `settled` command
              const fetch = fetches[i]!;
              forget(awaited, fetch);
              if (entry[0] === 0) fetch[2]([entry[1], payloads.slice(at, (at += entry[2]))]);
              else if (entry[0] === 1) fetch[3](localError(entry[1]));
              else this.#fetchAlone(worker, fetch);
            }
          },
          (error: Error) => {
            for (const fetch of fetches) if (forget(awaited, fetch)) fetch[3](error);
          },
        );
      },
      (error: Error) => {
        for (const fetch of fetches) fetch[3](error);
      },
    );
  }

  /** One too large for a batch: asked for in a request of its own. */
  #fetchAlone(worker: string, [id, data, resolve, reject]: Fetch): void {
    this.#runtime
      .request<Uint8Array | WithPayloads<Uint8Array>>(worker, "result", [id, data])
      .then((one) => resolve(one instanceof WithPayloads ? [one.value, one.payloads] : [one, []]), reject);
  }

  /** The fetches waiting on `connection`; they fail when it closes (the holder died, or the link broke). */
  #awaitedOn(connection: Connection): Map<number, Fetch[]> {
    let awaited = this.#awaited.get(connection);
    if (awaited) return awaited;
    this.#awaited.set(connection, (awaited = new Map()));
    const peer = connection.peer?.uid ?? "a worker";
    void connection.closed.then((reason) => {
      this.#awaited.delete(connection);
      const error = new ConnectionClosedError(`connection to ${peer} closed: ${reason.message}`, { cause: reason });
      for (const list of awaited.values()) for (const fetch of list) fetch[3](error);
    });
    return awaited;
  }

  /** Results the holder sent as they settled (the `settled` command). */
  onSettled(connection: Connection, entries: SettledEntry[], payloads: Uint8Array[]): void {
    const awaited = this.#awaited.get(connection);
    let at = 0;
    for (const entry of entries) {
      const [id, data, state] = entry;
      const own = state === 0 ? payloads.slice(at, (at += entry[4])) : undefined;
      const list = awaited?.get(id);
      if (!list) continue;
      for (let i = 0; i < list.length; ) {
        const fetch = list[i]!;
        if (fetch[1] !== data) {
          i++;
          continue;
        }
        list.splice(i, 1);
        if (state === 0) fetch[2]([entry[3], own!]);
        else if (state === 1) fetch[3](localError(entry[3]));
        else this.#fetchAlone(connection.peer!.uid, fetch);
      }
      if (list.length === 0) awaited!.delete(id);
    }
  }
}

/** Takes `fetch` off the awaited ones; false when it was not there (settled already). */
function forget(awaited: Map<number, Fetch[]>, fetch: Fetch): boolean {
  const list = awaited.get(fetch[0]);
  const at = list?.indexOf(fetch) ?? -1;
  if (at < 0) return false;
  if (list!.length === 1) awaited.delete(fetch[0]);
  else list!.splice(at, 1);
  return true;
}

/** Builds a `results` reply from what is stored now (the worker side). */
export function resultsReply(
  entries: ({ ready: Value } | { failed: unknown } | typeof LATER | undefined)[],
  runtime: string,
): ResultEntry[] | WithPayloads<ResultEntry[]> {
  const reply: ResultEntry[] = [];
  const payloads: Uint8Array[] = [];
  for (const entry of entries) {
    if (entry === LATER) reply.push([3]);
    // A frame carries at most 65,535 payloads: a value that would pass that is fetched on its own.
    else if (entry === undefined || ("ready" in entry && payloads.length + entry.ready[1].length > 0xffff)) reply.push([2]);
    else if ("ready" in entry) {
      reply.push([0, entry.ready[0], entry.ready[1].length]);
      payloads.push(...entry.ready[1]);
    } else reply.push([1, describeError(entry.failed, runtime)]);
  }
  return payloads.length > 0 ? new WithPayloads(reply, payloads) : reply;
}
