/**
 * A node runtime: one per machine. Starts the workers of its machine, reports
 * them to the monitor, and watches them; with `respawn`, starts a new worker
 * (a new uid) in place of one that died, within `respawnAttempts` per place.
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
import { workerConfig } from "./children.ts";
import type { NetworkSnapshot, RuntimeInfo } from "./runtime.ts";

/** Back-off before a worker's place is filled again: RESPAWN_DELAY_MS doubling per attempt, at most RESPAWN_MAX_DELAY_MS. */
const RESPAWN_DELAY_MS = 250;
const RESPAWN_MAX_DELAY_MS = 5000;

export class NodeRuntime extends ChildRole {
  #workers = new Map<string, RuntimeInfo>();
  #allConnected = Promise.withResolvers<void>();
  /** Times the place of each worker (by its uid now) was filled again. */
  #respawns = new Map<string, number>();
  /** Workers started in place of dead ones that have not connected yet, with the timer that ends them if they do not. */
  #joining = new Map<string, Timer>();
  #respawnTimers = new Set<Timer>();
  #nextIndex = 0;

  constructor(config: RoleConfig, secret: string, logger: RuntimeLogger) {
    super(config, "monitor", secret, logger);
    // Workers start (and may die) before startRole waits for them.
    this.#allConnected.promise.catch(() => {});
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

  protected override launchChildren(): void {
    for (let i = 0; i < this.options.numWorkers; i++) this.#spawnWorker();
  }

  protected async startRole(): Promise<void> {
    const timer = setTimeout(
      () => this.#allConnected.reject(new TimeoutError(`workers of ${this.uid} did not connect within ${this.options.startTimeout} ms`)),
      this.options.startTimeout,
    );
    try {
      await this.#allConnected.promise;
    } catch (error) {
      this.tellParent("startFailed", { uid: this.uid, reason: (error as Error).message });
      throw error;
    } finally {
      clearTimeout(timer);
    }
    const workers = [...this.#workers.values()].sort((a, b) => a.uid.localeCompare(b.uid, "en", { numeric: true }));
    this.tellParent("nodeReady", { node: this.info, workers });
  }

  #spawnWorker(): LaunchedRuntime {
    return this.spawnChild(workerConfig(this.config, this.#nextIndex++, this));
  }

  protected override onPeerConnected(connection: Connection): void {
    const peer = connection.peer!;
    if (!this.children.has(peer.uid) || this.#workers.has(peer.uid)) return;
    const info: RuntimeInfo = { ...peer, role: "worker" };
    this.#workers.set(peer.uid, info);
    if (this.state === "starting") {
      if (this.#workers.size === this.options.numWorkers) this.#allConnected.resolve();
      return;
    }
    const joining = this.#joining.get(peer.uid);
    if (joining === undefined) return;
    clearTimeout(joining);
    this.#joining.delete(peer.uid);
    // It learns the network before anyone is told of it (the head may place on it, other workers fetch from it).
    void connection
      .request("adoptNetwork", this.network, { timeout: this.options.startTimeout })
      .then(() => this.tellParent("workerJoined", { node: this.uid, worker: info }), () => {}); // no answer: its exit or heartbeats report it
  }

  /** A worker died: with `respawn`, a new one takes its place after a back-off, while its place's attempts last. */
  #respawn(dead: string): void {
    const attempts = this.#respawns.get(dead) ?? 0;
    this.#respawns.delete(dead);
    if (!this.options.respawn) return;
    if (attempts >= this.options.respawnAttempts) {
      this.logger.warning(`${dead} is not replaced: its place was filled ${attempts} times already (respawnAttempts ${this.options.respawnAttempts})`);
      return;
    }
    const delay = Math.min(RESPAWN_MAX_DELAY_MS, RESPAWN_DELAY_MS * 2 ** attempts);
    const timer = setTimeout(() => {
      this.#respawnTimers.delete(timer);
      if (this.state !== "running") return;
      const child = this.#spawnWorker();
      this.#respawns.set(child.uid, attempts + 1);
      this.logger.info(`${child.uid} starts in place of ${dead} (attempt ${attempts + 1} of ${this.options.respawnAttempts})`);
      // One that never connects is ended: its exit counts as an attempt.
      const late = setTimeout(() => child.kill(`did not connect within ${this.options.startTimeout} ms`), this.options.startTimeout);
      this.#joining.set(child.uid, late);
    }, delay);
    this.#respawnTimers.add(timer);
  }

  /** A node that joined by itself has no pipe from its parent: a silent link to the monitor (a lost network) ends it. */
  protected override watches(uid: string): boolean {
    return super.watches(uid) || (this.config.joined === true && uid === this.parentUid);
  }

  protected override onSilent(uid: string, reason: string): void {
    if (uid === this.parentUid) void this.exit(`lost parent ${uid}: ${reason}`, 0, true);
    else super.onSilent(uid, reason);
  }

  protected override async beforeStop(): Promise<void> {
    for (const timer of [...this.#respawnTimers, ...this.#joining.values()]) clearTimeout(timer);
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
      clearTimeout(this.#joining.get(child.uid));
      this.#joining.delete(child.uid);
      this.#workers.delete(child.uid);
      this.tellParent("runtimeDied", { uid: child.uid, reason });
      this.#respawn(child.uid);
    }
  }
}
