/**
 * A runtime process this runtime started: its exit, its output (read line by
 * line and handed on), and how to end it.
 */
import type { Subprocess } from "bun";
import type { LogStream } from "../logging/logger.ts";
import { WATCH_PARENT_ENV } from "./program.ts";

export interface ChildExit {
  code: number | null;
  signal: string | null;
}

export type LineSink = (uid: string, stream: LogStream, lines: string[]) => void;

/** Lines of stderr kept to explain a child that dies during start-up. */
const STDERR_TAIL = 20;

export class ChildRuntime {
  readonly uid: string;
  readonly process: Subprocess<"pipe", "pipe", "pipe">;
  /** Resolves when the process has exited and all of its output was read. */
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  readonly stderrTail: string[] = [];

  constructor(uid: string, command: string[], env: Record<string, string>, sink: LineSink) {
    this.uid = uid;
    this.process = Bun.spawn(command, {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...env, [WATCH_PARENT_ENV]: "1" },
    });
    const outputs = [this.#pump(this.process.stdout, "stdout", sink), this.#pump(this.process.stderr, "stderr", sink)];
    this.exited = Promise.all([this.process.exited, ...outputs]).then(() => {
      const exit: ChildExit = { code: this.process.exitCode, signal: this.process.signalCode?.toString() ?? null };
      this.exit = exit;
      return exit;
    });
  }

  get pid(): number {
    return this.process.pid;
  }

  /** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
  async terminate(graceMs = 2000): Promise<ChildExit> {
    if (this.exit) return this.exit;
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.process.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why it was killed, when its parent killed it. */
  #killedBecause: string | undefined;

  /** SIGKILL at once (a stopped or hung process cannot handle SIGTERM), remembering why. */
  kill(reason: string): void {
    if (this.exit) return;
    this.#killedBecause = reason;
    this.process.kill("SIGKILL");
  }

  describeExit(): string {
    const exit = this.exit ?? { code: this.process.exitCode, signal: this.process.signalCode?.toString() ?? null };
    const how = this.#killedBecause
      ? `was killed by its parent: ${this.#killedBecause}`
      : exit.signal
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.code}`;
    const tail = this.stderrTail.length > 0 ? `; last stderr lines:\n  ${this.stderrTail.join("\n  ")}` : "";
    return `${this.uid} (pid ${this.pid}) ${how}${tail}`;
  }

  async #pump(stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr", sink: LineSink): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      const text = partial + decoder.decode(chunk, { stream: true });
      const lines = text.split("\n");
      partial = lines.pop()!;
      if (lines.length > 0) this.#emit(name, lines, sink);
    }
    partial += decoder.decode();
    if (partial.length > 0) this.#emit(name, [partial], sink);
  }

  #emit(name: "stdout" | "stderr", lines: string[], sink: LineSink): void {
    if (name === "stderr") {
      this.stderrTail.push(...lines);
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - STDERR_TAIL));
    }
    sink(this.uid, name, lines);
  }
}
