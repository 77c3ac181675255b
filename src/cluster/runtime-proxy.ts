/**
 * A handle on another runtime of the network, as the head sees it.
 */
import type { ResourceSample } from "./resources.ts";
import type { sharedMemoryStats } from "../comms/shared-memory/index.ts";
import type { Runtime, RuntimeInfo } from "./runtime.ts";

/** What a worker holds for the actor model and the warehouse. */
export interface WorkerHoldings {
  /** Tesserae living on the worker. */
  tesserae: number;
  /** Task records kept: results not yet released, and calls still running or waiting. */
  tasks: number;
  /** Warehouse objects kept (put there, or cached when a call read them). */
  objects: number;
  /** Tessera threads running. */
  threads: number;
  /** Bytes of raw payloads of kept results and objects in memory (spilled ones not counted). */
  residentBytes: number;
  /** Kept results and objects whose payloads went to disk. */
  spilled: number;
  /** Bytes of those payloads on disk. */
  spilledBytes: number;
  /** Bytes of payloads being written to disk (still in memory meanwhile, not in residentBytes); 0 once a status with `collect` came back. */
  writingBytes: number;
  /** Events sent up to the head by the worker and its threads since it started (only while the head asked for them). */
  eventsSent: number;
  /**
   * Calls its main thread passed on to their threads with dependency values it
   * resolved (read from its store or fetched from other workers), since it
   * started. Calls whose values the head sent with them straight to their
   * threads are not among them.
   */
  dependentCalls: number;
  /**
   * Single results its main thread was asked for (`result` requests: the
   * head's `result()` of a result that did not come with its completion,
   * another worker's fetch of one), since it started.
   */
  resultRequests: number;
  /**
   * Completions its tessera threads posted to its main thread one at a time,
   * since it started: those of the head's calls whose results the head has
   * (small ones, and those sent to it when asked) go in batches instead.
   */
  postedCompletions: number;
}

export type RuntimeStatus = ResourceSample & {
  uid: string;
  pid: number;
  /** Shared-memory transfers and holdings of the runtime's process (bytes and counts). */
  sharedMemory: typeof sharedMemoryStats;
  /** Workers only. */
  worker?: WorkerHoldings;
};

export interface StatusOptions {
  /** Run a full garbage collection first (in a worker, in its tessera threads too): for measuring memory. */
  collect?: boolean;
  /** Milliseconds before the request fails with TimeoutError (default: none). */
  timeout?: number;
}

export class RuntimeProxy {
  readonly uid: string;
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  #owner: Runtime;

  constructor(info: RuntimeInfo, owner: Runtime) {
    this.uid = info.uid;
    this.address = info.address;
    this.port = info.port;
    this.pid = info.pid;
    this.#owner = owner;
  }

  /** A round trip to the runtime; resolves with its uid. */
  ping(timeout?: number): Promise<string> {
    return this.#owner.request<string>(this.uid, "ping", null, timeout);
  }

  /**
   * CPU load (percent of a core since the last sample), RSS (bytes), memory
   * limit (bytes), shared-memory transfers of the runtime, and for a worker
   * what it holds (see WorkerHoldings). A number is the timeout (ms).
   *
   * @example
   * const { rss, worker } = await runtime.getWorker("worker:0:0").status({ collect: true });
   */
  status(options?: StatusOptions | number): Promise<RuntimeStatus> {
    const { collect = false, timeout } = typeof options === "number" ? { timeout: options } : (options ?? {});
    return this.#owner.request(this.uid, "status", { collect }, timeout);
  }

  toString(): string {
    return `<RuntimeProxy uid=${this.uid}, address=${this.address}, port=${this.port}, pid=${this.pid}>`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
