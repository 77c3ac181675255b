/**
 * What the dashboard's server sends its page over the WebSocket (types only:
 * the page in page/ and the board on the head share them). The first message
 * is a `snapshot` of everything the board holds; then, once a second, a
 * `delta` with what is new. Times are ms since the epoch; bytes are bytes.
 */

export interface RuntimeRow {
  uid: string;
  role: string;
  /** From the runtime's resource samples (undefined until its first one). */
  host: string | undefined;
  pid: number | undefined;
  /** "lost": it died (reason says how); its history stays on the page. */
  state: "up" | "lost";
  reason: string | undefined;
  joined: number;
}

/**
 * One resource sample of a runtime (the fields of RuntimeResources, units as
 * there: cpu is percent of one core). Written out, not derived: the page's
 * type check sees only this file and the DOM, not the runtime's modules.
 */
export interface SamplePoint {
  time: number;
  cpu: number;
  rss: number;
  memoryLimit: number;
  sharedMemory: number;
  tasksQueued: number;
  tasksRunning: number;
}

/** The head's tasks, once a second: pending and running then, and what was submitted, done and failed in that second. */
export interface TaskPoint {
  time: number;
  pending: number;
  running: number;
  submitted: number;
  done: number;
  failed: number;
}

export interface TaskTotals {
  submitted: number;
  done: number;
  failed: number;
}

export interface TesseraRow {
  uid: string;
  className: string;
  worker: string | undefined;
  thread: number | undefined;
  /** "released" and "failed" rows leave the page's list. */
  state: "live" | "released" | "failed";
  restarts: number;
}

export interface ErrorRow {
  time: number;
  /** What failed: a task (a method threw, its worker died, ...) or a whole tessera. */
  kind: "task" | "tessera";
  task: string | undefined;
  tessera: string;
  method: string | undefined;
  worker: string | undefined;
  /** The error's class (a remote error's own class name when it came from a worker). */
  name: string;
  message: string;
  /** The stack as the head holds it: a remote error's includes the worker's stack, and each cause's follows. */
  stack: string;
}

export interface LogRow {
  time: number;
  /** The runtime that printed it (`head`, `worker:0:1`, ...). */
  runtime: string;
  /** error, warning, info, perf, debug, stdout or stderr. */
  stream: string;
  text: string;
}

export interface BoardSnapshot extends BoardContent {
  type: "snapshot";
  head: string;
  /** When the board started. */
  started: number;
  /** The `monitorInterval` option: 0 means no resource samples, so no charts of them. */
  monitorInterval: number;
}

/** What a snapshot holds whole and a delta holds as changes (rows new or gone: runtimes lost, tesserae released or failed). */
interface BoardContent {
  runtimes: RuntimeRow[];
  samples: Record<string, SamplePoint[]>;
  tasks: TaskPoint[];
  totals: TaskTotals;
  tesserae: TesseraRow[];
  errors: ErrorRow[];
  logs: LogRow[];
}

export interface BoardDelta extends BoardContent {
  type: "delta";
}

export type BoardMessage = BoardSnapshot | BoardDelta;
