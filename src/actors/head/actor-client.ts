/**
 * The head's side of the actor model, as the cluster layer holds it: creates
 * tesserae and routes what the workers report to the part that handles it.
 * The parts: tessera handles (tessera-handle.ts: the outbox, in-order
 * submission), placement, task tracking, failures, releases, links to
 * workers, and the barrier.
 */
import { InvalidArgumentError, RuntimeStateError } from "../../errors.ts";
import type { ErrorDescription } from "../../errors.ts";
import type { EventStream } from "../../observe/events.ts";
import { isWorkerUid } from "../../types.ts";
import type { RuntimeLinks } from "../links.ts";
import { classNameOf } from "../registry.ts";
import { encodeValue, type ReferenceLike, scanValue, setHandleReader } from "../wire/value-codec.ts";
import { NestedCalls } from "./nested-calls.ts";
import type { BarrierReport } from "./barrier.ts";
import { Failures } from "./failures.ts";
import { Placement } from "./placement.ts";
import { Releases } from "./releases.ts";
import { checkRetryOptions, Recovery } from "./retries.ts";
import { TaskTracker } from "./task-tracker.ts";
import { dependenciesOf, keep, staleDependency, staleProxy, TesseraHandle } from "./tessera-handle.ts";
import { createTesseraProxy, type TesseraProxy } from "./tessera-proxy.ts";
import type { TesseraOptions } from "./tessera.ts";
import { type WorkerLink, WorkerLinks } from "./worker-link.ts";

export class ActorClient {
  readonly #runtime: RuntimeLinks;
  /** Live (not released) tesserae by uid. */
  readonly #tesserae = new Map<string, TesseraHandle>();
  readonly #links: WorkerLinks;
  /** Where the head's actor events go (see observe/events.ts): emitted only when wanted. */
  readonly events: EventStream;
  readonly tasks: TaskTracker;
  readonly placement: Placement;
  readonly failures: Failures;
  readonly releases: Releases;
  readonly recovery: Recovery;
  /** What tessera threads create, call and put through this head (nested calls), and who holds what. */
  readonly nested: NestedCalls;

  constructor(runtime: RuntimeLinks, events: EventStream) {
    this.#runtime = runtime;
    this.events = events;
    this.#links = new WorkerLinks(runtime, (uid, reason) => this.failures.linkLost(uid, reason));
    this.tasks = new TaskTracker(this, events);
    this.placement = new Placement(this, runtime);
    this.failures = new Failures(this, runtime);
    this.releases = new Releases(this);
    this.recovery = new Recovery(this);
    this.nested = new NestedCalls(this);
    // A proxy in a result the program reads is the program's proxy of that tessera.
    setHandleReader((wire) => this.nested.programProxy(wire));
  }

