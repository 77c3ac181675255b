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

/** Who waits for a fetched result: an object with two methods, so a fetch needs no closures of its own. */
export interface FetchSink {
  resolve(value: Value): void;
  reject(error: Error): void;
}

type Fetch = [id: number, data: boolean, sink: FetchSink];

export class RemoteResults {
  #runtime: RuntimeLinks;
  readonly #batches = new KeyedBatcher<string, Fetch>((worker, fetches) => this.#request(worker, fetches));
  /** Fetches whose results the holder sends when they settle, by the link they were asked on and task id. */
  readonly #awaited = new Map<Connection, Map<number, Fetch | Fetch[]>>();

  constructor(runtime: RuntimeLinks) {
    this.#runtime = runtime;
  }

  /** `sink` hears once the holder answers (no promise per dependency). */
  fetch(worker: string, id: number, data: boolean, sink: FetchSink): void {
    this.#batches.add(worker, [id, data, sink]);
  }

  #request(worker: string, fetches: Fetch[]): void {
    const items = fetches.map(([id, data]): [number, boolean] => [id, data]);
    this.#runtime.connect(worker).then(
      (connection) => {
        // Awaited before the request leaves: what the holder sends later may be read before the reply's
        // reaction runs (frames of one read are handled in one go, promise reactions after them).
        const awaited = this.#awaitedOn(connection);
        for (const fetch of fetches) {
          const waiting = awaited.get(fetch[0]);
          if (waiting === undefined) awaited.set(fetch[0], fetch);
          else if (isFetch(waiting)) awaited.set(fetch[0], [waiting, fetch]);
          else waiting.push(fetch);
        }
        connection.request<ResultEntry[] | WithPayloads<ResultEntry[]>>("results", items).then(
          (reply) => {
            const [entries, payloads] = reply instanceof WithPayloads ? [reply.value, reply.payloads] : [reply, []];
            let at = 0;
            for (let i = 0; i < entries.length; i++) {
              const entry = entries[i]!;
              if (entry[0] === 3) continue; // the holder sends it when it settles
              const fetch = fetches[i]!;
              forget(awaited, fetch);
              if (entry[0] === 0) fetch[2].resolve([entry[1], payloads.slice(at, (at += entry[2]))]);
              else if (entry[0] === 1) fetch[2].reject(localError(entry[1]));
              else this.#fetchAlone(worker, fetch);
            }
          },
          (error: Error) => {
            for (const fetch of fetches) if (forget(awaited, fetch)) fetch[2].reject(error);
          },
        );
      },
      (error: Error) => {
        for (const fetch of fetches) fetch[2].reject(error);
      },
    );
  }

  /** One too large for a batch: asked for in a request of its own. */
  #fetchAlone(worker: string, [id, data, sink]: Fetch): void {
    this.#runtime.request<Uint8Array | WithPayloads<Uint8Array>>(worker, "result", [id, data]).then(
      (one) => sink.resolve(one instanceof WithPayloads ? [one.value, one.payloads] : [one, []]),
      (error: Error) => sink.reject(error),
    );
  }

  /** The fetches the holder at the end of `connection` will send; they fail when it closes (the holder died, or the link broke). */
  #awaitedOn(connection: Connection): Map<number, Fetch | Fetch[]> {
    let awaited = this.#awaited.get(connection);
    if (awaited) return awaited;
    this.#awaited.set(connection, (awaited = new Map()));
    const peer = connection.peer?.uid ?? "a worker";
    void connection.closed.then((reason) => {
      this.#awaited.delete(connection);
      const error = new ConnectionClosedError(`connection to ${peer} closed: ${reason.message}`, { cause: reason });
      for (const waiting of awaited.values()) {
        if (isFetch(waiting)) waiting[2].reject(error);
        else for (const fetch of waiting) fetch[2].reject(error);
      }
    });
    return awaited;
  }

  /** Results the holder sent as they settled (the `settled` command). */
  onSettled(connection: Connection, entries: SettledEntry[], payloads: Uint8Array[]): void {
    const awaited = this.#awaited.get(connection);
    let at = 0;
    for (const entry of entries) {
      const id = entry[0];
      const own = entry[2] === 0 ? payloads.slice(at, (at += entry[4])) : undefined;
      const waiting = awaited?.get(id);
      if (waiting === undefined) continue;
      if (isFetch(waiting)) {
        if (waiting[1] !== entry[1]) continue;
        awaited!.delete(id);
        this.#settle(connection, waiting, entry, own);
        continue;
      }
      const left = waiting.filter((fetch) => fetch[1] !== entry[1]);
      if (left.length === 0) awaited!.delete(id);
      else awaited!.set(id, left.length === 1 ? left[0]! : left);
      for (const fetch of waiting) if (fetch[1] === entry[1]) this.#settle(connection, fetch, entry, own);
    }
  }

  #settle(connection: Connection, fetch: Fetch, entry: SettledEntry, own: Uint8Array[] | undefined): void {
    if (entry[2] === 0) fetch[2].resolve([entry[3], own!]);
    else if (entry[2] === 1) fetch[2].reject(localError(entry[3]));
    else this.#fetchAlone(connection.peer!.uid, fetch);
  }
}

/** Takes `fetch` off the awaited ones; false when it was not there (settled already). */
function forget(awaited: Map<number, Fetch | Fetch[]>, fetch: Fetch): boolean {
  const waiting = awaited.get(fetch[0]);
  if (waiting === fetch) return awaited.delete(fetch[0]);
  if (waiting === undefined || isFetch(waiting)) return false;
  const at = waiting.indexOf(fetch);
  if (at < 0) return false;
  waiting.splice(at, 1);
  if (waiting.length === 1) awaited.set(fetch[0], waiting[0]!);
  return true;
}

function isFetch(waiting: Fetch | Fetch[]): waiting is Fetch {
  return typeof waiting[0] === "number";
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
