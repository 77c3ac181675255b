/**
 * What every runtime (head, monitor, node, worker) has: a listening server,
 * authenticated connections by peer uid, a view of the network, the children
 * it started, heartbeats, log relaying, and an ordered stop.
 */
import { hostname } from "node:os";
import type { Connection, ConnectionHandler } from "../comms/connection.ts";
import type { PayloadAllocator } from "../comms/framing.ts";
import { CLUSTER_ENV, clusterId, MACHINE_ID, setSegmentIdleTime, sharedMemoryStats } from "../comms/shared-memory/index.ts";
import { setCompression } from "../comms/compression.ts";
import type { PeerInfo } from "../comms/protocol.ts";
import { connectTcp, TcpServer } from "../comms/transports/tcp.ts";
import { ConnectionClosedError, MosaicError, RuntimeStateError, UnknownMethodError } from "../errors.ts";
import { CONSOLA_LEVEL, type LogStream, type RuntimeLogger } from "../logging/logger.ts";
import type { LaunchedRuntime, Launcher, LineSink } from "../launch/launcher.ts";
import { programLauncher } from "./coordinator.ts";
import type { ResolvedOptions, RoleConfig } from "./options.ts";
import { type Role, uidOf } from "../types.ts";
import { ResourceMonitor } from "./resources.ts";
import { childSpec } from "./children.ts";
import type { Prelaunched } from "./prelaunch.ts";
import { cpuMeter, type ResourceProbe, sampleResources } from "../observe/resources.ts";
import type { RuntimeStatus, StatusOptions } from "./runtime-proxy.ts";
import type { RuntimeLinks } from "../actors/links.ts";
import { Ticker } from "../_util/ticker.ts";

/** A runtime as the network knows it. */
export interface RuntimeInfo extends PeerInfo {
  role: Role;
  /** Cluster mode: the host a node (and its workers) was started on, as the plan named it. */
  host?: string;
}

/** The network as the monitor reports it: every node and worker with its address. */
export interface NetworkSnapshot {
  head?: RuntimeInfo;
  monitor?: RuntimeInfo;
  nodes: RuntimeInfo[];
  workers: RuntimeInfo[];
}

export type MethodHandler = (args: any, connection: Connection, payloads: Uint8Array[]) => unknown;

export type RuntimeState = "created" | "starting" | "running" | "stopping" | "stopped";

export abstract class Runtime implements ConnectionHandler {
  readonly uid: string;
  readonly role: Role;
  readonly indices: number[];
  readonly options: ResolvedOptions;
  readonly logger: RuntimeLogger;
  readonly resources: ResourceMonitor;
  state: RuntimeState = "created";
  /** Authenticated connections by the uid of the runtime on the other side. */
  readonly connections = new Map<string, Connection>();
  readonly children = new Map<string, LaunchedRuntime>();
  network: NetworkSnapshot = { nodes: [], workers: [] };

  protected readonly secret: string;
  protected server: TcpServer | undefined;
  protected readonly methods: Record<string, MethodHandler> = {};
  protected readonly commands: Record<string, MethodHandler> = {};
  #dialing = new Map<string, Promise<Connection>>();
  /** Raw payloads are only received when they fit this runtime's memory budget. */
  readonly #admit = (bytes: number) => this.admitPayload(bytes);
  /** Where raw payloads received by this runtime land (workers: shared memory). */
  protected payloadAllocator: PayloadAllocator | undefined;
  /** The process's one timer: heartbeats, and what roles add with `every` (resource samples) share its wake-ups. */
  readonly #ticker = new Ticker();
  /** How this runtime starts its children (a role may pick another, e.g. to reach other machines). */
  protected launcher: Launcher = programLauncher();
  #stopped = Promise.withResolvers<void>();

  constructor(role: Role, indices: number[], options: ResolvedOptions, secret: string, logger: RuntimeLogger) {
    this.role = role;
    this.indices = indices;
    this.uid = uidOf(role, indices);
    this.options = options;
    this.secret = secret;
    this.logger = logger;
    this.resources = new ResourceMonitor(options.memoryFraction, options.memoryLimit, role === "worker" ? options.numWorkers : 1);
    setSegmentIdleTime(options.segmentIdleTime);
    setCompression(options.compression);
    this.methods.ping = () => this.uid;
    this.methods.status = (options: Pick<StatusOptions, "collect"> | null) => this.describeStatus(options?.collect === true);
    this.methods.resources = () => sampleResources(this.probe);
    this.commands.log = ([uid, stream, lines]: [string, LogStream, string[]]) => this.relayLines(uid, stream, lines);
    const runtime = this;
    this.links = {
      uid: this.uid,
      logger,
      heartbeatTimeout: options.heartbeatTimeout,
      threadsPerWorker: options.numThreads,
      get stopping() {
        return runtime.state === "stopping" || runtime.state === "stopped";
      },
      workers: () => this.network.workers.map((worker) => worker.uid),
      knows: (uid) => this.findRuntime(uid) !== undefined,
      hostOf: (uid) => this.findRuntime(uid)?.host,
      connect: (uid) => {
        const info = this.findRuntime(uid);
        return info ? this.connectionTo(info) : Promise.reject(new RuntimeStateError(`no runtime "${uid}" on the network of ${this.uid}`));
      },
      connection: (uid) => this.connections.get(uid),
      connections: () => this.connections.entries(),
      request: (uid, method, args, timeout) => this.request(uid, method, args, timeout),
      relayLines: (from, stream, lines) => this.relayLines(from, stream, lines),
    };
  }

