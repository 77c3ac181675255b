/**
 * The runtime's log levels, apart from the logger: every runtime parses its
 * options (which name them) before its children can start, and the logger
 * brings consola with it.
 */
export const LOG_LEVELS = ["error", "warning", "info", "perf", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Streams a line can travel on: the runtime's own levels plus raw process output. */
export type LogStream = LogLevel | "stdout" | "stderr";
