/**
 * The dashboard's memory of the run, fed by the event surface and the head's
 * log lines: runtimes and their resource samples, tesserae, the head's task
 * counts per second, recent errors and log lines. Every history is bounded, so
 * a long run holds the last minutes of it, not all of it. The server sends
 * `snapshot()` to a page that connects and `takeDelta()` once a second.
 */
import type { EventOf, EventStream, RuntimeEventType } from "../events.ts";
import type { BoardDelta, BoardSnapshot, ErrorRow, LogRow, RuntimeRow, SamplePoint, TaskPoint, TaskTotals, TesseraRow } from "./protocol.ts";

/** Points kept per chart: ten minutes at one a second. */
const HISTORY = 600;
const ERRORS = 50;
const LOGS = 2000;

/** What the board asks the head for once a second. */
export interface BoardSource {
  head: string;
  /** The head's host: the monitor runs beside it and sends no samples to tell its own. */
  host: string;
  monitorInterval: number;
  /** The head's tasks not ended (as ClusterStatus.tasks). */
  tasks(): { pending: number; running: number };
}

const TYPES = [
  "runtime.joined",
  "runtime.lost",
  "tessera.created",
  "tessera.restarting",
  "tessera.failed",
  "tessera.released",
  "task.submitted",
  "task.done",
  "task.failed",
  "resources",
] as const satisfies RuntimeEventType[];

type BoardEvent = EventOf<(typeof TYPES)[number]>;

/** Drops the oldest items past `limit` (in place). */
function bound<T>(list: T[], limit: number): void {
  if (list.length > limit) list.splice(0, list.length - limit);
}

/** The error's stack with its causes' (a RemoteError's stack holds the worker's). */
export function errorText(error: Error): string {
  const parts: string[] = [];
  let cause: unknown = error;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++, cause = cause.cause) {
    parts.push(cause.stack ?? `${cause.name}: ${cause.message}`);
  }
  return parts.join("\nCaused by: ");
}

function errorName(error: Error): string {
  const remote = (error as { remoteName?: unknown }).remoteName;
  return typeof remote === "string" ? remote : error.name;
}

export class DashboardBoard {
  readonly #source: BoardSource;
  readonly #started = Date.now();
  readonly #stops: (() => void)[] = [];
  readonly #runtimes = new Map<string, RuntimeRow>();
  readonly #samples = new Map<string, SamplePoint[]>();
  readonly #tesserae = new Map<string, TesseraRow>();
  readonly #tasks: TaskPoint[] = [];
  readonly #errors: ErrorRow[] = [];
  readonly #logs: LogRow[] = [];
  readonly #totals: TaskTotals = { submitted: 0, done: 0, failed: 0 };
  /** Counts since the last task point. */
  #second = { submitted: 0, done: 0, failed: 0 };
  /** What changed since the last delta. */
  #changed = { runtimes: new Set<string>(), tesserae: new Map<string, TesseraRow>(), samples: new Map<string, SamplePoint[]>(), tasks: [] as TaskPoint[], errors: [] as ErrorRow[], logs: [] as LogRow[] };

  constructor(events: EventStream, source: BoardSource) {
    this.#source = source;
    for (const type of TYPES) this.#stops.push(events.on(type, (event) => this.#on(event as BoardEvent)));
  }

