/**
 * The part shared by monitor, node and worker: a parent to connect to, log
 * lines relayed up to it, and the rule that no runtime outlives its parent.
 */
import type { Connection } from "../comms/connection.ts";
import type { MosaicError } from "../errors.ts";
import type { LogStream, RuntimeLogger } from "../logging/logger.ts";
import { removeClusterSegments, removeSegments } from "../comms/shared-memory/index.ts";
import { chooseAddress } from "../launch/addresses.ts";
import { watchParent } from "../launch/parent-watch.ts";
import type { RoleConfig } from "./options.ts";
import { Runtime } from "./runtime.ts";
import { headOf, type ParentPlace } from "./children.ts";
import { type ResourceReport, startSampling } from "../observe/resources.ts";
import { startStep } from "../_util/start-trace.ts";
import { shrinkFootprint } from "../_util/footprint.ts";

/**
 * How long an orphan waits to learn whether the head still listens. A dead
 * head's machine refuses at once; only an unreachable one takes this long.
 */
const HEAD_PROBE_TIMEOUT_MS = 1000;

export abstract class ChildRole extends Runtime {
  protected readonly config: RoleConfig;
  protected parent: Connection | undefined;
  readonly parentUid: string;
  /** Commands (log lines, reports) for the parent before the link to it is up. */
  #forParent: [string, unknown][] = [];
  #exiting = false;
  #orphaned = false;

  constructor(config: RoleConfig, parentUid: string, secret: string, logger: RuntimeLogger) {
    super(config.role, config.indices, config.options, secret, logger);
    this.config = config;
    this.parentUid = parentUid;
    this.commands.stop = () => void this.exit("asked to stop");
  }

  async start(): Promise<void> {
    this.state = "starting";
    const watch = watchParent((reason) => void this.exit(reason, 0, true));
    if (watch) this.onBeat = () => watch.poll();
    process.on("SIGTERM", () => void this.exit("SIGTERM"));
    // Ctrl-C reaches the whole process group: the head decides, children follow it. A node that joined
    // by itself was started by someone else: Ctrl-C there means leave.
    process.on("SIGINT", this.config.joined ? () => void this.exit("SIGINT") : () => {});
    // Locally the loopback address as told; on another host (the head's address carried down), this host's own.
    const { listen, advertise } = this.prelaunched ?? (await chooseAddress(this.options.address, this.config.parentAddress));
    this.useAddress(listen, advertise);
    this.listen();
    startStep(this.uid, "listening");
    // Children need only this runtime's address: they start while it connects to its parent (each
    // generation of the tree pays a process start; this overlaps it with the handshake above). From
    // source they started earlier still, before this code loaded (prelaunch.ts): they are taken here.
    this.launchChildren();
    this.endUntakenChildren();
    // The parent's Unix socket, dialled first: a parent on another machine (ssh, srun) has none here, and TCP follows.
    this.parent = await this.connectionTo({ uid: this.parentUid, address: this.config.parentAddress, port: this.config.parentPort, socket: this.config.parentSocket });
    for (const [method, args] of this.#forParent.splice(0)) this.parent.command(method, args);
    startStep(this.uid, "parent connected");
    await this.startRole();
    startStep(this.uid, "role started");
    if (this.state === "starting") this.state = "running";
    if (this.role === "node" || this.role === "worker") {
      this.#stopSampling = startSampling(this.options.monitorInterval, this.probe, (report) => void this.#report(report), (interval, run) => this.every(interval, run));
    }
    // On the heartbeat's tick (no wake-up of its own), once: what the start left behind goes, unless work came meanwhile.
    const once = this.every(this.options.heartbeatInterval, () => {
      once();
      if (this.state === "running" && this.quietSinceStart()) shrinkFootprint();
    });
  }

  /** Whether nothing but the start has run here (a worker: no tessera, call, put or result yet). */
  protected quietSinceStart(): boolean {
    return true;
  }

  #stopSampling: (() => void) | undefined;

  /** A resource sample goes straight to the head (a link a worker has anyway; one more for a node). */
  async #report(report: ResourceReport): Promise<void> {
    if (this.state !== "running") return this.#stopSampling?.();
    try {
      // Where it was told the head is, and the head's Unix socket and machine once the network view names them.
      const known = this.findRuntime("head");
      const head = this.connections.get("head") ?? (await this.connectionTo({ uid: "head", ...this.head, socket: known?.socket, machine: known?.machine }));
      if (head.isOpen) head.command("resources", report);
    } catch {} // the head is gone: this runtime ends with it
  }

  /** Where the cluster's head listens: the monitor's parent is the head; others are told (--head-address). */
  protected get head(): ParentPlace {
    return headOf(this.config);
  }

  /** Role-specific start: spawn children, wait for them, report ready. */
  protected abstract startRole(): Promise<void>;

  relayLines(uid: string, stream: LogStream, lines: string[]): void {
    this.tellParent("log", [uid, stream, lines]);
  }

  /** A command to the parent; kept, in order, until the link to it is up (children start before it is). */
  protected tellParent(method: string, args: unknown): void {
    if (this.parent) {
      if (this.parent.isOpen) this.parent.command(method, args);
    } else this.#forParent.push([method, args]);
  }

  /** Starts this role's children, right after it listens (before its parent link is up). */
  protected launchChildren(): void {}

  /**
   * A child reports to its parent and is watched by it (the monitor by the
   * head too: a stopped monitor must not leave placements waiting). A parent
   * is not watched by heartbeats: its death shows as the stdin pipe closing
   * along the tree, and as sockets closing.
   */
  protected override reportsTo(uid: string): boolean {
    return uid === this.parentUid;
  }

  protected override watches(uid: string): boolean {
    return this.children.has(uid);
  }

  /** A child that stopped answering is ended for good (its exit is then reported as its death, with this reason). */
  protected override onSilent(uid: string, reason: string): void {
    this.endChild(uid, reason);
  }

  protected override onPeerLost(uid: string, reason: MosaicError): void {
    if (uid === this.parentUid) void this.exit(`lost parent ${uid}: ${reason.message}`, 0, true);
  }

  /** Stops children, flushes what is queued for the parent, and ends the process. */
  async exit(reason: string, code = 0, orphaned = false): Promise<never> {
    // Several paths may ask at once (pipe closed, then stopped): an orphan stays one.
    this.#orphaned ||= orphaned;
    if (!this.#exiting) {
      this.#exiting = true;
      this.logger.debug(`stopping: ${reason}`);
      await this.stop();
    }
    removeSegments();
    // Without a head the cluster is going down: nobody will map its segments any more. A parent that is gone
    // while the head lives (a node ended for not answering) is not that: the other runtimes keep theirs.
    // Asked over TCP, not this machine's /proc: the head may run on another machine. It must prove the
    // cluster secret: its port may belong to another program by now.
    if (this.#orphaned && !(await this.#headAlive())) removeClusterSegments();
    process.exit(code);
  }

  async #headAlive(): Promise<boolean> {
    // A uid of its own: the head must not take the probe for this runtime's link (and send it calls).
    const self = { ...this.info, uid: `${this.uid}/probe` };
    const { clusterRuntimeAlive } = await import("../launch/reachable.ts");
    return clusterRuntimeAlive({ uid: "head", ...this.head }, self, this.secret, HEAD_PROBE_TIMEOUT_MS);
  }
}
