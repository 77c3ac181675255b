/**
 * Where start-up time goes: with `MOSAIC_DEBUG_START=<file>` every process of
 * the tree appends a line per step to that file (time since this process
 * started and the wall clock, so generations line up). Off, it costs one check
 * (node:fs is loaded only when on: a monitor or node records its first step
 * before anything else has loaded it).
 */
const file = process.env.MOSAIC_DEBUG_START;

export function startStep(who: string, step: string): void {
  if (!file) return;
  const now = performance.now();
  const line = `${(performance.timeOrigin + now).toFixed(1)}\t${now.toFixed(1)}\t${process.pid}\t${who}\t${step}\n`;
  try {
    (require("node:fs") as typeof import("node:fs")).appendFileSync(file, line);
  } catch {} // a trace must never stop a runtime
}
