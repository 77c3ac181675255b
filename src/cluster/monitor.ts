/**
 * The monitor: starts the nodes, assembles the network from what they report,
 * tells the head when everything is ready, and who died.
 */
import type { Connection } from "../comms/connection.ts";
import { type MosaicError, RuntimeStateError } from "../errors.ts";
import type { RuntimeLogger } from "../logging/logger.ts";
import type { LaunchedRuntime } from "../launch/launcher.ts";
import { ChildRole } from "./child-role.ts";
import type { RoleConfig } from "./options.ts";
import type { NetworkSnapshot, RuntimeInfo } from "./runtime.ts";
import { coordinatorLauncher } from "./coordinator.ts";
import { nodeConfig } from "./children.ts";

export class MonitorRuntime extends ChildRole {
  #nodes = new Map<string, { node: RuntimeInfo; workers: RuntimeInfo[] }>();
  /** Dynamic mode: nodes that joined (or were admitted and are joining), by uid, with their host. */
  #joined = new Map<string, { host: string; late?: Timer }>();
  #nextJoinIndex: number;

  constructor(config: RoleConfig, secret: string, logger: RuntimeLogger) {
    super(config, "head", secret, logger);
    this.launcher = coordinatorLauncher();
    this.#nextJoinIndex = config.options.numNodes;
    this.commands.nodeReady = (report: { node: RuntimeInfo; workers: RuntimeInfo[] }, connection: Connection) => {
      const joined = this.#joined.get(report.node.uid);
      // A joined node reports on its own link; one that is not (or no longer) admitted is not taken.
      if ((joined && connection.peer?.uid !== report.node.uid) || (!joined && !this.children.has(report.node.uid))) {
        this.logger.warning(`${report.node.uid} reported ready but was not admitted (or no longer is): it is asked to stop`);
        connection.command("stop", null);
        return;
      }
      if (joined) {
        clearTimeout(joined.late);
        // Its name and the address it is reached on: machines started from one image often share a host name.
        joined.host = `${joined.host} (${report.node.address})`;
      }
      const host = this.#hostOf(report.node.uid);
      if (host) report = { node: { ...report.node, host }, workers: report.workers.map((worker) => ({ ...worker, host })) };
      this.#nodes.set(report.node.uid, report);
      // The head shows the start's progress.
      this.tellParent("nodeJoined", { node: report.node.uid, host, workers: report.workers.length });
      if (joined) {
        this.logger.info(`${report.node.uid} joined from host ${host} with ${report.workers.length} workers`);
        if (this.#readySent) for (const runtime of [report.node, ...report.workers]) this.#adopting.add(runtime.uid);
        // Before the first "ready" it is simply part of it; after, everyone adopts it before the head places on it.
        if (this.#readySent) this.#announceNetwork("network", true);
      } else if (this.#localNodesReady()) this.#announceNetwork("ready");
    };
    // Dynamic mode (asked by the head for a node that dialled it): the joining node's index; it must report ready within startTimeout.
    this.methods.admit = ({ host }: { host: string }) => {
      const index = this.#nextJoinIndex++;
      const uid = `node:${index}`;
      const late = setTimeout(() => this.#dropJoined(uid, `${uid} (host ${host}) was admitted but did not report ready within ${this.options.startTimeout} ms`), this.options.startTimeout);
      this.#joined.set(uid, { host, late });
      return index;
    };
    this.commands.startFailed = (failure: { uid: string; reason: string }) => this.tellParent("startFailed", failure);
    this.commands.runtimeDied = (death: { uid: string; reason: string }) => {
      for (const report of this.#nodes.values()) report.workers = report.workers.filter((w) => w.uid !== death.uid);
      this.tellParent("runtimeDied", death);
      this.#announceNetwork("network");
    };
    // A node started a worker in place of a dead one: every runtime learns of it before the head places on it.
    this.commands.workerJoined = ({ node, worker }: { node: string; worker: RuntimeInfo }) => {
      const report = this.#nodes.get(node);
      if (!report || report.workers.some((w) => w.uid === worker.uid)) return;
      const host = this.#hostOf(node);
      report.workers = [...report.workers, host ? { ...worker, host } : worker].sort((a, b) => a.uid.localeCompare(b.uid, "en", { numeric: true }));
      this.#adopting.add(worker.uid);
      this.#announceNetwork("network", true);
    };
    this.methods.network = () => this.#snapshot();
    this.methods.place = ([count, exclude]: [number, string[]]) => this.#place(count, new Set(exclude));
  }

  override async start(): Promise<void> {
    // Cluster mode: nodes start on the hosts the head planned, through the remote launchers (loaded only then).
    if (this.config.nodeHosts) this.launcher = new (await import("./node-launcher.ts")).NodeLauncher(this.config.options);
    return super.start();
  }

  /** Whether "ready" went to the head: nodes joining after it are announced as they come. */
  #readySent = false;

  #localNodesReady(): boolean {
    let ready = 0;
    for (const uid of this.#nodes.keys()) if (!this.#joined.has(uid)) ready++;
    return ready === this.options.numNodes;
  }

  /** A joined node is gone (left, went silent, never reported): its workers with it. */
  #dropJoined(uid: string, reason: string): void {
    const joined = this.#joined.get(uid);
    if (!joined) return;
    clearTimeout(joined.late);
    this.#joined.delete(uid);
    this.connections.get(uid)?.close();
    if (!this.#nodes.delete(uid)) return void this.logger.warning(reason);
    this.logger.error(reason);
    this.tellParent("runtimeDied", { uid, reason });
    this.#announceNetwork("network");
  }

  /** Joined nodes are not children: their links carry the heartbeats both ways (a silent network ends them). */
  protected override watches(uid: string): boolean {
    return super.watches(uid) || this.#joined.has(uid);
  }

  protected override reportsTo(uid: string): boolean {
    return super.reportsTo(uid) || this.#joined.has(uid);
  }

  protected override onSilent(uid: string, reason: string): void {
    if (this.#joined.has(uid)) this.#dropJoined(uid, `${reason} (host ${this.#joined.get(uid)!.host})`);
    else super.onSilent(uid, reason);
  }

  protected override onPeerLost(uid: string, reason: MosaicError): void {
    if (this.#joined.has(uid)) this.#dropJoined(uid, `${uid} left (host ${this.#joined.get(uid)!.host}): ${reason.message}`);
    else super.onPeerLost(uid, reason);
  }

  /** Joined nodes are asked to stop, and given until their links close (each stops its workers first). */
  protected override async beforeStop(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const [uid, joined] of this.#joined) {
      clearTimeout(joined.late);
      const connection = this.connections.get(uid);
      if (!connection?.isOpen) continue;
      connection.command("stop", null);
      closing.push(connection.closed);
    }
    if (closing.length === 0) return;
    let timer: Timer | undefined;
    const limit = new Promise((resolve) => (timer = setTimeout(resolve, this.options.heartbeatTimeout)));
    await Promise.race([Promise.allSettled(closing), limit]);
    clearTimeout(timer);
  }

  protected async startRole(): Promise<void> {
    // Dynamic mode may start no node itself: ready at once, nodes join later.
    if (this.options.numNodes === 0) this.#announceNetwork("ready");
  }

  protected override launchChildren(): void {
    for (let i = 0; i < this.options.numNodes; i++) {
      this.spawnChild(nodeConfig(this.config, i, this), this.config.nodeHosts?.[i] || undefined);
    }
  }

  /** The host the plan gave a node, or a joined node's own (undefined: this machine, or local mode): named in errors about its runtimes. */
  #hostOf(node: string): string | undefined {
    const joined = this.#joined.get(node);
    if (joined) return joined.host;
    return this.config.nodeHosts?.[Number(node.slice("node:".length))] || undefined;
  }

  #nextWorker = 0;
  /** Workers the head has been told of: only those are placed on (a joining one may be known here first). */
  #announced = new Set<string>();

  #tellParent(command: "ready" | "network", network: NetworkSnapshot): void {
    if (command === "ready") this.#readySent = true;
    this.#announced = new Set(network.workers.map((worker) => worker.uid));
    this.tellParent(command, network);
  }

  /** Round-robin over the live workers, as the original does. */
  /** `exclude`: workers the caller already saw die, before their node reported it here. */
  #place(count: number, exclude: Set<string>): string[] {
    const workers = this.network.workers.filter((worker) => this.#announced.has(worker.uid) && !exclude.has(worker.uid));
    if (workers.length === 0) throw new RuntimeStateError("no live worker to place a tessera on");
    const placed: string[] = [];
    for (let i = 0; i < count; i++) placed.push(workers[this.#nextWorker++ % workers.length]!.uid);
    return placed;
  }

  #snapshot(): NetworkSnapshot {
    const reports = [...this.#nodes.values()].sort((a, b) => a.node.uid.localeCompare(b.node.uid, "en", { numeric: true }));
    return {
      monitor: this.info,
      nodes: reports.map((r) => r.node),
      workers: reports.flatMap((r) => r.workers),
    };
  }

  /**
   * The head hears "ready" only once every node and worker holds the network:
   * its first calls may make a worker fetch a dependency from another, which
   * it must know by then; so does a worker that joins later. A runtime lost
   * goes out as it comes.
   */
  #announceNetwork(command: "ready" | "network", joined = false): void {
    const network = (this.network = this.#snapshot());
    if (command === "network" && !joined) {
      this.#tellParent(command, this.#adopted(network));
      for (const node of network.nodes) this.connections.get(node.uid)?.command("network", network);
      return;
    }
    const timeout = this.options.startTimeout;
    const adopted = network.nodes.map((node) => this.connections.get(node.uid)?.request("adoptNetwork", network, { timeout }));
    // A node lost meanwhile is reported by its exit; the others are ready. What this round made known is
    // adopted now; what joined since waits for its own round. The network as it is then: a runtime lost
    // during the round was announced already, and must not come back.
    void Promise.allSettled(adopted).then(() => {
      for (const runtime of [...network.nodes, ...network.workers]) this.#adopting.delete(runtime.uid);
      this.#tellParent(command, this.#adopted((this.network = this.#snapshot())));
    });
  }

  /** Runtimes that joined (a node, a respawned worker) and that not every node holds yet: the head hears of them after. */
  #adopting = new Set<string>();

  /** `network` without the runtimes still being adopted (several may join at once, their rounds overlapping). */
  #adopted(network: NetworkSnapshot): NetworkSnapshot {
    if (this.#adopting.size === 0) return network;
    return { ...network, nodes: network.nodes.filter((n) => !this.#adopting.has(n.uid)), workers: network.workers.filter((w) => !this.#adopting.has(w.uid)) };
  }

  protected override onChildExit(child: LaunchedRuntime): void {
    const reason = child.describeExit();
    this.logger.error(reason);
    const command = this.state === "starting" || !this.#readySent ? "startFailed" : "runtimeDied";
    this.tellParent(command, { uid: child.uid, reason });
    if (this.#nodes.delete(child.uid)) this.#announceNetwork("network");
  }
}
