/**
 * The local launcher: child runtimes as processes of this machine (Bun.spawn).
 * A child inherits this process's environment plus the spec's, gets the
 * secret in its environment, and a stdin pipe that is never written: its
 * closing tells the child that its parent is gone (see parent-watch.ts).
 */
import type { Subprocess } from "bun";
import { SECRET_ENV } from "../comms/handshake.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { ChildExit, LaunchedRuntime, Launcher, LaunchSpec, LineSink } from "./launcher.ts";
import { WATCH_PARENT_ENV } from "./parent-watch.ts";
import { programCommand } from "./program.ts";

/** Lines of stderr kept to explain a child that dies during start-up. */
const STDERR_TAIL = 20;

export interface LocalLauncherOptions {
  /** The program to run, the spec's args after it. Default: this program again (programCommand()). */
  command?: string[];
}

export class LocalLauncher implements Launcher {
  readonly #command: string[] | undefined;

  constructor(options: LocalLauncherOptions = {}) {
    this.#command = options.command;
  }

  launch(spec: LaunchSpec): LaunchedRuntime {
    if (spec.host !== undefined) {
      throw new InvalidArgumentError(`the local launcher starts runtimes on this machine only, not on "${spec.host}": use a launcher for remote hosts`);
    }
    return new LocalRuntime(spec, [...(this.#command ?? programCommand()), ...spec.args]);
  }
}

class LocalRuntime implements LaunchedRuntime {
  readonly uid: string;
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  readonly #process: Subprocess<"pipe", "pipe", "pipe">;
  readonly #stderrTail: string[] = [];
  /** Why it was killed, when its parent killed it. */
  #killedBecause: string | undefined;

  constructor(spec: LaunchSpec, command: string[]) {
    this.uid = spec.uid;
    this.#process = Bun.spawn(command, {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...spec.env, [SECRET_ENV]: spec.secret, [WATCH_PARENT_ENV]: "1" },
    });
    const outputs = [this.#pump(this.#process.stdout, "stdout", spec.output), this.#pump(this.#process.stderr, "stderr", spec.output)];
    this.exited = Promise.all([this.#process.exited, ...outputs]).then(() => (this.exit = this.#status()));
  }

  get pid(): number {
    return this.#process.pid;
  }

  async terminate(graceMs = 2000): Promise<ChildExit> {
    if (this.exit) return this.exit;
    this.#process.kill("SIGTERM");
    const timer = setTimeout(() => this.#process.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(reason: string): void {
    if (this.exit) return;
    this.#killedBecause = reason;
    this.#process.kill("SIGKILL");
  }

  describeExit(): string {
    const exit = this.exit ?? this.#status();
    const how = this.#killedBecause
      ? `was killed by its parent: ${this.#killedBecause}`
      : exit.signal
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.code}`;
    const tail = this.#stderrTail.length > 0 ? `; last stderr lines:\n  ${this.#stderrTail.join("\n  ")}` : "";
    return `${this.uid} (pid ${this.pid}) ${how}${tail}`;
  }

  #status(): ChildExit {
    return { code: this.#process.exitCode, signal: this.#process.signalCode?.toString() ?? null };
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
      this.#stderrTail.push(...lines);
      this.#stderrTail.splice(0, Math.max(0, this.#stderrTail.length - STDERR_TAIL));
    }
    sink(this.uid, name, lines);
  }
}
