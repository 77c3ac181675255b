/**
 * A runtime on another host, started through a local client process (ssh,
 * srun, qrsh) whose remote command is the launch entry in front of the
 * program (remote-protocol.ts). The client's stdin carries the preamble and
 * control lines; its stdout and stderr are the runtime's output.
 */
import type { Subprocess } from "bun";
import { resolve } from "node:path";
import { SECRET_ENV } from "../comms/handshake.ts";
import { InvalidArgumentError } from "../errors.ts";
import { describeHow, LineOutput } from "./_lines.ts";
import type { ChildExit, LaunchedRuntime, LaunchSpec } from "./launcher.ts";
import { isCompiledBinary } from "./program.ts";
import { type ControlWord, encodePreamble, parseExitLine } from "./remote-protocol.ts";

/** After a `kill` line, how long the remote side has to report before the local client is killed (a silent network). */
const KILL_BOUND_MS = 2000;
/** A runtime whose launching side vanished gets this long to stop its own children before the entry kills it. */
export const DEFAULT_ORPHAN_GRACE_MS = 10_000;

export interface RemoteLaunchOptions {
  /** The program as it is started on the remote host, the spec's args after it. Default: this program (same path there). */
  command?: string[];
  /** The launch entry as started on the remote host. Default: this Bun and src/launch/remote-main.ts. */
  entryCommand?: string[];
  orphanGraceMs?: number;
}

/** The compiled binary's first argument that makes it the launch entry (src/cli/main.ts). */
export const LAUNCH_ENTRY_FLAG = "--launch-entry";

/** The entry's command when the remote host has this program at the same path (a shared file system). */
export function defaultEntryCommand(): string[] {
  if (isCompiledBinary()) return [process.execPath, LAUNCH_ENTRY_FLAG];
  return [process.execPath, resolve(import.meta.dir, "remote-main.ts")];
}

/** Host names a client's command line cannot take for an option or a shell word. */
export function checkHost(host: string | undefined, launcher: string): string {
  if (host === undefined) throw new InvalidArgumentError(`the ${launcher} launcher starts runtimes on other hosts: the spec names none`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.:@\[\]-]*$/.test(host)) throw new InvalidArgumentError(`"${host}" is not a host name the ${launcher} launcher can use`);
  return host;
}

export class RemoteRuntime implements LaunchedRuntime {
  readonly uid: string;
  readonly pid = undefined;
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  readonly #client: Subprocess<"pipe", "pipe", "pipe">;
  readonly #output: LineOutput;
  readonly #where: string;
  #remoteExit: ChildExit | undefined;
  #killedBecause: string | undefined;
  #forced = false;

  /** `clientCommand` runs the entry on the host; `where` says which, via what, for messages. */
  constructor(spec: LaunchSpec, clientCommand: string[], where: string, orphanGraceMs = DEFAULT_ORPHAN_GRACE_MS) {
    this.uid = spec.uid;
    this.#where = where;
    const nonce = crypto.randomUUID();
    const preamble = encodePreamble({ env: spec.env, secret: spec.secret, nonce, cwd: process.cwd(), orphanGraceMs });
    // The client (srun forwards its environment) must not carry a secret of this process's own either.
    const env = { ...process.env };
    delete env[SECRET_ENV];
    this.#client = Bun.spawn(clientCommand, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env });
    this.#send(preamble);
    this.#output = new LineOutput(spec.uid, spec.output);
    const takeExitLine = (lines: string[]) =>
      lines.filter((line) => {
        const exit = parseExitLine(line, nonce);
        if (exit) this.#remoteExit = exit;
        return exit === undefined;
      });
    const outputs = [this.#output.pump(this.#client.stdout, "stdout"), this.#output.pump(this.#client.stderr, "stderr", takeExitLine)];
    this.exited = Promise.all([this.#client.exited, ...outputs]).then(() => (this.exit = this.#status()));
  }

  /** The local client's pid (ssh, srun): killing it must end the runtime too. */
  get clientPid(): number {
    return this.#client.pid;
  }

  async terminate(graceMs = 2000): Promise<ChildExit> {
    if (this.exit) return this.exit;
    this.#control("term");
    const timer = setTimeout(() => this.#force(), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(reason: string): void {
    if (this.exit) return;
    this.#killedBecause = reason;
    this.#force();
  }

  describeExit(): string {
    return `${this.uid} (${this.#where}, client pid ${this.#client.pid}) ${describeHow(this.exit ?? this.#status(), this.#killedBecause)}${this.#output.describeTail()}`;
  }

  #status(): ChildExit {
    if (this.#remoteExit) return this.#remoteExit;
    // No word from the entry: the session failed (unreachable host, refused key) or was cut.
    if (this.#forced) return { code: null, signal: "SIGKILL" };
    return { code: this.#client.signalCode ? null : this.#client.exitCode, signal: this.#client.signalCode?.toString() ?? null };
  }

  /** SIGKILL on the host; if the session does not carry that (a silent network), the client goes. */
  #force(): void {
    if (this.#forced) return;
    this.#forced = true;
    this.#control("kill");
    try {
      this.#client.stdin.end();
    } catch {}
    setTimeout(() => this.#client.kill("SIGKILL"), KILL_BOUND_MS).unref();
  }

  #control(word: ControlWord): void {
    this.#send(`${word}\n`);
  }

  #send(text: string): void {
    try {
      this.#client.stdin.write(text);
      this.#client.stdin.flush();
    } catch {
      // the client is gone; its exit says how
    }
  }
}
