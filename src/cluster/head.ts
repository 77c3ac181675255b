/**
 * The head: the user's program. Starts the monitor (which starts everything
 * else), learns the network, and is where every log line ends up.
 */
import { isThreadUid, isWorkerUid, isWorkerUnder, workerOfThread } from "../types.ts";
import { type ErrorDescription, InvalidArgumentError, type MosaicError, RuntimeDiedError, RuntimeStateError, TimeoutError } from "../errors.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { programCommand } from "../launch/program.ts";
import { writeSecretFile } from "./secret.ts";
import type { JoinPlan, JoinRequest } from "./join-plan.ts";
import type { ConsolaReporter } from "consola/core";
import { CONSOLA_LEVEL, type LogStream, type RuntimeLogger } from "../logging/logger.ts";
import { setUserLogSink } from "../logging/user-logger.ts";
import { ActorClient } from "../actors/head/actor-client.ts";
import { decodeDoneMessage } from "../actors/wire/done-message.ts";
import type { NestedCommand, NestedRequest } from "../actors/nested-link.ts";
import type { Connection } from "../comms/connection.ts";
import { clusterId, removeClusterSegments, removeSegments, segmentCapacity, sharedMemoryAvailable, warmSegment } from "../comms/shared-memory/index.ts";
import { WarehouseClient } from "../actors/head/warehouse-client.ts";
import type { LaunchedRuntime } from "../launch/launcher.ts";
import type { ClusterPlan } from "./cluster-plan.ts";
import type { ResolvedOptions } from "./options.ts";
import { RuntimeProxy } from "./runtime-proxy.ts";
import { Runtime, type NetworkSnapshot, type RuntimeInfo } from "./runtime.ts";
import { events, type EventStream, type RuntimeEventType, WORKER_EVENT_TYPES, type WireEvent } from "../observe/events.ts";
import { type ResourceReport, type RuntimeResources, sampleResources } from "../observe/resources.ts";
import type { ClusterStatus, ClusterStatusOptions } from "../observe/status.ts";
import { RunLogFiles, runId } from "../observe/log-files.ts";
import { Profiler } from "../observe/profiler.ts";
import { StartProgress, terminalOutput } from "../observe/start-progress.ts";
import { logEvents } from "../observe/event-log.ts";
import type { DashboardServer } from "../observe/dashboard/server.ts";
import { startStep } from "../_util/start-trace.ts";
import { coordinatorLauncher } from "./coordinator.ts";
import { monitorConfig, scriptForChildren } from "./children.ts";

/**
 * The head's runtime process. Users hold it through HeadRuntime (src/api/),
 * which shows only the public members; the actor and warehouse clients, the
 * connections and requests stay here.
 */
/** How long start() waits for its links to the workers at most (see start()); a link not open by then opens on first use. */
const LINKS_WAIT_MS = 5000;

/** What readCommand returns for a `done` read by hand (the connection reads it at once). */
const readDone: [string, unknown] = ["done", undefined];

export class HeadNode extends Runtime {
  #ready = Promise.withResolvers<void>();
  #monitor: LaunchedRuntime | undefined;
  #proxies = new Map<string, RuntimeProxy>();
  /** Tessera threads that said they end for an error no method caught, and why (until their link closes). */
  readonly #threadEndings = new Map<string, string>();
  /** What the runtime does, as it happens (the process's stream: see observe/events.ts). */
  readonly events: EventStream = events;
  /** Tesserae and tasks created from this head. */
  readonly actors = new ActorClient(this.links, events);
  #stopObserving: (() => void) | undefined;
  /** Objects put in the warehouse from this head. */
  readonly warehouse = new WarehouseClient(this.actors);
  /** Results come mapped in place: a tessera thread's segment prepared for its first large result (warmPool) is mapped and touched in idle time. */
  readonly mapsWarmSegments = true;

  /** Cluster mode: the host of each node ("": this machine); undefined locally. */
  readonly #nodeHosts: string[] | undefined;
  /** Where this run's log files go (`workspace` option; undefined: none). */
  readonly logFiles: RunLogFiles | undefined;
  /** Records the run's timeline while it lasts (`profile` option). */
  #profiler: Profiler | undefined;
  #stopEventLog: () => void;
  /** The live dashboard (`dashboard` option). */
  #dashboard: DashboardServer | undefined;

