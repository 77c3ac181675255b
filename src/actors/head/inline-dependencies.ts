/**
 * Dependency values the head sends with a call (as Ray inlines small results
 * into the specs of the tasks that take them): a call whose dependencies are
 * done, with small results that came to the head with their completions, goes
 * straight to its tessera's thread with their values, and never through the
 * worker's main thread, which would fetch them from the workers that hold them
 * (and those would first ask their threads for the reports they hold back).
 */
import type { InlineValue } from "../wire/call-message.ts";
import type { ReferenceLike } from "../wire/value-codec.ts";
import type { ActorClient } from "./actor-client.ts";
import { DoneMarker, inlineResultOf, TaskOutput, TaskProxy } from "./task-proxy.ts";

/**
 * What a call with references needs to go straight to its thread: the values
 * of its dependencies (uid and encoded result, each task once; none for
 * `outputs.done`). Undefined: it goes through the worker's main thread, as a
 * warehouse object, a large result (left on its worker), a result that names
 * tesserae or objects (the head holds those for it: passed on by its worker,
 * as before) or a task not done yet would.
 */
export function inlineDependencies(references: readonly ReferenceLike[], client: ActorClient): InlineValue[] | undefined {
  let values: InlineValue[] | undefined;
  for (const reference of references) {
    const task = reference instanceof TaskOutput || reference instanceof DoneMarker ? reference.task : reference;
    if (!(task instanceof TaskProxy)) return undefined;
    const state = task.state;
    if (state !== "done") return undefined; // pending: fetched on the worker; failed: the caller fails the call (failedDependency)
    if (reference instanceof DoneMarker) continue; // ordering only: no value
    const inline = inlineResultOf(task);
    if (!inline || task.released || client.nested.namesHeld(task.id)) return undefined;
    values ??= [];
    const uid = task.uid;
    if (!values.some(([known]) => known === uid)) values.push([uid, inline]);
  }
  return values ?? [];
}
