/**
 * Where start-up time goes: with `MOSAIC_DEBUG_START=<file>` every process of
 * the tree appends a line per step to that file: the wall clock and the time
 * since this process started (so generations line up), pid, who, step, and the
 * process's CPU time so far in ms (all threads), and its minor page faults so far. Off, it costs one check
 * (node:fs is loaded only when on: a monitor or node records its first step
 * before anything else has loaded it).
 */
const file = process.env.MOSAIC_DEBUG_START;

export function startStep(who: string, step: string): void {
  if (!file) return;
  const now = performance.now();
  const { user, system } = process.cpuUsage();
  try {
    const fs = require("node:fs") as typeof import("node:fs");
    // Minor page faults so far (all threads): each one traps to the hypervisor where it keeps page tables of its own.
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    const faults = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7];
    const line = `${(performance.timeOrigin + now).toFixed(1)}\t${now.toFixed(1)}\t${process.pid}\t${who}\t${step}\t${((user + system) / 1000).toFixed(1)}\t${faults}\n`;
    fs.appendFileSync(file, line);
  } catch {} // a trace must never stop a runtime
}
