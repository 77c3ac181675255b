/**
 * A node runtime: one per machine. Starts the workers of its machine, reports
 * them to the monitor, and watches them.
 */
import { rmSync } from "node:fs";
import { removeProcessSegments } from "../comms/shared-memory/index.ts";
import { spillDirectory } from "../warehouse/spill-store.ts";
import type { Connection } from "../comms/connection.ts";
import { RuntimeDiedError, TimeoutError } from "../errors.ts";
import type { RuntimeLogger } from "../logging/logger.ts";
import type { LaunchedRuntime } from "../launch/launcher.ts";
import { ChildRole } from "./child-role.ts";
import type { RoleConfig } from "./options.ts";
import type { NetworkSnapshot, RuntimeInfo } from "./runtime.ts";

export class NodeRuntime extends ChildRole {
  #workers = new Map<string, RuntimeInfo>();
  #allConnected = Promise.withResolvers<void>();

  constructor(config: RoleConfig, secret: string, logger: RuntimeLogger) {
    super(config, "monitor", secret, logger);
    this.commands.network = (network: NetworkSnapshot) => {
      this.network = network;
      for (const worker of this.#workers.keys()) this.connections.get(worker)?.command("network", network);
    };
    // At start: answered once every worker of this node holds the network (see MonitorRuntime.#announceNetwork).
    this.methods.adoptNetwork = async (network: NetworkSnapshot) => {
      this.network = network;
      const timeout = this.options.startTimeout;
      await Promise.allSettled([...this.#workers.keys()].map((worker) => this.connections.get(worker)?.request("adoptNetwork", network, { timeout })));
      return null;
    };
  }

  protected async startRole(): Promise<void> {
    const nodeIndex = this.indices[0]!;
    for (let i = 0; i < this.options.numWorkers; i++) {
      this.spawnChild({
        role: "worker",
        indices: [nodeIndex, i],
        parentAddress: this.address,
        parentPort: this.port,
        head: this.head,
        script: this.config.script,
        options: this.options,
      });
    }
    const timer = setTimeout(
      () => this.#allConnected.reject(new TimeoutError(`workers of ${this.uid} did not connect within ${this.options.startTimeout} ms`)),
      this.options.startTimeout,
    );
    try {
      await this.#allConnected.promise;
    } catch (error) {
      this.parent!.command("startFailed", { uid: this.uid, reason: (error as Error).message });
      throw error;
    } finally {
      clearTimeout(timer);
    }
    const workers = [...this.#workers.values()].sort((a, b) => a.uid.localeCompare(b.uid, "en", { numeric: true }));
    this.parent!.command("nodeReady", { node: this.info, workers });
  }

  protected override onPeerConnected(connection: Connection): void {
    const peer = connection.peer!;
    if (!this.children.has(peer.uid) || this.#workers.has(peer.uid)) return;
    this.#workers.set(peer.uid, { ...peer, role: "worker" });
    if (this.#workers.size === this.options.numWorkers) this.#allConnected.resolve();
  }

  protected override onChildExit(child: LaunchedRuntime): void {
    const reason = child.describeExit();
    this.logger.error(reason);
    // What a dead worker kept on this machine is nobody's now: its spilled values and its segments.
    if (child.pid !== undefined) {
      rmSync(spillDirectory(child.uid, child.pid), { recursive: true, force: true });
      removeProcessSegments(child.pid);
    }
    if (this.state === "starting") {
      this.#allConnected.reject(new RuntimeDiedError(child.uid, reason));
    } else {
      this.#workers.delete(child.uid);
      this.parent?.command("runtimeDied", { uid: child.uid, reason });
    }
  }
}