  /** Creates a tessera remotely; the proxy is returned at once. */
  /**
   * `atLeastOnce`: the library's own stateless tesserae (remote functions) —
   * rerunning a call whose end was not reported is harmless there, so their
   * threads batch completions as usual instead of reporting each before the next.
   */
  create<T>(key: string, methods: ReadonlySet<string>, args: unknown[], options: TesseraOptions = {}, atLeastOnce = false, uid?: string): TesseraProxy<T> {
    const references: ReferenceLike[] = [];
    const scan = scanValue(args, "args", references);
    if (scan.problem) throw new InvalidArgumentError(`cannot create ${classNameOf(key)}: ${scan.problem}`);
    const stale = references.length > 0 ? staleDependency(dependenciesOf(references)) : undefined;
    if (stale) throw new RuntimeStateError(`cannot create ${classNameOf(key)}: ${stale}`);
    if (options.worker !== undefined && (!isWorkerUid(options.worker) || !this.#runtime.knows(options.worker))) {
      throw new InvalidArgumentError(`no worker "${options.worker}" to place ${classNameOf(key)} on: the workers are ${this.#runtime.workers().join(", ")}`);
    }
    checkRetryOptions(options, `${classNameOf(key)}.options()`);
    const encodedArgs = encodeValue(args, true, "args", scan.exact);
    const staleArgument = encodedArgs.handles ? staleProxy(encodedArgs.handles) : undefined;
    if (staleArgument) throw new RuntimeStateError(`cannot create ${classNameOf(key)}: ${staleArgument}`);
    const { maxRetries, retryExceptions, maxRestarts, maxConcurrency = 1 } = options;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new InvalidArgumentError(`${classNameOf(key)}.options(): maxConcurrency must be an integer >= 1, got ${String(maxConcurrency)}`);
    const retryDefaults = maxRetries !== undefined || retryExceptions !== undefined ? { maxRetries, retryExceptions } : undefined;
    const handle = new TesseraHandle(key, encodedArgs, references, methods, this, retryDefaults, maxRestarts, maxConcurrency, uid);
    handle.strict = maxRestarts !== undefined && maxRestarts !== 0 && !atLeastOnce;
    if (references.length > 0) handle.dependencies = dependenciesOf(references);
    if (encodedArgs.handles) handle.holdArguments(encodedArgs.handles);
    this.#tesserae.set(handle.uid, handle);
    const proxy = createTesseraProxy<T>(handle);
    handle.programProxy = new WeakRef(proxy);
    this.releases.watchTessera(proxy, handle);
    this.placement.place(handle, options.worker);
    // Created later (placement pending), or again after a restart: the arguments keep the values they have now.
    if (handle.worker === undefined || handle.maxRestarts !== 0) keep(encodedArgs);
    return proxy;
  }

  /** Threads each worker runs tesserae on. */
  get threadsPerWorker(): number {
    return this.#runtime.threadsPerWorker;
  }

  /** A live tessera by uid. */
  tessera(uid: string): TesseraHandle | undefined {
    return this.#tesserae.get(uid);
  }

  /** Live tesserae (released ones are no longer listed). */
  tesserae(): IterableIterator<TesseraHandle> {
    return this.#tesserae.values();
  }

  /** A tessera released: no longer listed. */
  forget(handle: TesseraHandle): void {
    this.#tesserae.delete(handle.uid);
  }

  link(worker: string): WorkerLink {
    return this.#links.get(worker);
  }

  forgetLink(worker: string): void {
    this.#links.forget(worker);
  }

  /** The runtime is going down: links closing are expected, not deaths. */
  get stopping(): boolean {
    return this.#runtime.stopping;
  }

  /** Workers that are alive as far as this head knows. */
  liveWorkers(): string[] {
    return this.#runtime.workers().filter((uid) => !this.failures.isLost(uid));
  }


  /** A task's result or a warehouse object, freed on `worker` (with the other releases of this tick). */
  queueRelease(worker: string, id: number): void {
    this.releases.releaseTask(worker, id);
  }

  onDone(report: [number[], number[], Uint8Array]): void {
    this.tasks.onDone(report);
  }

  onStarted(id: number, time: number): void {
    this.tasks.onStarted(id, time);
  }

  onCompleted(ids: number[]): void {
    this.tasks.onCompleted(ids);
  }

  onFailed(failures: [number, ErrorDescription][]): void {
    this.tasks.onFailed(failures);
  }

  /** Where the result of the task once sent as `id` is now (a retry moves it): see Recovery.locate. */
  locate(id: number): Promise<[string, number]> {
    return this.recovery.locate(id);
  }

  onThreadLost(uid: string, reason: string): void {
    this.failures.onThreadLost(uid, reason);
    this.nested.holderLost(uid);
  }

  onWorkerLost(worker: string, reason: string): void {
    this.failures.onWorkerLost(worker, reason);
    this.nested.holderLost(worker);
  }

  /** Resolves when every task submitted so far has completed (or failed). */
  barrier(timeout?: number): Promise<BarrierReport> {
    return this.tasks.barrier.wait(timeout);
  }

  /** The runtime stops: nothing pending will complete any more. */
  /** Why this client's runtime stopped (undefined while it runs): its handles then fail at once. */
  stoppedReason: string | undefined;

  shutdown(reason: string): void {
    this.stoppedReason = reason;
    this.failures.shutdown();
    this.tasks.shutdown(reason);
    for (const handle of this.#tesserae.values()) if (handle.state === "pending") handle.readiness.reject(new RuntimeStateError(`${handle.uid} was not created: ${reason}`));
  }
}
