/**
 * The launcher seam: how a runtime starts a child runtime, wherever it runs.
 * The cluster layer knows only this interface; each way of starting processes
 * (this machine, ssh, srun, qsub...) is one implementation, and all of them
 * pass the same contract tests (test/launch/launcher-contract.ts).
 */
import type { LogStream } from "../logging/logger.ts";

export interface ChildExit {
  code: number | null;
  signal: string | null;
}

/** Receives a launched runtime's output, line by line, in order within each stream. */
export type LineSink = (uid: string, stream: LogStream, lines: string[]) => void;

/** What to start. The launcher decides how: which command runs the program there, how env and secret travel. */
export interface LaunchSpec {
  uid: string;
  /** The role's own arguments (flags); the launcher puts the program command, as resolved where it runs, in front. */
  args: string[];
  /**
   * Environment the runtime needs, passed explicitly: a runtime on another
   * machine (ssh, srun) does not inherit this process's environment.
   */
  env: Record<string, string>;
  /**
   * The cluster secret, apart from `env` so that every launcher hands it over
   * out of sight: never on a command line (ps, a batch system's job record).
   */
  secret: string;
  /** Machine to run on; undefined: this machine. */
  host?: string;
  output: LineSink;
}

/** A runtime a launcher started. */
export interface LaunchedRuntime {
  readonly uid: string;
  /** Its process id, where the launcher knows one (on its host). */
  readonly pid: number | undefined;
  /** Resolves when the runtime has ended and all of its output has reached the sink. */
  readonly exited: Promise<ChildExit>;
  /** Set once `exited` resolved. */
  readonly exit: ChildExit | undefined;
  /** Asks it to stop (SIGTERM, then SIGCONT: a stopped runtime acts on it too), and ends it (SIGKILL) if it has not after `graceMs`. */
  terminate(graceMs?: number): Promise<ChildExit>;
  /** Ends it at once, remembering why (a stopped or hung process cannot handle a polite request). */
  kill(reason: string): void;
  /** How it ended, for logs and errors: uid, pid, signal or code or the kill's reason, last stderr lines. */
  describeExit(): string;
}

export interface Launcher {
  /** Starts a runtime; an unusable spec (a host this launcher cannot reach) throws a typed error. */
  launch(spec: LaunchSpec): LaunchedRuntime;
}
