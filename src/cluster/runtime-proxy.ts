/**
 * A handle on another runtime of the network, as the head sees it.
 */
import type { ResourceSample } from "./resources.ts";
import type { sharedMemoryStats } from "../comms/shared-memory/index.ts";

export type RuntimeStatus = ResourceSample & { uid: string; pid: number; sharedMemory: typeof sharedMemoryStats };
import type { Runtime, RuntimeInfo } from "./runtime.ts";

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

  /** CPU load (percent of a core since the last sample), RSS, memory limit, and shared-memory transfers of the runtime. */
  status(timeout?: number): Promise<RuntimeStatus> {
    return this.#owner.request(this.uid, "status", null, timeout);
  }

  toString(): string {
    return `<RuntimeProxy uid=${this.uid}, address=${this.address}, port=${this.port}, pid=${this.pid}>`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
