/**
 * The head's side of the warehouse: `put` stores an encoded object on a worker
 * (or on every worker, `publish`), `get` fetches it back, `drop` frees it
 * everywhere it may be (holders and the workers that cached it). References
 * the program lets go of are dropped when garbage collected.
 */
import { ConnectionClosedError, InvalidArgumentError, RuntimeStateError, WorkerDiedError } from "../../errors.ts";
import type { ActorClient } from "./actor-client.ts";
import { nextWireId, uidSuffix } from "./ids.ts";
import { ObjectRef, type ObjectOwner, PUBLISHED } from "./object-ref.ts";
import { decodeValue, encodeValue, type ReferenceLike, scanValue } from "../wire/value-codec.ts";
import { holdHandles, letGoAll, type TesseraHandle } from "./tessera-handle.ts";
import { WithPayloads } from "../../comms/connection.ts";
import { payloadSize } from "../../comms/shared-memory/index.ts";

export interface PutOptions {
  /** Send the object once to every worker, so that all of them read it locally. Default false. */
  publish?: boolean;
  /** Worker to hold the object, e.g. "worker:0:1". Default: the monitor picks one. */
  worker?: string;
}

export class WarehouseClient implements ObjectOwner {
  #actors: ActorClient;
  #collected = new FinalizationRegistry<{ id: number; holder: string }>(({ id, holder }) => this.#release(id, holder));
  /** Tesserae that stored objects name (proxies in a put value), by object id: held while the object is. */
  #holds = new Map<number, { holder: string; tesserae: TesseraHandle[] }>();

  constructor(actors: ActorClient) {
    this.#actors = actors;
    actors.nested.warehouse = this;
  }

  /** An object a tessera thread put on its worker (see nested-calls.ts): released when this ref is collected or dropped. */
  adopt(id: number, uid: string, holder: string, size: number): ObjectRef<any> {
    // What it names is pinned under its id by the thread (nested-client.ts), not held here.
    const ref = new ObjectRef(id, uid, holder, size, this);
    this.#collected.register(ref, { id, holder }, ref);
    return ref;
  }

  #letGo(id: number): void {
    const held = this.#holds.get(id);
    if (!held) return;
    this.#holds.delete(id);
    letGoAll(held.tesserae);
  }

  /** A worker died: the objects it held are gone, and with them their holds on tesserae. */
  workerLost(worker: string): void {
    for (const [id, held] of this.#holds) if (held.holder === worker) this.#letGo(id);
  }

  async put<T>(value: T, options: PutOptions = {}): Promise<ObjectRef<T>> {
    const named: ReferenceLike[] = [];
    const scan = scanValue(value, "value", named);
    if (scan.problem) throw new InvalidArgumentError(`cannot put: ${scan.problem}`);
    const { bytes, payloads, handles } = encodeValue(value, false, "value", scan.exact);
    const size = payloads.reduce((total, payload) => total + payloadSize(payload), bytes.byteLength);
    if (options.worker !== undefined && !this.#actors.liveWorkers().includes(options.worker)) {
      throw new InvalidArgumentError(`no live worker "${options.worker}" to put the object on: the workers are ${this.#actors.liveWorkers().join(", ")}`);
    }
    // Picked here, at once, not asked of the monitor: the payloads must be taken now (sent, or copied while the
    // link opens), as a call's are, before the program can change them (waiting for a placement read them later).
    const one = options.worker ?? this.#nextHolder();
    const holders = options.publish ? this.#actors.liveWorkers() : one === undefined ? [] : [one];
    if (holders.length === 0) throw new RuntimeStateError("no live worker to hold the object");
    const id = nextWireId();
    const holder = options.publish ? PUBLISHED : holders[0]!;
    // Taken now: the program may release its proxies while the object is on its way.
    const tesserae = handles ? holdHandles(handles) : [];
    if (tesserae.length > 0) this.#holds.set(id, { holder, tesserae });
    try {
      // The worker keeps the payloads as they arrive (on this machine: in this process's segment, lent to it).
      await Promise.all(holders.map((worker) => this.#actors.link(worker).request("put", [id, bytes], payloads, undefined, true)));
    } catch (error) {
      this.#letGo(id);
      throw error;
    }
    const ref = new ObjectRef<T>(id, `obj-${uidSuffix(id)}`, holder, size, this);
    this.#collected.register(ref, { id, holder }, ref);
    // A thread that meets a reference to it (in an object it reads) holds this ref; the objects it names live while it does.
    this.#actors.nested.known(ref);
    for (const other of named) if (other instanceof ObjectRef) this.#actors.nested.pinObject(id, other);
    return ref;
  }

  #turn = 0;

  /** Round-robin over the workers alive as far as this head knows, those whose link was lost avoided. */
  #nextHolder(): string | undefined {
    const avoided = new Set(this.#actors.failures.avoided());
    const workers = this.#actors.liveWorkers().filter((worker) => !avoided.has(worker));
    return workers[this.#turn++ % Math.max(1, workers.length)];
  }

  get stoppedReason(): string | undefined {
    return this.#actors.stoppedReason;
  }

  async getObject(ref: ObjectRef<any>): Promise<unknown> {
    if (this.stoppedReason) throw new RuntimeStateError(`${ref.uid} is gone: its runtime stopped (${this.stoppedReason})`);
    if (ref.dropped) throw new RuntimeStateError(`${ref.uid} was dropped: its object is gone`);
    const holder = ref.published ? this.#actors.liveWorkers()[0] : ref.holder;
    if (!holder) throw new RuntimeStateError("no live worker holds the object");
    const lost = (cause?: Error) => new WorkerDiedError(holder, `${ref.uid} was held by ${holder}, which died: its object is gone`, cause ? { cause } : undefined);
    if (this.#actors.failures.isLost(holder)) throw lost();
    let reply: Uint8Array | WithPayloads<Uint8Array>;
    try {
      reply = await this.#actors.link(holder).request<Uint8Array | WithPayloads<Uint8Array>>("result", [ref.id, true]);
    } catch (error) {
      // The holder's link closed under the request (or could not open): the holder is gone.
      if (error instanceof ConnectionClosedError && !this.stoppedReason) throw lost(error);
      throw error;
    }
    return reply instanceof WithPayloads ? decodeValue(reply.value, reply.payloads, this.#actors.nested.resultReference) : decodeValue(reply, [], this.#actors.nested.resultReference);
  }

  /**
   * Resolves once every worker has let the object go. A worker whose link
   * closes meanwhile (it died) holds nothing any more: not a failure of drop.
   */
  async dropObject(ref: ObjectRef<any>): Promise<void> {
    if (this.stoppedReason) return; // its runtime took it along
    this.#collected.unregister(ref);
    this.#actors.nested.unpin(ref.id);
    // Its entry among the nested objects stays while the ref lives: a thread's read then says it was dropped.
    this.#letGo(ref.id);
    await Promise.all(
      this.#actors.liveWorkers().map((worker) =>
        this.#actors
          .link(worker)
          .request("release", [[], [ref.id]])
          .catch((error: unknown) => {
            if (!(error instanceof ConnectionClosedError || error instanceof WorkerDiedError)) throw error;
          }),
      ),
    );
  }

  /** Every worker may hold a copy (published) or a cached one (read as an argument). */
  #release(id: number, _holder: string): void {
    this.#letGo(id);
    for (const worker of this.#actors.liveWorkers()) this.#actors.queueRelease(worker, id);
  }
}
