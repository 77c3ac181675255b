/**
 * The runtime as the user's program sees it (`mosaic.init()`, `run()`,
 * `runtime()`): the members the README lists, and nothing of the head's
 * machinery (its actor client, warehouse client, connections, requests),
 * which stays behind a private field.
 */
import { InvalidArgumentError, RuntimeStateError, TimeoutError, WorkerDiedError } from "../errors.ts";
import type { ObjectRef } from "../actors/head/object-ref.ts";
import type { BarrierReport } from "../actors/head/barrier.ts";
import { timerMs } from "../actors/head/timeouts.ts";
import type { PutOptions } from "../actors/head/warehouse-client.ts";
import type { HeadNode } from "../cluster/head.ts";
import type { RuntimeProxy } from "../cluster/runtime-proxy.ts";
import type { RuntimeState } from "../cluster/runtime.ts";
import type { RuntimeLogger } from "../logging/logger.ts";
import type { EventStream } from "../observe/events.ts";
import type { ClusterStatus, ClusterStatusOptions } from "../observe/status.ts";

let nodeOf: (runtime: HeadRuntime) => HeadNode;

/** How asyncFor runs its items. */
export interface AsyncForOptions {
  /**
   * Carry on when a worker dies: its lane is retired and the item it was on
   * (the body failed with that worker's WorkerDiedError) runs again on another
   * worker, as the original's safe mode. Other failures still end the loop.
   * Default false.
   */
  safe?: boolean;
  /**
   * Milliseconds the whole loop may take: past it, no item starts any more
   * and the loop rejects with TimeoutError saying how many items ended (bodies
   * already running are not interrupted). Default: no limit.
   */
  timeout?: number;
  /** The order of the results: `"item"` (default, the items' order) or `"completion"` (as they end, the original's order). */
  order?: "item" | "completion";
}

export class HeadRuntime {
  readonly #head: HeadNode;

  static {
    nodeOf = (runtime) => runtime.#head;
  }

  /** Made by the library (see publicRuntime): one per head. */
  constructor(head: HeadNode) {
    this.#head = head;
  }

  get uid(): string {
    return this.#head.uid;
  }

  get address(): string {
    return this.#head.address;
  }

  get port(): number {
    return this.#head.port;
  }

  get state(): RuntimeState {
    return this.#head.state;
  }

  get nodes(): RuntimeProxy[] {
    return this.#head.nodes;
  }

  get workers(): RuntimeProxy[] {
    return this.#head.workers;
  }

  get monitor(): RuntimeProxy | undefined {
    return this.#head.monitor;
  }

  /**
   * The live dashboard's address, its token included (the `dashboard`
   * option); undefined when it is off.
   *
   * @example
   * const runtime = await mosaic.init({ dashboard: true });
   * console.log(`open ${runtime.dashboardUrl}`);
   */
  get dashboardUrl(): string | undefined {
    return this.#head.dashboardUrl;
  }

  get numNodes(): number {
    return this.#head.numNodes;
  }

  get numWorkers(): number {
    return this.#head.numWorkers;
  }

  /**
   * Waits until at least `count` workers are on the network (dynamic mode:
   * nodes that joined bring theirs; `runtime.joined` events tell each one),
   * and resolves with the workers then. Rejects with TimeoutError after
   * `timeout` ms if given, and with RuntimeStateError if the runtime stops
   * first.
   *
   * @example
   * const runtime = await mosaic.init({ dynamic: true, port: 7000 });
   * await runtime.waitForWorkers(8, { timeout: 60_000 });
   */
  async waitForWorkers(count: number, { timeout }: { timeout?: number } = {}): Promise<RuntimeProxy[]> {
    await this.#head.waitForWorkers(count, timeout);
    return this.#head.workers;
  }

  /** The worker with this uid; throws RuntimeStateError naming the workers there are. */
  getWorker(uid: string): RuntimeProxy {
    return this.#head.getWorker(uid);
  }

  getNode(uid: string): RuntimeProxy {
    return this.#head.getNode(uid);
  }

