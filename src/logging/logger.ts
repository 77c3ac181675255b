/**
 * One consola instance per process, tagged with the runtime uid. The head
 * prints every line as `UID<pad>message` (the seeds' style); other runtimes
 * print bare lines that their parent reads from the pipe, prefixes and relays.
 */
import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola/core";
import { InvalidArgumentError } from "../errors.ts";

import { LOG_LEVELS, type LogLevel, type LogStream } from "./levels.ts";

export { LOG_LEVELS, type LogLevel, type LogStream } from "./levels.ts";

/** consola numbers for our levels: perf sits between info and debug. */
export const CONSOLA_LEVEL: Record<LogLevel, number> = { error: 0, warning: 1, info: 3, perf: 4, debug: 5 };
const CONSOLA_TYPE = { error: "error", warning: "warn", info: "info", perf: "debug", debug: "trace" } as const;
const STREAM_OF_TYPE: Record<string, LogStream> = { error: "error", warn: "warning", info: "info", debug: "perf", trace: "debug" };

export function parseLogLevel(value: string | undefined, fallback: LogLevel = "info"): LogLevel {
  if (value === undefined || value === "") return fallback;
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new InvalidArgumentError(`unknown log level "${value}": use one of ${LOG_LEVELS.join(", ")}`);
}

/** `WORKER:0:0      ` — the uid in capitals, padded as the original does. */
export function logPrefix(uid: string): string {
  return `${uid.toUpperCase().padEnd(15)} `;
}

export interface RuntimeLogger {
  readonly uid: string;
  readonly consola: ConsolaInstance;
  error(message: string): void;
  warning(message: string): void;
  info(message: string): void;
  perf(message: string): void;
  debug(message: string): void;
  /** A line that another runtime printed, shown with that runtime's prefix. */
  remote(uid: string, stream: LogStream, message: string): void;
}

function isErrorStream(stream: LogStream): boolean {
  return stream === "error" || stream === "warning" || stream === "stderr";
}

/** Prints `UID  message`, errors and warnings to stderr. */
export function prefixedReporter(write = writeToProcess): ConsolaReporter {
  return {
    log(record: LogObject) {
      const stream = (record.stream as LogStream | undefined) ?? STREAM_OF_TYPE[record.type] ?? "info";
      const text = record.args.map((part) => (typeof part === "string" ? part : Bun.inspect(part))).join(" ");
      write(stream, `${logPrefix(record.tag)}${text}\n`);
    },
  };
}

/** Prints bare lines; the parent runtime adds the prefix when it relays them. */
export function bareReporter(write = writeToProcess): ConsolaReporter {
  return {
    log(record: LogObject) {
      const stream = STREAM_OF_TYPE[record.type] ?? "info";
      const text = record.args.map((part) => (typeof part === "string" ? part : Bun.inspect(part))).join(" ");
      write(stream, `${text}\n`);
    },
  };
}

function writeToProcess(stream: LogStream, text: string): void {
  (isErrorStream(stream) ? process.stderr : process.stdout).write(text);
}

export function createLogger(uid: string, level: LogLevel, reporter: ConsolaReporter): RuntimeLogger {
  const instance = createConsola({ level: CONSOLA_LEVEL[level], reporters: [reporter], defaults: { tag: uid } });
  const at = (stream: LogLevel) => (message: string) => instance[CONSOLA_TYPE[stream]](message);
  return {
    uid,
    consola: instance,
    error: at("error"),
    warning: at("warning"),
    info: at("info"),
    perf: at("perf"),
    debug: at("debug"),
    remote(from, stream, message) {
      // Remote lines were already filtered by the level of the runtime that printed them.
      for (const reporterItem of instance.options.reporters) {
        reporterItem.log({ tag: from, stream, args: [message], type: "log", level: 0, date: new Date() }, { options: instance.options });
      }
    },
  };
}