  #probe: ResourceProbe | undefined;

  /** How this runtime measures itself for resource samples (observe/resources.ts); a worker adds its calls. */
  protected get probe(): ResourceProbe {
    return (this.#probe ??= {
      runtime: this.uid,
      role: this.role,
      cpu: cpuMeter(),
      memoryLimit: this.resources.memoryLimit,
      sharedMemory: () => sharedMemoryStats.ownedSharedBytes,
      load: () => this.callLoad(),
    });
  }

  /** Calls running ([task id, started at]) and queued here (workers). */
  protected callLoad(): { running: [number, number][]; queued: number } {
    return { running: [], queued: 0 };
  }

  /** What `RuntimeProxy.status()` shows; `collect`: after a full garbage collection. */
  protected async describeStatus(collect: boolean): Promise<RuntimeStatus> {
    if (collect) Bun.gc(true);
    return { uid: this.uid, pid: process.pid, ...this.resources.sample(), sharedMemory: { ...sharedMemoryStats } };
  }

  /** Whether raw payloads of `bytes` fit this runtime's budget (received only if so). */
  protected admitPayload(bytes: number): boolean {
    return this.resources.fitsInMemory(bytes);
  }

  /** What the actor model may use of this runtime. */
  readonly links: RuntimeLinks;

  #listenAddress: string | undefined;
  #advertised: string | undefined;

  /** Where this runtime listens, and the address its peers reach it on (not a wildcard): set before listen(). */
  protected useAddress(listen: string, advertise: string): void {
    this.#listenAddress = listen;
    this.#advertised = advertise;
  }

  /** The address peers reach this runtime on. */
  get address(): string {
    return this.#advertised ?? this.options.address;
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  /** The Unix socket beside the port, for peers of this machine (transports/unix-socket.ts). */
  get socket(): string | undefined {
    return this.server?.localName;
  }

  get info(): RuntimeInfo {
    const info: RuntimeInfo = { uid: this.uid, role: this.role, address: this.address, port: this.port, pid: process.pid, machine: MACHINE_ID };
    if (this.socket) info.socket = this.socket;
    return info;
  }

  /** Resolves once this runtime has stopped (for roles that live until told otherwise). */
  get stopped(): Promise<void> {
    return this.#stopped.promise;
  }

  /** What prelaunch.ts bound and started before this runtime's code loaded (monitors and nodes from source). */
  prelaunched: Prelaunched | undefined;

  protected listen(port = 0): void {
    const early = this.prelaunched?.listener;
    this.server = new TcpServer(this.#listenAddress ?? this.options.address, port, {
      early: early?.adopted ? undefined : early,
      self: { uid: this.uid, address: this.address, pid: process.pid, machine: MACHINE_ID },
      secret: this.secret,
      handler: this,
      log: (message) => this.logger.warning(message),
      allocate: this.payloadAllocator,
      admit: this.#admit,
    });
    this.#ticker.every(this.options.heartbeatInterval, () => this.#beat());
    this.logger.info(`Listening at ${this.address}:${this.port} (pid ${process.pid}, host ${hostname()})`);
  }

  /** The connection to a runtime, dialled on first use from the network view. */
  connectionTo(peer: Pick<PeerInfo, "uid" | "address" | "port" | "socket" | "machine">): Promise<Connection> {
    const existing = this.connections.get(peer.uid);
    if (existing?.isOpen) return Promise.resolve(existing);
    let dialing = this.#dialing.get(peer.uid);
    if (!dialing) {
      dialing = connectTcp(peer.address, peer.port, {
        self: this.info,
        secret: this.secret,
        handler: this,
        log: (message) => this.logger.warning(message),
        allocate: this.payloadAllocator,
        admit: this.#admit,
        expectedPeer: peer.uid,
      }, { socket: peer.socket, machine: peer.machine }).finally(() => this.#dialing.delete(peer.uid));
      this.#dialing.set(peer.uid, dialing);
    }
    return dialing;
  }

  /** Looks a runtime up in the network view. */
  findRuntime(uid: string): RuntimeInfo | undefined {
    const { head, monitor, nodes, workers } = this.network;
    if (head?.uid === uid) return head;
    if (monitor?.uid === uid) return monitor;
    return nodes.find((n) => n.uid === uid) ?? workers.find((w) => w.uid === uid);
  }

  async request<T = unknown>(uid: string, method: string, args: unknown = null, timeout?: number): Promise<T> {
    const info = this.connections.get(uid)?.peer ?? this.findRuntime(uid);
    if (!info) throw new RuntimeStateError(`no runtime "${uid}" on the network of ${this.uid}`);
    const connection = await this.connectionTo(info);
    return connection.request<T>(method, args, { timeout });
  }

  // ConnectionHandler
  onRequest(connection: Connection, method: string, args: unknown, payloads: Uint8Array[]): unknown {
    // Own properties only: a peer must not reach "constructor", "valueOf" and the like.
    const handler = Object.hasOwn(this.methods, method) ? this.methods[method] : undefined;
    if (!handler) throw new UnknownMethodError(method, this.uid);
    return handler.call(this, args, connection, payloads);
  }

  onCommand(connection: Connection, method: string, args: unknown, payloads: Uint8Array[], rejected?: MosaicError): void {
    const handler = Object.hasOwn(this.commands, method) ? this.commands[method] : undefined;
    if (!handler) {
      this.logger.warning(`${connection.peer?.uid} sent unknown command "${method}"`);
      return;
    }
    if (rejected) {
      const onRejected = Object.hasOwn(this.rejectedCommands, method) ? this.rejectedCommands[method] : undefined;
      if (onRejected) onRejected.call(this, args, connection, rejected);
      else this.logger.error(rejected.message);
      return;
    }
    handler.call(this, args, connection, payloads);
  }

  /** What to do with a command whose payloads did not fit (e.g. fail the task it carried). */
  protected readonly rejectedCommands: Record<string, (args: any, connection: Connection, error: MosaicError) => void> = {};

  onAuthenticated(connection: Connection): void {
    const uid = connection.peer!.uid;
    const previous = this.connections.get(uid);
    // Two runtimes may dial each other at once; keep the first live link.
    if (!previous?.isOpen) this.connections.set(uid, connection);
    this.onPeerConnected(connection);
  }

  onClose(connection: Connection, reason: MosaicError): void {
    const uid = connection.peer?.uid;
    if (uid === undefined) return;
    if (this.connections.get(uid) === connection) this.connections.delete(uid);
    if (this.state !== "stopping" && this.state !== "stopped") this.onPeerLost(uid, reason);
  }

  protected onPeerConnected(_connection: Connection): void {}
  protected onPeerLost(_uid: string, _reason: MosaicError): void {}

  /** Lines printed by a child (or relayed from further down): shown by the head, relayed by others. */
  abstract relayLines(uid: string, stream: LogStream, lines: string[]): void;

  /** Starts a child runtime through this runtime's launcher; `host`: on that host (undefined: this machine). */
  protected spawnChild(config: RoleConfig, host?: string): LaunchedRuntime {
    const output: LineSink = (from, stream, lines) => this.relayLines(from, stream, lines);
    const uid = uidOf(config.role, config.indices);
    // Started already by prelaunch (with the same config: children.ts builds both).
    const held = host === undefined ? this.prelaunched?.children.get(uid) : undefined;
    if (held) {
      this.prelaunched!.children.delete(uid);
      held.release(output);
    }
    const child = held?.child ?? this.launcher.launch(childSpec(config, this.secret, output, host, { [CLUSTER_ENV]: clusterId() }));
    this.children.set(child.uid, child);
    child.exited.then(() => this.#childGone(child));
    return child;
  }

  /** Children prelaunched that the role did not start (none, unless the two disagree): ended. */
  protected endUntakenChildren(): void {
    for (const [uid, { child }] of this.prelaunched?.children ?? []) {
      this.logger.warning(`${uid} was started early but is not one of ${this.uid}'s children: it is ended`);
      child.kill("not one of its parent's children");
    }
    this.prelaunched?.children.clear();
  }

  /** Children whose end was handled (exit, or a kill that did not take): each once. */
  #goneChildren = new WeakSet<LaunchedRuntime>();

  #childGone(child: LaunchedRuntime): void {
    if (this.#goneChildren.has(child)) return;
    this.#goneChildren.add(child);
    if (this.state !== "stopping" && this.state !== "stopped") this.onChildExit(child);
  }

  /**
   * Ends a child that stopped answering. Reported dead when it exits; if even
   * SIGKILL does not end it within a heartbeat timeout (a process stuck in
   * the kernel), reported dead all the same, so that nobody waits on it.
   */
  protected endChild(uid: string, reason: string): void {
    const child = this.children.get(uid);
    if (!child) return;
    child.kill(reason);
    setTimeout(() => this.#childGone(child), this.options.heartbeatTimeout).unref();
  }

  protected onChildExit(child: LaunchedRuntime): void {
    this.logger.error(`${child.describeExit()}`);
  }

  /** Runs `run` every `interval` ms on the heartbeat's timer (no timer of its own) until the returned function is called. */
  protected every(interval: number, run: () => void): () => void {
    return this.#ticker.every(interval, run);
  }

  /** Extra work done on each heartbeat tick (children poll their parent watch). */
  protected onBeat: (() => void) | undefined;

  // Runs every heartbeatInterval in every process: allocation-free, since each
  // idle wake-up that allocates is followed by a garbage-collection pass.
  #lastBeat = performance.now();

  #beat(): void {
    this.onBeat?.();
    const now = performance.now();
    const gap = now - this.#lastBeat;
    const stalled = gap > 2 * this.options.heartbeatInterval;
    this.#lastBeat = now;
    // forEach with callbacks made once: no iterator objects (an idle heap that never changes lets
    // Bun's own collector timer slow down).
    if (stalled) {
      if (this.logger.consola.level >= CONSOLA_LEVEL.debug) this.logger.debug(`this process did not run for ${Math.round(gap)} ms: peers' silence meanwhile is forgiven`);
      // This process was frozen (the user's code blocked the head, say): the silence was ours.
      // What peers sent meanwhile is still unread; judge them from the next beat on.
      this.connections.forEach(this.#forgiveSilence);
      this.server?.connections.forEach(this.#forgiveSilence);
      return;
    }
    this.connections.forEach(this.#checkRegistered);
    this.server?.connections.forEach(this.#checkAccepted);
  }

  readonly #forgiveSilence = (connection: Connection) => {
    connection.lastReceived = this.#lastBeat;
  };
  readonly #checkRegistered = (connection: Connection) => this.#check(connection, this.#lastBeat);
  /** Accepted links whose peer has another registered link (or none) are checked too. */
  readonly #checkAccepted = (connection: Connection) => {
    if (this.connections.get(connection.peer?.uid ?? "") !== connection) this.#check(connection, this.#lastBeat);
  };

  /**
   * Heartbeats run along the process tree only: a child reports to its parent
   * (`reportsTo`), and the parent watches it (`watches`): a child silent for
   * heartbeatTimeout is killed and reported dead (see onSilent). Other links
   * carry no heartbeats: a peer's death shows as a closed socket, a hung peer
   * is found out by its own parent. The head (the user's program, which may
   * block for a long time) sends none; it watches the monitor, its one child,
   * and forgives the silence of a time it was blocked itself.
   */
  protected watches(_uid: string): boolean {
    return false;
  }

  protected reportsTo(_uid: string): boolean {
    return false;
  }

  /** A watched peer went silent: its link is closed; roles decide what else to do (a parent kills the child). */
  protected onSilent(_uid: string, _reason: string): void {}

  #check(connection: Connection, now: number): void {
    if (!connection.isAuthenticated) return;
    const uid = connection.peer!.uid;
    if (this.watches(uid) && now - connection.lastReceived > this.options.heartbeatTimeout) {
      const reason = `${uid} sent nothing for ${Math.round(now - connection.lastReceived)} ms (heartbeat timeout)`;
      connection.close(new ConnectionClosedError(reason));
      this.onSilent(uid, reason);
    } else if (this.watches(uid) && now - connection.lastReceived > 2 * this.options.heartbeatInterval && this.logger.consola.level >= CONSOLA_LEVEL.perf) {
      // Allocates only while a peer is late, and only at perf: the idle beat stays allocation-free.
      this.logger.perf(`${uid} missed heartbeats: silent for ${Math.round(now - connection.lastReceived)} ms (dead after ${this.options.heartbeatTimeout} ms)`);
    } else if (this.reportsTo(uid)) {
      // From now on its sends count (until then, lastSent is when it opened: one early heartbeat at most).
      connection.tracksSent = true;
      // Half an interval: at most about one interval between two heartbeats, well inside the timeout (silence is fatal).
      if (now - connection.lastSent >= this.options.heartbeatInterval * 0.5) connection.heartbeat();
    }
  }

  /**
   * Stops children first (each stops its own), then closes every connection
   * and the server. Resolves when every child process has exited.
   */
  async stop(): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return this.#stopped.promise;
    this.state = "stopping";
    try {
      await this.beforeStop();
      await Promise.all([...this.children.values()].map((child) => child.terminate()));
    } finally {
      this.#ticker.stop();
      // Connections first, so that what they still have queued is flushed; then the listener.
      for (const connection of this.connections.values()) connection.close();
      this.server?.stop();
      this.state = "stopped";
      this.#stopped.resolve();
    }
  }

  protected async beforeStop(): Promise<void> {}
}