  /** Dynamic mode: the secret was made here, and is written to a file for the nodes that join. */
  readonly #publishSecret: boolean;
  /** The secret's file when it was written to a temporary folder (no workspace): removed at stop. */
  #secretFolder: string | undefined;

  constructor(options: ResolvedOptions, secret: string, logger: RuntimeLogger, plan?: Pick<ClusterPlan, "nodeHosts" | "advertise">, publishSecret = false) {
    super("head", [], options, secret, logger);
    this.#publishSecret = publishSecret;
    this.launcher = coordinatorLauncher();
    if (plan && plan.nodeHosts.length > 0) this.#nodeHosts = plan.nodeHosts;
    if (plan) this.useAddress(options.address, plan.advertise);
    if (options.workspace) {
      this.logFiles = new RunLogFiles(options.workspace, runId(clusterId()));
      logger.consola.addReporter(this.logFiles.reporter());
      logger.debug(`log files in ${this.logFiles.folder}`);
    }
    // mosaic.logger on the head: the head's own lines (its logger filters by level).
    setUserLogSink((level, text) => logger[level](text), CONSOLA_LEVEL.debug);
    // From the start: the runtimes joining name the trace's processes.
    if (options.profile) this.#profiler = new Profiler(events, options.profile);
    // perf and debug: transfers, spills, placements... as lines (no subscription, so no event, at info).
    this.#stopEventLog = logEvents(events, options.logLevel, (runtime, level, text) => (runtime === this.uid ? logger[level](text) : logger.remote(runtime, level, text)));
    this.#ready.promise.catch(() => {});
    this.commands.ready = (network: NetworkSnapshot) => {
      startStep("head", "ready");
      this.#setNetwork(network);
      this.#ready.resolve();
    };
    // Worker-side events (task starts, transfers, spills, memory pressure) come up in batches, while asked for.
    this.commands.events = (batch: WireEvent[]) => {
      for (const event of batch) {
        if (event.type === "task.started") this.actors.onStarted(event.id, event.time);
        if (events.wants(event.type)) events.emit(event);
      }
    };
    // Nodes' and workers' samples (monitorInterval): they also say which calls run now.
    this.commands.resources = (report: ResourceReport) => this.#onResources(report);
    this.commands.network = (network: NetworkSnapshot) => this.#setNetwork(network);
    this.commands.startFailed = ({ uid, reason }: { uid: string; reason: string }) =>
      this.#ready.reject(new RuntimeDiedError(uid, `runtime failed to start: ${reason}`));
    this.commands.runtimeDied = ({ uid, reason }: { uid: string; reason: string }) => this.#onRuntimeDied(uid, reason);
    this.commands.completed = (ids: number[]) => this.actors.onCompleted(ids);
    // From tessera threads: [task ids, result sizes, small results end to end].
    this.commands.done = (report: [number[], number[], Uint8Array]) => this.actors.onDone(report);
    this.commands.failed = (failures: [number, ErrorDescription][]) => this.actors.onFailed(failures);
    // From tessera threads: a result asked for ahead of its completion (TaskTracker.wantResult), sent before it.
    // Without bytes: asked for, and too large to come that way.
    this.commands.result = ([task, bytes]: [unknown, unknown], _connection: Connection, payloads: Uint8Array[]) => {
      if (typeof task !== "number") return;
      if (bytes instanceof Uint8Array) this.actors.tasks.onResult(task, bytes, payloads);
      else if (bytes === undefined) this.actors.tasks.onTooLarge(task);
    };
    // A tessera thread about to end for an error no method caught: its link's loss names it.
    this.commands.threadEnding = (reason: string, connection: Connection) => {
      const uid = connection.peer?.uid;
      if (uid && isThreadUid(uid) && typeof reason === "string") this.#threadEndings.set(uid, reason);
    };
    // A worker could not fetch a dependency where it was: it may have run again elsewhere (a retry, a restart).
    this.methods.locate = (id: number) => this.actors.locate(id);
    // Dynamic mode: a node started elsewhere asks where it fits (it proved the secret to get this far).
    this.methods.join = (request: unknown) => this.#admit(request);
    // Shown while starting (#showProgress), at log level info and below; else nobody looks.
    this.commands.nodeJoined = () => {};
    // Tessera threads whose methods create, call and put (nested calls), over their own links.
    this.commands.nested = (command: NestedCommand, connection: Connection, payloads: Uint8Array[]) => this.actors.nested.onCommand(connection, command, payloads);
    this.methods.nested = (request: NestedRequest, connection: Connection, payloads: Uint8Array[]) => this.actors.nested.onRequest(connection, request, payloads);
  }