  #on(event: BoardEvent): void {
    switch (event.type) {
      case "runtime.joined":
        this.#setRuntime({ uid: event.uid, role: event.role, host: event.role === "monitor" ? this.#source.host : undefined, pid: event.pid, state: "up", reason: undefined, joined: event.time });
        return;
      case "runtime.lost": {
        const row = this.#runtimes.get(event.uid);
        if (row) this.#setRuntime({ ...row, state: "lost", reason: event.reason });
        return;
      }
      case "resources": {
        const { runtime, time, cpu, rss, memoryLimit, sharedMemory, tasksQueued, tasksRunning } = event;
        const row = this.#runtimes.get(runtime);
        if (!row) this.#setRuntime({ uid: runtime, role: event.role, host: event.host, pid: event.pid, state: "up", reason: undefined, joined: time });
        else if (row.host !== event.host) this.#setRuntime({ ...row, host: event.host, pid: event.pid });
        const point = { time, cpu, rss, memoryLimit, sharedMemory, tasksQueued, tasksRunning };
        this.#push(this.#samples, runtime, point, HISTORY);
        this.#push(this.#changed.samples, runtime, point, HISTORY);
        return;
      }
      case "tessera.created":
        this.#setTessera({ uid: event.tessera, className: event.className, worker: event.worker, thread: event.thread, state: "live", restarts: event.restarts });
        return;
      case "tessera.restarting": {
        const row = this.#tesserae.get(event.tessera);
        if (row) this.#setTessera({ ...row, restarts: event.restarts });
        return;
      }
      case "tessera.released":
      case "tessera.failed": {
        const row = this.#tesserae.get(event.tessera) ?? { uid: event.tessera, className: event.className, worker: event.worker, thread: undefined, restarts: 0 };
        this.#setTessera({ ...row, state: event.type === "tessera.failed" ? "failed" : "released" });
        if (event.type === "tessera.failed") {
          this.#error({ time: event.time, kind: "tessera", task: undefined, tessera: event.tessera, method: undefined, worker: event.worker, name: errorName(event.error), message: event.error.message, stack: errorText(event.error) });
        }
        return;
      }
      case "task.submitted":
        this.#totals.submitted++;
        this.#second.submitted++;
        return;
      case "task.done":
        this.#totals.done++;
        this.#second.done++;
        return;
      case "task.failed":
        this.#totals.failed++;
        this.#second.failed++;
        this.#error({ time: event.ended, kind: "task", task: event.task, tessera: event.tessera, method: event.method, worker: event.worker, name: errorName(event.error), message: event.error.message, stack: errorText(event.error) });
        return;
    }
  }

  #push(map: Map<string, SamplePoint[]>, uid: string, point: SamplePoint, limit: number): void {
    let list = map.get(uid);
    if (!list) map.set(uid, (list = []));
    list.push(point);
    bound(list, limit);
  }

  #setRuntime(row: RuntimeRow): void {
    this.#runtimes.set(row.uid, row);
    this.#changed.runtimes.add(row.uid);
  }

  #setTessera(row: TesseraRow): void {
    if (row.state === "live") this.#tesserae.set(row.uid, row);
    else this.#tesserae.delete(row.uid);
    this.#changed.tesserae.set(row.uid, row);
  }

  #error(row: ErrorRow): void {
    this.#errors.push(row);
    bound(this.#errors, ERRORS);
    this.#changed.errors.push(row);
    bound(this.#changed.errors, ERRORS);
  }

  /** A line the head printed or relayed. */
  log(runtime: string, stream: string, text: string, time = Date.now()): void {
    const row = { time, runtime, stream, text };
    this.#logs.push(row);
    bound(this.#logs, LOGS);
    this.#changed.logs.push(row);
    bound(this.#changed.logs, LOGS);
  }

  /** Closes the current second: a point of the task chart. */
  tick(time = Date.now()): void {
    const point = { time, ...this.#source.tasks(), ...this.#second };
    this.#second = { submitted: 0, done: 0, failed: 0 };
    this.#tasks.push(point);
    bound(this.#tasks, HISTORY);
    this.#changed.tasks.push(point);
  }

  /**
   * The state as of the last delta: what changed since comes in the next
   * delta, which a page that connects now also gets (sent in both, a log line
   * or an error showed twice there).
   */
  snapshot(): BoardSnapshot {
    const changed = this.#changed;
    const before = <T>(list: T[], recent: T[]) => list.slice(0, Math.max(0, list.length - recent.length));
    const samples = Object.fromEntries(
      [...this.#samples].map(([uid, points]) => [uid, before(points, changed.samples.get(uid) ?? [])]),
    );
    return {
      type: "snapshot",
      head: this.#source.head,
      started: this.#started,
      monitorInterval: this.#source.monitorInterval,
      runtimes: [...this.#runtimes.values()],
      samples,
      tasks: before(this.#tasks, changed.tasks),
      totals: { ...this.#totals },
      tesserae: [...this.#tesserae.values()],
      errors: before(this.#errors, changed.errors),
      logs: before(this.#logs, changed.logs),
    };
  }

  /** What changed since the previous call. */
  takeDelta(): BoardDelta {
    const changed = this.#changed;
    this.#changed = { runtimes: new Set(), tesserae: new Map(), samples: new Map(), tasks: [], errors: [], logs: [] };
    return {
      type: "delta",
      runtimes: [...changed.runtimes].map((uid) => this.#runtimes.get(uid)!),
      samples: Object.fromEntries(changed.samples),
      tasks: changed.tasks,
      totals: { ...this.#totals },
      tesserae: [...changed.tesserae.values()],
      errors: changed.errors,
      logs: changed.logs,
    };
  }

  stop(): void {
    for (const stop of this.#stops.splice(0)) stop();
  }
}