  /**
   * Waits until every task submitted from this head so far has completed or
   * failed, and reports the tasks that failed since the previous barrier (a
   * lost worker does not stop it: its tasks are among them). With a timeout
   * (ms), rejects with TimeoutError if tasks remain.
   */
  barrier(timeout?: number): Promise<BarrierReport> {
    try {
      return this.#head.actors.barrier(timerMs(timeout, "barrier timeout"));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs `body(worker, item, index)` for every item, spreading the items over
   * the workers: each worker takes the next item as soon as its previous one is
   * done. Resolves with the results in item order; if a body throws, no new
   * item starts and the first error is thrown once the running ones finish.
   *
   * @example
   * const sums = await runtime.asyncFor(shots, async (worker, shot) => {
   *   const solver = Solver.options({ worker: worker.uid }).remote();
   *   return solver.solve(shot).result();
   * });
   */
  async asyncFor<T, R>(
    items: Iterable<T> | AsyncIterable<T>,
    body: (worker: RuntimeProxy, item: T, index: number) => R | Promise<R>,
    options: AsyncForOptions = {},
  ): Promise<R[]> {
    if (typeof body !== "function") throw new InvalidArgumentError("asyncFor(items, body) needs a function as body");
    if (options === null || typeof options !== "object") throw new InvalidArgumentError(`asyncFor options must be an object, got ${options === null ? "null" : typeof options}`);
    const safe = options.safe === true;
    const { order = "item" } = options;
    const timeout = timerMs(options.timeout, "asyncFor timeout");
    if (order !== "item" && order !== "completion") throw new InvalidArgumentError(`asyncFor order must be "item" or "completion", got ${String(order)}`);
    const workers = this.workers;
    if (workers.length === 0) throw new RuntimeStateError("asyncFor needs a running runtime with at least one worker");
    const iterator = Symbol.asyncIterator in Object(items) ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
    const results: R[] = [];
    const completed: R[] = [];
    let next = 0;
    let failure: { error: unknown } | undefined;
    /** Safe mode: items whose worker died, to run again on a live one; the workers retired. */
    const again: { item: T; index: number }[] = [];
    const dead = new Set<string>();
    const take = async (): Promise<{ item: T; index: number } | undefined> => {
      const retry = again.shift();
      if (retry) return retry;
      const step = await iterator.next();
      return step.done ? undefined : { item: step.value, index: next++ };
    };
    const lane = async (worker: RuntimeProxy) => {
      while (!failure) {
        const work = await take();
        if (!work || failure) return;
        try {
          const result = await body(worker, work.item, work.index);
          results[work.index] = result;
          completed.push(result);
        } catch (error) {
          // Safe mode: a worker that died is retired and its item goes to another one.
          if (safe && error instanceof WorkerDiedError && error.runtime === worker.uid && dead.size + 1 < workers.length) {
            dead.add(worker.uid);
            again.push(work);
            return;
          }
          failure ??= { error };
        }
      }
    };
    const loop = async () => {
      let lanes = workers;
      for (;;) {
        await Promise.all(lanes.map(lane));
        // Lanes that were done before an item came back for another run pick it up now.
        if (failure || again.length === 0) break;
        lanes = workers.filter((worker) => !dead.has(worker.uid));
      }
    };
    let timer: Timer | undefined;
    const expired = new Promise<void>((resolve) => {
      if (timeout === undefined) return;
      timer = setTimeout(() => {
        failure ??= { error: new TimeoutError(`asyncFor did not finish within ${timeout} ms: ${completed.length} items ended, ${next - completed.length} were running`) };
        resolve();
      }, timeout);
    });
    try {
      await Promise.race([loop(), expired]);
    } finally {
      clearTimeout(timer);
    }
    if (failure) throw failure.error;
    return order === "completion" ? completed : results;
  }

  /**
   * Stores a value in the warehouse, on a worker (or, with `publish`, on every
   * worker), and returns a reference to pass as an argument or to `get` later.
   *
   * @example
   * const model = await runtime.put(velocity, { publish: true });
   * const shots = workers.map((w) => solvers[w].forward(model));
   */
  put<T>(value: T, options?: PutOptions): Promise<ObjectRef<T>> {
    return this.#head.warehouse.put(value, options);
  }

  /** Fetches a warehouse object. */
  get<T>(ref: ObjectRef<T>): Promise<T> {
    return ref.get();
  }

  /** Frees a warehouse object on every worker that holds or cached it. */
  drop(ref: ObjectRef<unknown>): Promise<void> {
    return ref.drop();
  }

  /**
   * The whole cluster in one call: a fresh resource sample of the head and of
   * every node and worker (CPU in percent of one core since that runtime's
   * previous sample, memory in bytes: see RuntimeResources), the tasks this
   * head submitted that are pending or running, and its live tesserae.
   *
   * @example
   * const { workers, tasks } = await runtime.status();
   * for (const w of workers) console.log(w.runtime, `${w.cpu}%`, `${(w.rss / 2 ** 20).toFixed(0)} MiB`, w.tasksRunning);
   */
  status(options?: ClusterStatusOptions): Promise<ClusterStatus> {
    return this.#head.status(options);
  }

  /** CPU load of the head process, in percent of one core since the last call. */
  cpuLoad(): number {
    return this.#head.resources.cpuLoad();
  }

  /** Bytes of memory this runtime may use. */
  memoryLimit(): number {
    return this.#head.resources.memoryLimit;
  }

  fitsInMemory(bytes: number): boolean {
    return this.#head.resources.fitsInMemory(bytes);
  }

  get logger(): RuntimeLogger {
    return this.#head.logger;
  }

  /** Process ids of every runtime process of this tree (for tools and tests). */
  get pids(): number[] {
    return this.#head.pids;
  }

  /** What the runtime does, as it happens (see observe/events.ts). */
  get events(): EventStream {
    return this.#head.events;
  }

  toString(): string {
    return `<HeadRuntime uid=${this.uid}, address=${this.address}, port=${this.port}, state=${this.state}, nodes=${this.numNodes}, workers=${this.numWorkers}>`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

const facades = new WeakMap<HeadNode, HeadRuntime>();

/** The user's handle on `head` (the same object every time). */
export function publicRuntime(head: HeadNode): HeadRuntime {
  let facade = facades.get(head);
  if (!facade) facades.set(head, (facade = new HeadRuntime(head)));
  return facade;
}

/**
 * Internal: the head behind a runtime handle. For the library's own tools and
 * tests (never exported from the package): what users need is on HeadRuntime.
 */
export function headNodeOf(runtime: HeadRuntime): HeadNode {
  return nodeOf(runtime);
}
