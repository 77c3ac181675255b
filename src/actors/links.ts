/**
 * What the actor model needs of the runtime process it lives in: links to
 * other runtimes by uid, and whether the runtime is going down. Nothing about
 * processes, roles or how runtimes are started: the cluster layer implements
 * this (see Runtime.links).
 */
import type { Connection } from "../comms/connection.ts";
import type { LogStream, RuntimeLogger } from "../logging/logger.ts";

export interface RuntimeLinks {
  /** This runtime's uid (`head`, `worker:0:1`). */
  readonly uid: string;
  /** True once the runtime is stopping: lost links are then expected, not failures. */
  readonly stopping: boolean;
  /** Milliseconds of silence after which a peer counts as dead (bounds waits on a peer that may hang). */
  readonly heartbeatTimeout: number;
  /** Threads each worker runs tesserae on (remote functions spread over all of them). */
  readonly threadsPerWorker: number;
  readonly logger: RuntimeLogger;
  /** Uids of the workers on the network, as this runtime knows it now. */
  workers(): string[];
  /** The host runtime `uid` runs on, in cluster mode (for messages about it). */
  hostOf(uid: string): string | undefined;
  /** Whether `uid` names a runtime of the network. */
  knows(uid: string): boolean;
  /** The connection to runtime `uid`, dialled on first use (rejects if it is not on the network or cannot be reached). */
  connect(uid: string): Promise<Connection>;
  /** The authenticated connection whose peer is `uid` (a runtime or a tessera thread), if one is open. */
  connection(uid: string): Connection | undefined;
  /** Every authenticated connection, by peer uid. */
  connections(): Iterable<[string, Connection]>;
  /** One request to runtime `uid`. */
  request<T>(uid: string, method: string, args?: unknown, timeout?: number): Promise<T>;
  /** Log lines of `from` (a tessera's console): shown by the head, relayed up the tree by others. */
  relayLines(from: string, stream: LogStream, lines: string[]): void;
}
