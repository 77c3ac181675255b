/**
 * Runtimes on other hosts over ssh. The ssh command is configurable
 * (`ssh -F my_config`, a wrapper) because clusters differ; it is called as
 * `SSH HOST REMOTE-COMMAND`, with no terminal, so the remote command's stdin
 * is the session's (remote-protocol.ts: the secret travels there). The program
 * must be at the same path on every host, or be given as `command`.
 */
import { InvalidArgumentError } from "../errors.ts";
import type { LaunchedRuntime, Launcher, LaunchSpec } from "./launcher.ts";
import { programCommand } from "./program.ts";
import { checkHost, defaultEntryCommand, type RemoteLaunchOptions, RemoteRuntime } from "./remote.ts";
import { shellQuote } from "./remote-protocol.ts";

export interface SshLauncherOptions extends RemoteLaunchOptions {
  /** The ssh client and its options, as words or one string split like a shell would (quotes kept together). Default `ssh`. */
  sshCommand?: string[] | string;
}

export class SshLauncher implements Launcher {
  readonly #ssh: string[];
  readonly #options: RemoteLaunchOptions;

  constructor(options: SshLauncherOptions = {}) {
    this.#ssh = typeof options.sshCommand === "string" ? splitCommand(options.sshCommand) : (options.sshCommand ?? ["ssh"]);
    if (this.#ssh.length === 0) throw new InvalidArgumentError("the ssh command is empty");
    this.#options = options;
  }

  launch(spec: LaunchSpec): LaunchedRuntime {
    const host = checkHost(spec.host, "ssh");
    const remote = [...(this.#options.entryCommand ?? defaultEntryCommand()), ...(this.#options.command ?? programCommand()), ...spec.args];
    // ssh joins its arguments into one string for the remote login shell: each word is quoted for it.
    const client = [...this.#ssh, host, remote.map(shellQuote).join(" ")];
    return new RemoteRuntime(spec, client, `host ${host} via ${this.#ssh[0]}`, this.#options.orphanGraceMs);
  }
}

/** Splits a command string into words as a POSIX shell would for plain words and quotes (no expansions). */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < command.length) word = (word ?? "") + command[++i]!;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < command.length) {
      word = (word ?? "") + command[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) throw new InvalidArgumentError(`the command "${command}" has an unclosed ${quote}`);
  if (word !== undefined) words.push(word);
  return words;
}
