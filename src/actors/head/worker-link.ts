/**
 * The head's links to its workers: calls and requests to one worker, written
 * in order, queued while the connection opens.
 */
import type { Connection } from "../../comms/connection.ts";
import { RuntimeStateError } from "../../errors.ts";
import type { RuntimeLinks } from "../links.ts";
import { isSharedArrayPayload } from "../../comms/shared-memory/index.ts";

/**
 * A payload as it is now, for a message that waits for the link: a copy, but
 * a sent shared array as it is (its stand-in holds the array's name and no
 * bytes: a copy of it would send nothing).
 */
function takenNow(payload: Uint8Array): Uint8Array {
  return isSharedArrayPayload(payload) ? payload : Uint8Array.prototype.slice.call(payload);
}

export class WorkerLink {
  connection: Connection | undefined;
  #queue: ((connection: Connection) => void)[] = [];
  #failure: Error | undefined;

  constructor(readonly uid: string, runtime: RuntimeLinks, onLost: (uid: string, reason: string) => void) {
    if (!runtime.knows(uid)) {
      this.#failure = new RuntimeStateError(`no worker "${uid}" on the network`);
      return;
    }
    const opened = (connection: Connection) => {
      this.connection = connection;
      for (const send of this.#queue.splice(0)) send(connection);
      connection.closed.then((reason) => onLost(uid, `connection lost: ${reason.message}`));
    };
    // A link already open (a ping made it, say) is used at once: nothing waits in the queue (nor is copied for it).
    const open = runtime.connection(uid);
    if (open?.isOpen) {
      opened(open);
      return;
    }
    runtime.connect(uid).then(
      opened,
      (error: Error) => {
        this.#failure = error;
        for (const send of this.#queue.splice(0)) send(undefined as never);
        onLost(uid, `cannot connect: ${error.message}`);
      },
    );
  }

  command(method: string, args: unknown, payloads?: Uint8Array[]): void {
    if (this.connection) this.connection.command(method, args, payloads);
    else if (!this.#failure) this.#queue.push((connection) => connection?.command(method, args, payloads));
  }

  /** A message encoded by the caller, in order with the rest; its payloads taken as they are now (the caller may change them right after). */
  sendEncoded(body: Uint8Array, payloads?: Uint8Array[], owned = false): void {
    if (this.connection) this.connection.sendEncoded(body, payloads, !owned);
    // A call never sent must fail its task (the caller's catch), not vanish.
    else if (this.#failure) throw this.#failure;
    else {
      // Waiting for the link: a copy, unless the payloads are copies of the call's own already.
      const taken = owned ? payloads : payloads?.map(takenNow);
      this.#queue.push((connection) => connection?.sendEncoded(body, taken, !owned));
    }
  }

  /** Hands what was sent so far to the kernel now, not at the end of the tick (nothing when the link is not open yet). */
  flush(): void {
    this.connection?.flush();
  }

  /** `lasting`: the worker keeps the payloads (see RequestOptions). */
  request<T>(method: string, args: unknown, payloads?: Uint8Array[], timeout?: number, lasting = false): Promise<T> {
    if (this.connection) return this.connection.request<T>(method, args, { payloads, snapshot: true, timeout, lasting });
    if (this.#failure) return Promise.reject(this.#failure);
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const taken = payloads?.map(takenNow);
    this.#queue.push((connection) => {
      if (!connection) reject(this.#failure);
      else connection.request<T>(method, args, { payloads: taken, snapshot: true, timeout, lasting }).then(resolve, reject);
    });
    return promise;
  }
}

/** One link per worker, made on first use; a lost worker's link is forgotten. */
export class WorkerLinks {
  #links = new Map<string, WorkerLink>();
  readonly #runtime: RuntimeLinks;
  readonly #onLost: (uid: string, reason: string) => void;

  constructor(runtime: RuntimeLinks, onLost: (uid: string, reason: string) => void) {
    this.#runtime = runtime;
    this.#onLost = onLost;
  }

  get(worker: string): WorkerLink {
    let link = this.#links.get(worker);
    if (!link) this.#links.set(worker, (link = new WorkerLink(worker, this.#runtime, this.#onLost)));
    return link;
  }

  forget(worker: string): void {
    this.#links.delete(worker);
  }
}
