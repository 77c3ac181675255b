/**
 * The local launcher: child runtimes as processes of this machine (Bun.spawn).
 * A child inherits this process's environment plus the spec's, gets the
 * secret in its environment, and a stdin pipe that is never written: its
 * closing tells the child that its parent is gone (see parent-watch.ts).
 */
import type { Subprocess } from "bun";
import { SECRET_ENV } from "../comms/handshake.ts";
import { InvalidArgumentError } from "../errors.ts";
import { describeHow, LineOutput } from "./_lines.ts";
import type { ChildExit, LaunchedRuntime, Launcher, LaunchSpec } from "./launcher.ts";
import { askToStop, WATCH_PARENT_ENV } from "./parent-watch.ts";
import { programCommand } from "./program.ts";

export interface LocalLauncherOptions {
  /** The program to run, the spec's args after it (or what gives it, at each launch). Default: this program again (programCommand()). */
  command?: string[] | (() => string[]);
}

export class LocalLauncher implements Launcher {
  readonly #command: string[] | (() => string[]) | undefined;

  constructor(options: LocalLauncherOptions = {}) {
    this.#command = options.command;
  }

  launch(spec: LaunchSpec): LaunchedRuntime {
    if (spec.host !== undefined) {
      throw new InvalidArgumentError(`the local launcher starts runtimes on this machine only, not on "${spec.host}": use a launcher for remote hosts`);
    }
    const command = typeof this.#command === "function" ? this.#command() : (this.#command ?? programCommand());
    return new LocalRuntime(spec, [...command, ...spec.args]);
  }
}

class LocalRuntime implements LaunchedRuntime {
  readonly uid: string;
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  readonly #process: Subprocess<"pipe", "pipe", "pipe">;
  readonly #output: LineOutput;
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
    this.#output = new LineOutput(spec.uid, spec.output);
    const outputs = [this.#output.pump(this.#process.stdout, "stdout"), this.#output.pump(this.#process.stderr, "stderr")];
    this.exited = Promise.all([this.#process.exited, ...outputs]).then(() => (this.exit = this.#status()));
  }

  get pid(): number {
    return this.#process.pid;
  }

  async terminate(graceMs = 2000): Promise<ChildExit> {
    if (this.exit) return this.exit;
    askToStop(this.#process);
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
    return `${this.uid} (pid ${this.pid}) ${describeHow(this.exit ?? this.#status(), this.#killedBecause)}${this.#output.describeTail()}`;
  }

  #status(): ChildExit {
    return { code: this.#process.exitCode, signal: this.#process.signalCode?.toString() ?? null };
  }
}