  /** A joining node's place: its index from the monitor, where its parent and the head listen, the program and options. */
  async #admit(request: unknown): Promise<JoinPlan> {
    if (!this.options.dynamic) throw new RuntimeStateError(`${this.uid} takes no joining nodes: start it in dynamic mode (mosaic run --dynamic)`);
    const { host } = (request ?? {}) as Partial<JoinRequest>;
    if (typeof host !== "string") throw new InvalidArgumentError("a join request names the host of the node that joins");
    await this.#ready.promise;
    const monitor = this.network.monitor;
    if (this.state !== "running" || !monitor) throw new RuntimeStateError(`${this.uid} is ${this.state}: no node can join it now`);
    const index = await this.request<number>("monitor", "admit", { host }, this.options.startTimeout);
    return {
      index,
      monitor: { uid: monitor.uid, address: monitor.address, port: monitor.port },
      head: { address: this.address, port: this.port },
      cluster: clusterId(),
      script: scriptForChildren(),
      program: programCommand(),
      options: this.options,
    };
  }

  /** Dynamic mode: where nodes join, and (a secret made here) the file holding the secret, named in the log. */
  #announceJoin(): void {
    let secretNote = "the secret in MOSAIC_SECRET or --secret-file";
    if (this.#publishSecret) {
      let folder = this.logFiles?.folder;
      if (!folder) folder = this.#secretFolder = mkdtempSync(join(tmpdir(), "mosaic-secret-"));
      const path = writeSecretFile(folder, this.secret);
      secretNote = `--secret-file ${path}`;
      this.logger.info(`the cluster secret is in ${path} (readable by its owner only)`);
    }
    this.logger.info(`nodes join with: mosaic --role node --join ${this.address}:${this.port} -nw WORKERS (${secretNote})`);
  }

  /** Waiting for workers to join: each with the count it waits for. */
  #workerWaits = new Set<{ count: number; resolve: () => void; reject: (error: MosaicError) => void }>();

  /**
   * Resolves once at least `count` workers are on the network (placed on from
   * then on); rejects with TimeoutError after `timeout` ms (none: waits until
   * the runtime stops, which rejects it).
   */
  waitForWorkers(count: number, timeout?: number): Promise<void> {
    if (!Number.isInteger(count) || count < 0) return Promise.reject(new InvalidArgumentError(`waitForWorkers needs a whole number of workers, got ${String(count)}`));
    if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
      return Promise.reject(new InvalidArgumentError(`waitForWorkers: timeout must be a number of milliseconds, got ${String(timeout)}`));
    }
    if (this.state !== "running") return Promise.reject(new RuntimeStateError(`waitForWorkers needs a running runtime (this one is ${this.state})`));
    if (this.network.workers.length >= count) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const wait = { count, resolve, reject };
    this.#workerWaits.add(wait);
    if (timeout !== undefined && Number.isFinite(timeout)) {
      // Bun fires a timer of 2^31 ms or more at once: a longer wait re-arms until its deadline.
      const deadline = performance.now() + timeout;
      let timer: Timer;
      const arm = () => {
        const left = deadline - performance.now();
        if (left > 0 && this.#workerWaits.has(wait)) return void (timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS)));
        if (!this.#workerWaits.delete(wait)) return;
        reject(new TimeoutError(`${this.network.workers.length} of ${count} workers joined within ${timeout} ms`));
      };
      timer = setTimeout(arm, Math.min(timeout, MAX_TIMER_MS));
      void promise.finally(() => clearTimeout(timer)).catch(() => {});
    }
    return promise;
  }

  #settleWorkerWaits(stopped?: string): void {
    for (const wait of this.#workerWaits) {
      if (stopped) wait.reject(new RuntimeStateError(`the runtime ${stopped} while waiting for ${wait.count} workers (${this.network.workers.length} joined)`));
      else if (this.network.workers.length >= wait.count) wait.resolve();
      else continue;
      this.#workerWaits.delete(wait);
    }
  }

  async start(): Promise<void> {
    this.state = "starting";
    const timer = setTimeout(
      () => this.#ready.reject(new TimeoutError(`runtime did not start within ${this.options.startTimeout} ms`)),
      this.options.startTimeout,
    );
    let progress: ((ok: boolean) => void) | undefined;
    // Everything it binds or starts is inside: a failure stops it all, so nothing keeps the program alive.
    try {
      // Before the monitor starts: the page shows the runtimes as they join.
      if (this.options.dashboard !== false) await this.#startDashboard();
      this.listen(this.options.port);
      if (this.options.dynamic) this.#announceJoin();
      progress = this.#showProgress();
      startStep("head", "spawn monitor");
      this.#monitor = this.spawnChild(monitorConfig(this.options, this, this.#nodeHosts));
      await this.#ready.promise;
      progress?.(true);
      this.state = "running";
      this.#stopObserving = events.onInterest((types) => this.#askWorkersFor(types));
      this.#askWorkersFor(events.wantedTypes);
      if (events.wants("runtime.started")) events.emit({ type: "runtime.started", uid: this.uid, workers: this.network.workers.map((w) => w.uid), time: Date.now() });
      this.#warmPool();
      // Links to every worker, before the program goes on: its first creations and calls leave as it makes
      // them (a link opened on first use opened only once the program's code of that tick ended, a loop
      // making its first calls, say, and the worker started the tessera's thread that much later). One
      // that cannot open now is opened again on first use, as before. After "running": nodes joining in
      // dynamic mode are admitted meanwhile.
      // At most LINKS_WAIT_MS: a worker host that went silent since ready must not hold the start (a connect
      // has no timeout of its own but the kernel's, ~2 minutes).
      let waited: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.network.workers.map((worker) => this.connectionTo(worker).catch(() => {}))),
        new Promise<void>((resolve) => (waited = setTimeout(resolve, LINKS_WAIT_MS))),
      ]);
      clearTimeout(waited);
      startStep("head", "worker links open");
    } catch (error) {
      progress?.(false);
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The `warmPool` option: a segment made in idle time for the first large transfer (bounded by half the budget). */
  #warmPool(): void {
    const size = this.options.warmPool;
    if (size === 0 || !sharedMemoryAvailable()) return;
    if (segmentCapacity(size) > this.resources.memoryLimit / 2) {
      this.logger.warning(`warmPool (${size} bytes, a segment of ${segmentCapacity(size)}) is over half of the head's memory budget (${this.resources.memoryLimit} bytes): no shared memory prepared`);
      return;
    }
    void warmSegment(size).then((made) => made && this.logger.debug(`prepared ${(size / 2 ** 20).toFixed(0)} MiB of shared memory for the first large transfer`));
  }

  /** Tessera threads' `done` commands (most of what the head receives while calls run) are read by hand. */
  readCommand(body: Uint8Array, start: number, end: number): [string, unknown] | undefined {
    const done = decodeDoneMessage(body, start, end);
    if (!done) return undefined;
    // Read at once by the connection: one pair for all.
    readDone[1] = done;
    return readDone;
  }

  override async stop(): Promise<void> {
    this.#settleWorkerWaits("stopped");
    this.#stopObserving?.();
    this.#stopObserving = undefined;
    await super.stop();
    this.#stopEventLog();
    this.actors.shutdown("the runtime was stopped");
    removeSegments();
    removeClusterSegments(); // what children wrote and the head never mapped
    const profiler = this.#profiler;
    this.#profiler = undefined;
    if (profiler) {
      const tasks = profiler.stop();
      this.logger.info(`profile of ${tasks} tasks written to ${profiler.path} (open it in https://ui.perfetto.dev; summary: mosaic profile ${profiler.path})`);
    }
    this.#stopDashboard();
    this.logFiles?.close();
    if (this.#secretFolder) rmSync(this.#secretFolder, { recursive: true, force: true });
  }

  /**
   * Shows which nodes have joined while the runtime starts (at log level info
   * and below); returns the function that ends it.
   */
  #showProgress(): ((ok: boolean) => void) | undefined {
    const consola = this.logger.consola;
    if (consola.level < CONSOLA_LEVEL.info) return undefined;
    const progress = new StartProgress(terminalOutput((text) => this.logger.info(text)), this.options.numNodes, this.options.numWorkers);
    const reporter = progress.reporter();
    consola.options.reporters.unshift(reporter);
    this.commands.nodeJoined = ({ node, host, workers }: { node: string; host: string | undefined; workers: number }) => progress.nodeJoined(node, host, workers);
    return (ok) => {
      progress.finish(ok);
      consola.options.reporters = consola.options.reporters.filter((one) => one !== reporter);
      this.commands.nodeJoined = () => {};
    };
  }

  /** Loaded only when asked for: a run without the dashboard does not even load its module. */
  async #startDashboard(): Promise<void> {
    const { DashboardServer } = await import("../observe/dashboard/server.ts");
    const port = this.options.dashboard === true ? true : Number(this.options.dashboard);
    const tasks = () => this.actors.tasks.counts();
    const dashboard = new DashboardServer(events, { port, head: this.uid, host: hostname(), monitorInterval: this.options.monitorInterval, tasks });
    this.#dashboard = dashboard;
    this.#dashboardReporter = dashboard.reporter();
    this.logger.consola.addReporter(this.#dashboardReporter);
    this.logger.info(`dashboard: ${dashboard.url}`);
  }

  #dashboardReporter: ConsolaReporter | undefined;

  #stopDashboard(): void {
    if (this.#dashboardReporter) this.logger.consola.removeReporter(this.#dashboardReporter);
    this.#dashboard?.stop();
    this.#dashboard = undefined;
  }

  /** The dashboard's address with its token (undefined: the `dashboard` option is off). */
  get dashboardUrl(): string | undefined {
    return this.#dashboard?.url;
  }

  #onResources([sample, running]: ResourceReport): void {
    for (const [id, started] of running) this.actors.onStarted(id, started);
    if (events.wants("resources")) events.emit({ type: "resources", ...sample });
  }

  /** Fresh samples of every runtime of the tree and the head's task counts (see ClusterStatus). */
  async status({ timeout = 5000 }: ClusterStatusOptions = {}): Promise<ClusterStatus> {
    const time = Date.now();
    const [head] = sampleResources(this.probe);
    const asked = [...this.network.nodes, ...this.network.workers].map((info) => info.uid);
    const answers = await Promise.all(
      asked.map((uid) => this.request<ResourceReport>(uid, "resources", null, timeout).catch(() => undefined)),
    );
    const samples: RuntimeResources[] = [];
    const unanswered: string[] = [];
    answers.forEach((answer, i) => {
      if (!answer) return void unanswered.push(asked[i]!);
      this.#onResources(answer);
      samples.push(answer[0]);
    });
    return {
      time,
      head,
      nodes: samples.filter((sample) => sample.role === "node"),
      workers: samples.filter((sample) => sample.role === "worker"),
      unanswered,
      tasks: this.actors.tasks.counts(),
      tesserae: [...this.actors.tesserae()].length,
    };
  }

  relayLines(uid: string, stream: LogStream, lines: string[]): void {
    for (const line of lines) this.logger.remote(uid, stream, line);
  }

  /** The monitor, the head's one child, reports by heartbeats: a silent one (stopped, hung) is ended and its tree reported dead. */
  protected override watches(uid: string): boolean {
    return uid === "monitor";
  }

  protected override onSilent(uid: string, reason: string): void {
    this.endChild(uid, reason);
  }

  protected override onPeerLost(uid: string, reason: MosaicError): void {
    if (!isThreadUid(uid)) return;
    const ending = this.#threadEndings.get(uid);
    this.#threadEndings.delete(uid);
    const why = ending ?? reason.message;
    // Its worker's host, when it has one (cluster mode): the thread may be lost before its node's death is reported.
    const host = this.network.workers.find((worker) => worker.uid === workerOfThread(uid))?.host;
    this.actors.onThreadLost(uid, host ? `${why}; ${workerOfThread(uid)} ran on host ${host}` : why);
  }

  protected override onChildExit(child: LaunchedRuntime): void {
    const reason = child.describeExit();
    if (this.state === "starting") this.#ready.reject(new RuntimeDiedError(child.uid, `runtime failed to start: ${reason}`));
    else this.#onRuntimeDied(child.uid, reason);
  }

  #workersOf(uid: string): string[] {
    if (isWorkerUid(uid)) return [uid];
    return this.network.workers.filter((w) => isWorkerUnder(w.uid, uid)).map((w) => w.uid);
  }

  #onRuntimeDied(uid: string, reason: string): void {
    this.logger.error(`runtime died: ${reason}`);
    const lost = this.#workersOf(uid);
    // A dead node takes its workers with it.
    this.#setNetwork({ ...this.network, workers: this.network.workers.filter((w) => !lost.includes(w.uid)) });
    for (const worker of lost) this.actors.onWorkerLost(worker, reason);
    if (events.wants("runtime.lost")) {
      const time = Date.now();
      for (const one of new Set([uid, ...lost])) events.emit({ type: "runtime.lost", uid: one, reason, time });
    }
  }

  /** Uids of the runtimes this head has seen on the network (joined), so each joins once. */
  #seen = new Set<string>();

  #setNetwork(network: NetworkSnapshot): void {
    this.network = { ...network, head: this.info };
    this.#proxies.clear();
    if (this.#workerWaits.size > 0) this.#settleWorkerWaits();
    const { monitor, nodes, workers } = this.network;
    for (const info of [monitor, ...nodes, ...workers]) {
      if (!info || this.#seen.has(info.uid)) continue;
      this.#seen.add(info.uid);
      // A worker that joins a running runtime gets its link now, as those of the start did (see start()): a
      // link opened first while the program's code blocks would time out its handshake on the worker's side.
      if (info.role === "worker" && this.state === "running") this.connectionTo(info).catch(() => {});
      if (events.wants("runtime.joined")) {
        events.emit({ type: "runtime.joined", uid: info.uid, role: info.role, address: info.address, port: info.port, pid: info.pid, time: Date.now() });
      }
    }
  }

  /**
   * Tells every worker which worker-side events to produce now (none: they
   * produce nothing), and every tessera thread over its own link, so that a
   * call sent after this on that link finds the thread observing.
   */
  #askWorkersFor(types: RuntimeEventType[]): void {
    const wanted = types.filter((type) => WORKER_EVENT_TYPES.includes(type));
    for (const [uid, connection] of this.connections) if (isThreadUid(uid) && connection.isOpen) connection.command("observe", wanted);
    for (const worker of this.network.workers) {
      this.links.connect(worker.uid).then(
        (connection) => connection.command("observe", wanted),
        () => {}, // a worker that cannot be reached is reported lost by the tree
      );
    }
  }

  #proxy(info: RuntimeInfo): RuntimeProxy {
    let proxy = this.#proxies.get(info.uid);
    if (!proxy) this.#proxies.set(info.uid, (proxy = new RuntimeProxy(info, this)));
    return proxy;
  }

  get nodes(): RuntimeProxy[] {
    return this.network.nodes.map((n) => this.#proxy(n));
  }

  get workers(): RuntimeProxy[] {
    return this.network.workers.map((w) => this.#proxy(w));
  }

  get monitor(): RuntimeProxy | undefined {
    return this.network.monitor && this.#proxy(this.network.monitor);
  }

  get numNodes(): number {
    return this.network.nodes.length;
  }

  get numWorkers(): number {
    return this.network.workers.length;
  }

  getWorker(uid: string): RuntimeProxy {
    const info = this.network.workers.find((w) => w.uid === uid);
    if (!info) throw new RuntimeStateError(`no worker "${uid}": the workers are ${this.network.workers.map((w) => w.uid).join(", ") || "none"}`);
    return this.#proxy(info);
  }

  getNode(uid: string): RuntimeProxy {
    const info = this.network.nodes.find((n) => n.uid === uid);
    if (!info) throw new RuntimeStateError(`no node "${uid}": the nodes are ${this.network.nodes.map((n) => n.uid).join(", ") || "none"}`);
    return this.#proxy(info);
  }

  /** Process ids of every runtime process of this tree (for tools and tests). */
  get pids(): number[] {
    const { monitor, nodes, workers } = this.network;
    return [this.#monitor?.pid ?? monitor?.pid, ...nodes.map((n) => n.pid), ...workers.map((w) => w.pid)].filter(
      (pid): pid is number => pid !== undefined,
    );
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `<HeadNode uid=${this.uid}, address=${this.address}, port=${this.port}, state=${this.state}, nodes=${this.numNodes}, workers=${this.numWorkers}>`;
  }
}

/** The longest delay a timer takes (2^31 - 1 ms): longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
