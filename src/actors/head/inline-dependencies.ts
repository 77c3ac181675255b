/**
 * Dependency values the head sends with a call (as Ray inlines small results
 * into the specs of the tasks that take them): a call whose dependencies are
 * done, with small results that came to the head with their completions, goes
 * straight to its tessera's thread with their values, and never through the
 * worker's main thread, which would fetch them from the workers that hold them
 * (and those would first ask their threads for the reports they hold back).
 * A dependency sent straight to a thread and not done yet will come here with
 * its result: its dependents wait at the head for it (and for one not sent
 * yet, which waits here itself). Waits never form a cycle: each is for a task
 * made before the waiting call (its argument, or an earlier call of its tessera).
 */
import type { InlineValue } from "../wire/call-message.ts";
import type { ReferenceLike } from "../wire/value-codec.ts";
import type { ActorClient } from "./actor-client.ts";
import { DIRECT, DoneMarker, FIRST_ID, inlineValueOf, SENT_TO, type SettleWaiter, TaskOutput, TaskProxy, WAITING } from "./task-proxy.ts";

/**
 * What a call with references needs to go straight to its thread: the values
 * of its dependencies (uid and encoded result, each task once; none for
 * `outputs.done`), or the task to wait for first. Undefined: it goes through
 * the worker's main thread, as a warehouse object, a large result (left on its
 * worker), a result that names tesserae or objects (the head holds those for
 * it: passed on by its worker, as before) or a task sent through its worker
 * (whose result stays there) would.
 */
export function inlineDependencies(references: readonly ReferenceLike[], client: ActorClient): InlineValue[] | TaskProxy<any> | undefined {
  let values: InlineValue[] | undefined;
  let wait: TaskProxy<any> | undefined;
  for (const reference of references) {
    const task = reference instanceof TaskOutput || reference instanceof DoneMarker ? reference.task : reference;
    if (!(task instanceof TaskProxy)) return undefined;
    const state = task.state;
    if (state === "pending" || state === "running") {
      // Sent through its worker: its result stays there. Sent straight to its thread, its completion comes to
      // the head with its result if that is small; not sent yet (it waits here too), most likely so.
      if (task[SENT_TO] !== undefined && !task[DIRECT]) return undefined;
      wait ??= task;
      continue;
    }
    if (state !== "done") return undefined; // failed: the caller fails the call (failedDependency)
    if (reference instanceof DoneMarker) continue; // ordering only: no value
    if (task.released || client.nested.namesHeld(task.id)) return undefined;
    // Named by its wire id, which the reference in the arguments carries too (no uid to make, write and read),
    // unless it was retried: the arguments may then name it by an id it no longer has, and only its uid is sure.
    const id = task.id;
    const key = id === task[FIRST_ID] ? id : task.uid;
    if (values && named(values, key)) continue;
    const value = inlineValueOf(task, key);
    if (!value) return undefined;
    if (!values) values = [value];
    else values.push(value);
  }
  return wait ?? values ?? [];
}

/** Whether `values` has the value named `key` already (a loop: a closure per call cost more). */
function named(values: InlineValue[], key: string | number): boolean {
  for (const [known] of values) if (known === key) return true;
  return false;
}

/** `waiter` is flushed once `task` settles (once, however often it asks). */
export function flushWhenSettled(task: TaskProxy<any>, waiter: SettleWaiter): void {
  const waiting = task[WAITING];
  if (!waiting) task[WAITING] = [waiter];
  else if (!waiting.includes(waiter)) waiting.push(waiter);
}
