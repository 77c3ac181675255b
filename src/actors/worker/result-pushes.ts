/**
 * The holder's half of dependency fetches that were not ready when asked: the
 * asking worker is sent each result as soon as it settles here, those of one
 * tick in one `settled` command on the link it asked on. Before this, each
 * one was asked for again in a request of its own (a frame each way and a
 * promise on both sides per call: most of a dependent call's cost when calls
 * arrive faster than they run). Nothing here waits for anything: a result
 * that itself waits for the asking worker cannot hold up the others.
 */
import type { Connection } from "../../comms/connection.ts";
import { describeError, type ErrorDescription } from "../../errors.ts";
import { KeyedBatcher } from "../../_util/tick-batcher.ts";
import type { Value } from "../thread/protocol.ts";
import { EMPTY, type Waiter } from "./result-store.ts";

/** One pushed result: ready (with how many of the command's payloads are its own), failed, or to be asked for on its own. */
export type SettledEntry =
  | [id: number, data: boolean, state: 0, bytes: Uint8Array, payloads: number]
  | [id: number, data: boolean, state: 1, error: ErrorDescription]
  | [id: number, data: boolean, state: 2];

/** A frame carries at most this many payloads. */
const MAX_PAYLOADS = 0xffff;

type Outcome = [id: number, data: boolean, value: Value | undefined, error: unknown];

export class ResultPushes {
  readonly #uid: string;
  readonly #batches = new KeyedBatcher<Connection, Outcome>((connection, outcomes) => this.#send(connection, outcomes));

  constructor(uid: string) {
    this.#uid = uid;
  }

  /** What waits for the result of task `id` to send it to `connection` when it settles (`data`: its value too, not only the completion). */
  waiter(connection: Connection, id: number, data: boolean): Waiter {
    return new Push(this.#batches, connection, id, data);
  }

  #send(connection: Connection, outcomes: Outcome[]): void {
    if (!connection.isOpen) return; // the asker's side fails what it waited for when the link closes
    let entries: SettledEntry[] = [];
    let payloads: Uint8Array[] = [];
    const send = () => {
      connection.command("settled", entries, payloads.length > 0 ? payloads : undefined);
      entries = [];
      payloads = [];
    };
    for (const [id, data, value, error] of outcomes) {
      if (!value) {
        entries.push([id, data, 1, describeError(error, this.#uid)]);
        continue;
      }
      const count = value[1].length;
      if (count > MAX_PAYLOADS) {
        entries.push([id, data, 2]);
        continue;
      }
      if (payloads.length + count > MAX_PAYLOADS) send();
      entries.push([id, data, 0, value[0], count]);
      for (const payload of value[1]) payloads.push(payload);
    }
    if (entries.length > 0) send();
  }
}

/** One result to send when it settles: one object per waiting fetch, no promise. */
class Push implements Waiter {
  constructor(
    readonly batches: KeyedBatcher<Connection, Outcome>,
    readonly connection: Connection,
    readonly id: number,
    readonly data: boolean,
  ) {}

  resolve(value: Value): void {
    this.batches.add(this.connection, [this.id, this.data, this.data ? value : EMPTY, undefined]);
  }

  reject(error: Error): void {
    this.batches.add(this.connection, [this.id, this.data, undefined, error]);
  }
}
