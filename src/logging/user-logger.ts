/**
 * `mosaic.logger`: logging for user code. In a tessera method its lines go
 * to the head, shown with the worker's prefix (`WORKER:0:1  ...`) and written
 * to the run's log files; on the head they go through the head's own logger.
 * Lines below the runtime's `logLevel` are dropped where they are made.
 *
 * @example
 * @tessera class Solver {
 *   step(i: number) { mosaic.logger.info(`step ${i}`); }
 * }
 */
import { CONSOLA_LEVEL, type LogLevel } from "./logger.ts";

export interface UserLogger {
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
  /** Performance notes: shown from `logLevel: "perf"` down. */
  perf(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

type Sink = (level: LogLevel, text: string) => void;

let sink: Sink = (level, text) => (level === "error" || level === "warning" ? console.error : console.log)(text);
let threshold = CONSOLA_LEVEL.info;

/** Where this process's (or thread's) user lines go, and the consola level number below which they are dropped. */
export function setUserLogSink(to: Sink, level: number): void {
  sink = to;
  threshold = level;
}

function at(level: LogLevel): (...args: unknown[]) => void {
  return (...args) => {
    if (CONSOLA_LEVEL[level] > threshold) return;
    // node:util's format loads its inspector (~5-15 ms): every process imports this module, few log.
    sink(level, (require("node:util") as typeof import("node:util")).format(...args));
  };
}

export const logger: UserLogger = {
  error: at("error"),
  warn: at("warning"),
  info: at("info"),
  perf: at("perf"),
  debug: at("debug"),
};
