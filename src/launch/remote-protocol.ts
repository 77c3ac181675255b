/**
 * What a remote launch (ssh, srun, qrsh) says over its session, besides the
 * runtime's own output. The remote command is the launch entry
 * (remote-entry.ts) in front of the program; the session's stdin carries
 *
 *   1. the preamble: one JSON line with the runtime's environment, the
 *      secret and a nonce, so neither appears on a command line (`ps` on
 *      either host, a batch system's records) or in a file;
 *   2. then control lines: `term` (SIGTERM the runtime) and `kill` (SIGKILL),
 *      because a signal to the local ssh client never reaches the remote
 *      process;
 *   3. then EOF: the launching side is gone (it closed the session, or died
 *      and the kernel closed it). The entry closes the runtime's own stdin,
 *      so the runtime's parent watch fires as for a local child.
 *
 * Back on stderr, after the runtime's last byte, the entry writes one exit
 * line naming the nonce: ssh reports a remote death by signal as code 255
 * and srun as 128+n, and the contract needs the signal itself.
 */
import type { ChildExit } from "./launcher.ts";

export interface LaunchPreamble {
  env: Record<string, string>;
  secret: string;
  /** Marks the exit line, so the runtime's own output cannot forge one. */
  nonce: string;
  /** Working directory to run in (the launching side's: a shared file system), if it exists there. */
  cwd?: string;
  /** After EOF, how long the runtime may take to end by itself before it is killed. */
  orphanGraceMs: number;
}

export type ControlWord = "term" | "kill";

const EXIT_MARK = "\u001emosaic-launch-exit";

/** Names a shell, ssh's remote side or a scheduler would accept, so no env entry can be misread. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function encodePreamble(preamble: LaunchPreamble): string {
  for (const name of Object.keys(preamble.env)) {
    if (!ENV_NAME.test(name)) throw new TypeError(`"${name}" is not an environment variable name`);
  }
  return `${JSON.stringify(preamble)}\n`;
}

export function decodePreamble(line: string): LaunchPreamble {
  const value = JSON.parse(line) as LaunchPreamble;
  if (typeof value !== "object" || value === null || typeof value.secret !== "string" || typeof value.nonce !== "string" || typeof value.env !== "object") {
    throw new TypeError("the launch preamble is not {env, secret, nonce}");
  }
  return value;
}

export function exitLine(nonce: string, exit: ChildExit): string {
  return `${EXIT_MARK} ${nonce} ${JSON.stringify(exit)}`;
}

/** The exit an exit line reports, if `line` is the one of this nonce. */
export function parseExitLine(line: string, nonce: string): ChildExit | undefined {
  const prefix = `${EXIT_MARK} ${nonce} `;
  if (!line.startsWith(prefix)) return undefined;
  const exit = JSON.parse(line.slice(prefix.length)) as ChildExit;
  return { code: exit.code ?? null, signal: exit.signal ?? null };
}

/** One word for a POSIX shell (ssh hands the remote command to the user's login shell). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
