/**
 * What `--log-level perf` and `debug` add to the log: lines made from the
 * event surface, shown under the runtime they happened on. perf: transfers
 * (size, route, from where), spills, memory refused; debug: also where each
 * tessera was placed, retries and restarts. The head subscribes only at those
 * levels, so at info the workers produce none of these events.
 */
import type { LogLevel } from "../logging/logger.ts";
import { formatBytes } from "./_format.ts";
import type { EventOf, EventStream, RuntimeEventType } from "./events.ts";

const PERF_TYPES = ["transfer", "spill", "memory.pressure"] as const satisfies RuntimeEventType[];
const DEBUG_TYPES = [...PERF_TYPES, "tessera.created", "tessera.restarting", "task.retried"] as const satisfies RuntimeEventType[];

type LoggedEvent = EventOf<(typeof DEBUG_TYPES)[number]>;

/** Prints a line as `runtime`'s, at `level`. */
export type EventLinePrinter = (runtime: string, level: "perf" | "debug", text: string) => void;

/** ", 12.0 MiB on the wire (compressed)" when a transfer's payloads came compressed. */
function compressedNote(event: EventOf<"transfer">): string {
  return event.wireBytes !== undefined && event.wireBytes < event.bytes ? `, ${formatBytes(event.wireBytes)} on the wire (compressed)` : "";
}

/** The line for one event: [runtime it concerns, level, text]. */
export function eventLine(event: LoggedEvent): [string, "perf" | "debug", string] {
  switch (event.type) {
    case "transfer":
      return [event.to, "perf", `received ${formatBytes(event.bytes)} from ${event.from} via ${event.route === "shm" ? "shared memory" : "TCP"}${compressedNote(event)}`];
    case "spill":
      return [event.runtime, "perf", event.direction === "out" ? `spilled ${formatBytes(event.bytes)} to disk` : `read ${formatBytes(event.bytes)} back from disk`];
    case "memory.pressure":
      return [event.runtime, "perf", `refused ${formatBytes(event.requested)}: over its memory budget of ${formatBytes(event.limit)}`];
    case "tessera.created":
      return ["head", "debug", `placed ${event.className} ${event.tessera} on ${event.worker} thread ${event.thread}${event.restarts ? ` (restart ${event.restarts})` : ""}`];
    case "tessera.restarting":
      return ["head", "debug", `restarting ${event.className} ${event.tessera} (restart ${event.restarts}, ${event.replayed} calls to send again): ${event.error.message}`];
    case "task.retried":
      return ["head", "debug", `retrying ${event.tessera}.${event.method}() ${event.task} (attempt ${event.attempt}): ${event.error.message}`];
  }
}

/** Subscribes to the events that `level` shows (none above perf); returns how to stop. */
export function logEvents(events: EventStream, level: LogLevel, print: EventLinePrinter): () => void {
  const types = level === "debug" ? DEBUG_TYPES : level === "perf" ? PERF_TYPES : [];
  const stops = types.map((type) =>
    events.on(type, (event) => {
      const [runtime, at, text] = eventLine(event as LoggedEvent);
      print(runtime, at, text);
    }),
  );
  return () => {
    for (const stop of stops) stop();
  };
}
