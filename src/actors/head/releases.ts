/**
 * Letting go of what lives on workers: results of tasks and tesserae the
 * program released, or whose proxies were garbage collected. Releases go out
 * in one command per worker and tick.
 */
import { RELEASE_MESSAGE } from "../wire/release-message.ts";
import type { ActorClient } from "./actor-client.ts";
import { FIRST_ID, GENERATION, type TaskProxy } from "./task-proxy.ts";
import type { TesseraHandle } from "./tessera-handle.ts";
import type { TesseraProxy } from "./tessera-proxy.ts";

/** Task proxies watched for garbage collection together (see Releases.#collectedTasks). */
const GENERATION_SIZE = 64;

/**
 * Task proxies collected together: [holder, task id, ...], the holder being
 * the task's tessera, or the worker it was sent to when its tessera may move.
 */
type GenerationEntries = (TesseraHandle | string | number)[];
/** What each proxy of a generation holds (the registry's target): it names the generation's entries. */
interface GenerationToken {
  readonly entries: GenerationEntries;
}

/** What a worker is to let go, sent as one command: [tessera, calls sent to it, ...] and task (or warehouse object) ids. */
interface Batch {
  tesserae: number[];
  tasks: number[];
}

export class Releases {
  readonly #client: ActorClient;
  /**
   * Each worker's batch, sent after a macrotask (setTimeout 0), not a
   * microtask: a burst of collections or releases of one turn leaves together.
   * Plain lists and one timer: a batcher's per-item lookup and the packer's
   * encoding of every id were a tenth of the head's time per pipelined call.
   */
  #batches = new Map<string, Batch>();
  /** The batch written to last, and its worker (a collected generation's tasks mostly share one). */
  #lastWorker: string | undefined;
  #lastBatch: Batch | undefined;
  #scheduled = false;
  readonly #sendAll = () => this.#flush();
  /** A program's proxy collected: its hold goes, unless the program got a newer proxy of the tessera since (nested calls). */
  readonly #collectedTesserae = new FinalizationRegistry<[TesseraHandle, number]>(([handle, generation]) => {
    if (handle.programGeneration === generation) handle.release();
  });
  /**
   * Task proxies are watched for collection in generations of up to
   * GENERATION_SIZE: each proxy holds its generation's token, and when every
   * proxy of a generation is gone, their results are released together. One
   * registration per generation instead of per task (it was a third of the
   * cost of a call); holding one proxy keeps at most that many results alive.
   */
  readonly #collectedTasks = new FinalizationRegistry<GenerationEntries>((entries) => {
    for (let i = 0; i < entries.length; i += 2) {
      const holder = entries[i] as TesseraHandle | string;
      const id = entries[i + 1] as number;
      // A retried task ran last under another id (rare: a lookup only when some task was retried).
      const last = this.#renamed.size > 0 ? this.#renamed.get(id) : undefined;
      if (last !== undefined) this.#renamed.delete(id);
      // A tessera that may move (restarts): its results stay where they ran (see sentTo).
      const worker = typeof holder === "string" ? holder : holder.worker;
      if (worker) this.releaseTask(worker, last ?? id);
    }
  });
  /** Retried tasks: the id each was submitted with → the id of its last attempt (see TaskProxy[REKEY]). */
  readonly #renamed = new Map<number, number>();
  /** The generation being filled. */
  #generation: GenerationToken | undefined;

  constructor(client: ActorClient) {
    this.#client = client;
  }

  /** The tessera is released when its proxy is collected. */
  watchTessera(proxy: TesseraProxy<any>, handle: TesseraHandle): void {
    this.#collectedTesserae.register(proxy, [handle, handle.programGeneration]);
  }

  /** The task's result is released when its proxy (and the rest of its generation) is collected. */
  watchTask(task: TaskProxy<any>, tessera: TesseraHandle): void {
    let generation = this.#generation;
    if (!generation || generation.entries.length >= 2 * GENERATION_SIZE) {
      const opened = (generation = this.#generation = { entries: [] });
      this.#collectedTasks.register(opened, opened.entries);
      // Closed once the code that submits has run: a generation still filling is held here, and a program
      // calling one task at a time (`await t.get().result()` in a loop) would never let its results go.
      queueMicrotask(() => {
        if (this.#generation === opened) this.#generation = undefined;
      });
    }
    generation.entries.push(tessera, task.id);
    task[GENERATION] = generation;
  }

  /** A task now runs under another wire id: its result goes by that one when its proxy is collected. */
  renamed(firstId: number, id: number): void {
    this.#renamed.set(firstId, id);
  }

  /**
   * A task of a tessera that may move was sent to `worker`: its result is
   * released there when its proxy is collected. Written in its generation's
   * entry, in place of its tessera (a Map of every such task was a tenth of
   * a remote function call): the last entry, unless it waited to be sent.
   */
  sentTo(task: TaskProxy<any>, worker: string): void {
    const entries = (task[GENERATION] as GenerationToken | undefined)?.entries;
    if (!entries) return;
    const id = task[FIRST_ID];
    for (let i = entries.length - 1; i > 0; i -= 2) {
      if (entries[i] === id) {
        entries[i - 1] = worker;
        return;
      }
    }
  }

  /** A task's result (or a warehouse object), freed on `worker`. */
  releaseTask(worker: string, id: number): void {
    this.#batch(worker).tasks.push(id);
    // Tesserae a result names (a proxy returned by a method) are held while the result is.
    if (this.#client.nested.pinned) this.#client.nested.unpin(id);
  }

  /** A tessera, freed on `worker` once the `calls` sent to it have run. */
  releaseTessera(worker: string, id: number, calls: number): void {
    this.#batch(worker).tesserae.push(id, calls);
  }

  /** `worker`'s batch for this turn (the send is scheduled with the first). */
  #batch(worker: string): Batch {
    if (worker === this.#lastWorker) return this.#lastBatch!;
    let batch = this.#batches.get(worker);
    if (!batch) {
      this.#batches.set(worker, (batch = { tesserae: [], tasks: [] }));
      if (!this.#scheduled) {
        this.#scheduled = true;
        setTimeout(this.#sendAll, 0);
      }
    }
    this.#lastWorker = worker;
    this.#lastBatch = batch;
    return batch;
  }

  #flush(): void {
    this.#scheduled = false;
    const batches = this.#batches;
    this.#batches = new Map();
    this.#lastWorker = this.#lastBatch = undefined;
    for (const [worker, { tesserae, tasks }] of batches) {
      if (this.#client.failures.isLost(worker)) continue;
      const link = this.#client.link(worker);
      const connection = link.connection;
      if (connection) connection.sendEncodedWith(RELEASE_MESSAGE.prepare(tesserae, tasks), RELEASE_MESSAGE);
      else link.command("release", [tesserae, tasks]);
    }
  }
}
