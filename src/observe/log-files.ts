/**
 * Per-run log files, as the original's `mosaic-workspace/`: each run writes
 * `<workspace>/<run id>/` with one file per runtime (`head.log`,
 * `monitor.log`, `node-0.log`, `worker-0-1.log`: that runtime's lines) and
 * `mosaic.log`, every line of the run with its runtime's prefix. Lines are
 * timestamped and hold every level down to the configured one (children
 * filter before they send). The head writes all of them from the lines it
 * prints or relays, so a remote host needs no shared file system. Earlier
 * runs' folders are left as they are.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ConsolaReporter, LogObject } from "consola/core";
import { logPrefix, type LogStream } from "../logging/logger.ts";

/** Lines wait this long at most before they reach their files (a run that dies loses no more than that). */
const FLUSH_MS = 200;

const STREAM_OF_TYPE: Record<string, LogStream> = { error: "error", warn: "warning", info: "info", debug: "perf", trace: "debug" };

/** `20250102-030405-ab12cd`: when the run started, and a part of its cluster id so that two runs of one second differ. */
export function runId(clusterId: string, date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  return `${stamp}-${clusterId.slice(0, 6)}`;
}

/** `worker:0:1` → `worker-0-1.log`. */
export function logFileName(uid: string): string {
  return `${uid.replaceAll(/[^A-Za-z0-9_.-]/g, "-")}.log`;
}

export class RunLogFiles {
  /** The run's folder (absolute). */
  readonly folder: string;
  readonly #pending = new Map<string, string[]>();
  #timer: Timer | undefined;
  readonly #onExit = () => this.flush();

  constructor(workspace: string, id: string) {
    this.folder = resolve(workspace, id);
    mkdirSync(this.folder, { recursive: true });
    process.on("exit", this.#onExit);
  }

  /** A consola reporter for the head's logger: it sees the head's lines and every relayed one. */
  reporter(): ConsolaReporter {
    return {
      log: (record: LogObject) => {
        const stream = (record.stream as LogStream | undefined) ?? STREAM_OF_TYPE[record.type] ?? "info";
        const text = record.args.map((part) => (typeof part === "string" ? part : Bun.inspect(part))).join(" ");
        this.write(record.tag || "head", stream, text, record.date ?? new Date());
      },
    };
  }

  write(uid: string, stream: LogStream, text: string, date = new Date()): void {
    const time = date.toISOString();
    const level = stream.padEnd(7);
    const lines = text.replace(/\n$/, "").split("\n");
    for (const line of lines) {
      this.#add(logFileName(uid), `${time} ${level} ${line}\n`);
      this.#add("mosaic.log", `${time} ${level} ${logPrefix(uid)}${line}\n`);
    }
    this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  #add(file: string, line: string): void {
    let lines = this.#pending.get(file);
    if (!lines) this.#pending.set(file, (lines = []));
    lines.push(line);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [file, lines] of this.#pending) {
      try {
        appendFileSync(join(this.folder, file), lines.join(""));
      } catch {} // a removed workspace must not break the run
    }
    this.#pending.clear();
  }

  close(): void {
    this.flush();
    process.off("exit", this.#onExit);
  }
}
