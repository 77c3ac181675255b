/**
 * The profiler behind `init({ profile: "out.json" })` and `mosaic run
 * --profile out.json`: while the run lasts it listens on the event surface
 * (tasks submitted, started, ended; transfers; resource samples; runtimes
 * and tesserae as they appear) and at stop writes the timeline as Chrome
 * Trace Event JSON (see trace.ts). It only exists while profiling, so a run
 * without it pays nothing; with it, every call sends a task.started event up.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { EventOf, EventStream, RuntimeEventType } from "./events.ts";
import { buildTrace, type ProfiledTask, type Profile } from "./trace.ts";

const TYPES: RuntimeEventType[] = [
  "runtime.joined",
  "tessera.created",
  "task.submitted",
  "task.started",
  "task.done",
  "task.failed",
  "transfer",
  "resources",
];

export class Profiler {
  readonly path: string;
  readonly #profile: Profile = { runtimes: [], tesserae: new Map(), tasks: [], transfers: [], samples: [] };
  /** Tasks not ended yet, by wire id. */
  readonly #open = new Map<number, Partial<ProfiledTask>>();
  readonly #stops: (() => void)[] = [];

  /** Starts listening on `events` now; `path` is written by `stop()`. */
  constructor(events: EventStream, path: string) {
    this.path = resolve(path);
    for (const type of TYPES) this.#stops.push(events.on(type, (event) => this.#on(event as EventOf<typeof type>)));
  }

  #task(id: number): Partial<ProfiledTask> {
    let task = this.#open.get(id);
    if (!task) this.#open.set(id, (task = {}));
    return task;
  }

  #on(event: EventOf<(typeof TYPES)[number]>): void {
    const profile = this.#profile;
    switch (event.type) {
      case "runtime.joined":
        profile.runtimes.push({ uid: event.uid, role: event.role, pid: event.pid });
        return;
      case "tessera.created":
        profile.tesserae.set(event.tessera, { className: event.className, worker: event.worker, thread: event.thread });
        return;
      case "task.submitted":
        Object.assign(this.#task(event.id), { argumentBytes: event.argumentBytes });
        return;
      case "task.started":
        Object.assign(this.#task(event.id), { worker: event.worker, thread: event.thread, started: event.time });
        return;
      case "task.done":
      case "task.failed": {
        const open = this.#open.get(event.id) ?? {};
        this.#open.delete(event.id);
        profile.tasks.push({
          task: event.task,
          tessera: event.tessera,
          method: event.method,
          worker: open.worker ?? event.worker,
          thread: open.thread,
          submitted: event.submitted,
          started: open.started ?? event.started,
          ended: event.ended,
          argumentBytes: open.argumentBytes ?? 0,
          resultBytes: event.type === "task.done" ? event.resultBytes : undefined,
          error: event.type === "task.failed" ? event.error.message : undefined,
        });
        return;
      }
      case "transfer":
        profile.transfers.push(event);
        return;
      case "resources":
        profile.samples.push(event);
        return;
    }
  }

  /** Stops listening and writes the trace file; resolves with the number of tasks in it. */
  stop(): number {
    for (const stop of this.#stops.splice(0)) stop();
    writeFileSync(this.path, JSON.stringify(buildTrace(this.#profile)));
    return this.#profile.tasks.length;
  }
}
