/**
 * Where start-up time goes: with `MOSAIC_DEBUG_START=<file>` every process of
 * the tree appends a line per step to that file: the wall clock and the time
 * since this process started (so generations line up), pid, who, step, and the
 * process's CPU time so far in ms (all threads). Off, it costs one check
 * (node:fs is loaded only when on: a monitor or node records its first step
 * before anything else has loaded it).
 */
const file = process.env.MOSAIC_DEBUG_START;

export function startStep(who: string, step: string): void {
  if (!file) return;
  const now = performance.now();
  const { user, system } = process.cpuUsage();
  const line = `${(performance.timeOrigin + now).toFixed(1)}\t${now.toFixed(1)}\t${process.pid}\t${who}\t${step}\t${((user + system) / 1000).toFixed(1)}\n`;
  try {
    (require("node:fs") as typeof import("node:fs")).appendFileSync(file, line);
  } catch {} // a trace must never stop a runtime
}
