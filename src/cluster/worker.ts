/**
 * A worker runtime: the process where tesserae live and tasks run (on its
 * tessera threads; this main thread keeps the sockets).
 */
import type { Connection } from "../comms/connection.ts";
import type { RuntimeLogger } from "../logging/logger.ts";
import { ChildRole } from "./child-role.ts";
import { programEntry } from "../launch/program.ts";
import { threadPreload } from "./child-bundle.ts";
import type { RuntimeEventType } from "../observe/events.ts";
import type { RoleConfig } from "./options.ts";
import type { NetworkSnapshot } from "./runtime.ts";
import type { TesseraHost } from "../actors/worker/tessera-host.ts";
import type { HeadAddress } from "../actors/thread/protocol.ts";
import { EventSender } from "../actors/worker/event-sender.ts";
import type { RuntimeStatus } from "./runtime-proxy.ts";
import type { ResourceProbe } from "../observe/resources.ts";
import { receiveTarget } from "../comms/shared-memory/index.ts";

export class WorkerRuntime extends ChildRole {
  host: TesseraHost | undefined;
  /** Worker-side events, produced only while the head asks for them (`observe`). */
  readonly events = new EventSender(this.links);

  constructor(config: RoleConfig, secret: string, logger: RuntimeLogger) {
    super(config, `node:${config.indices[0]}`, secret, logger);
    // Arrays that arrive here land in shared memory: the tessera threads use them in place.
    // Large ones from a socket land in a warm pooled segment instead (passed on to threads by name).
    this.payloadAllocator = (bytes) => receiveTarget(bytes) ?? new Uint8Array(new SharedArrayBuffer(bytes));
    this.commands.network = (network: NetworkSnapshot) => {
      this.network = network;
    };
    this.methods.adoptNetwork = (network: NetworkSnapshot) => {
      this.network = network;
      return null;
    };
    // The worker-side event types the head has listeners for (see observe/events.ts): only these are produced here.
    this.commands.observe = (types: RuntimeEventType[]) => {
      this.events.observe(types);
      this.host?.observe(types);
    };
    this.methods.createTessera = (args, _connection, payloads) => this.#host.create(args, payloads);
    this.methods.result = (args) => this.#host.resultReply(args);
    this.methods.put = (args, _connection, payloads) => this.#host.put(args, payloads);
    this.methods.results = (items, connection: Connection) => this.#host.resultValues(items, connection);
    this.commands.settled = (entries, connection: Connection, payloads) => this.#host.onSettled(entries, connection, payloads);
    this.commands.abandon = (args) => this.#host.abandon(args);
    this.commands.cancel = (args) => this.#host.cancel(args);
    this.commands.call = (args, connection: Connection, payloads) => this.#host.call(args, connection, payloads);
    this.rejectedCommands.call = (args, connection: Connection, error) => this.#host.failCall(args, connection, error);
    this.commands.release = (args) => this.#host.release(args);
    this.methods.release = (args) => (this.#host.release(args), null);
  }

  /** The runtime's status and what this worker holds; `collect`: after a garbage collection here and in every tessera thread, and once spills under way are written. */
  protected override async describeStatus(collect: boolean): Promise<RuntimeStatus> {
    if (collect) await this.host?.collectGarbage();
    const status = await super.describeStatus(collect);
    const counts = this.host?.counts ?? { tesserae: 0, tasks: 0, objects: 0, residentBytes: 0, spilled: 0, spilledBytes: 0, writingBytes: 0, threads: 0, dependentCalls: 0, resultRequests: 0, postedCompletions: 0 };
    return { ...status, worker: { ...counts, eventsSent: this.events.sent } };
  }

  #probe: ResourceProbe | undefined;

  /** An idle sample tick asks whether calls run or wait without building the list of them. */
  protected override get probe(): ResourceProbe {
    return (this.#probe ??= { ...super.probe, idle: () => this.host?.idle() ?? true });
  }

  protected override callLoad(): { running: [number, number][]; queued: number } {
    return this.host?.load() ?? super.callLoad();
  }

  /** Payloads refused for the budget are memory pressure (told to the head while it listens). */
  protected override admitPayload(bytes: number): boolean {
    if (super.admitPayload(bytes)) return true;
    if (this.events.observing.pressure) {
      this.events.emit({ type: "memory.pressure", runtime: this.uid, requested: bytes, limit: this.resources.memoryLimit, time: Date.now() });
    }
    return false;
  }

  /** Payloads received (put objects, calls with dependencies, results fetched from other workers): transfers. */
  onPayloads(connection: Connection, sharedBytes: number, socketBytes: number, wireBytes: number): void {
    if (!this.events.observing.transfer) return;
    const from = connection.peer?.uid ?? "unknown";
    const time = Date.now();
    if (sharedBytes > 0) this.events.emit({ type: "transfer", from, to: this.uid, bytes: sharedBytes, route: "shm", time });
    if (socketBytes > 0) this.events.emit({ type: "transfer", from, to: this.uid, bytes: socketBytes, route: "tcp", wireBytes, time });
  }

  /** Mapped payloads here are never changed by user code (threads get their own mappings): they may be passed on by name. */
  readonly passesOnMappedPayloads = true;

  /**
   * Payloads that come through shared memory: replies (results of other
   * workers, fetched as dependencies) and objects put in a pooled segment of
   * the head are mapped, kept as they are and passed on to tessera threads by
   * name, without a copy (a put object keeps the head's segment lent for as
   * long as it lives here; it counts against this worker's memory and is
   * spilled like any other). Other requests and commands (calls with
   * dependencies, objects in one-shot segments) are copied into memory of
   * this process: a call's argument passed on by name was counted twice
   * against the budget (the main thread's mapping and the thread's).
   */
  readSharedPayloads(method: string | undefined, pooled: boolean): boolean {
    return method !== undefined && !(pooled && method === "put");
  }

  /**
   * The actor host, made by the first creation, call, put or result asked for.
   * Its code (call backlog, result store, thread pool, spill store: 13 modules)
   * is loaded then, synchronously, so that commands keep their order: an idle
   * worker goes without it.
   */
  get #host(): TesseraHost {
    if (this.host) return this.host;
    const { TesseraHost } = require("../actors/worker/tessera-host.ts") as typeof import("../actors/worker/tessera-host.ts");
    return (this.host = new TesseraHost(this.links, {
      maxThreads: this.options.numThreads,
      program: programEntry(),
      preload: threadPreload,
      memoryLimit: this.resources.memoryLimit,
      warmPool: this.options.warmPool,
      headAddress: () => this.#headAddress(),
      events: this.events,
    }));
  }

  /** The head as this worker's link to it knows it (threads dial it for their own link). */
  #headAddress(): HeadAddress | undefined {
    const head = this.connections.get("head")?.peer;
    return head && head.port > 0 ? { address: head.address, port: head.port, secret: this.secret, socket: head.socket, machine: head.machine } : undefined;
  }

  protected override quietSinceStart(): boolean {
    return this.host === undefined;
  }

  protected async startRole(): Promise<void> {
    // Tessera threads start with the first tessera: an idle worker stays small.
  }

  protected override async beforeStop(): Promise<void> {
    await this.host?.stop();
  }
}
