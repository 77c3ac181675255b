/**
 * Runtimes on the hosts of a Grid Engine parallel job: `qrsh -inherit HOST
 * CMD` from inside the job (JOB_ID and the cell in the environment), which
 * runs CMD as a task of the job under the host's execd, so the scheduler
 * tracks it and ends it with the job. The parallel environment must allow
 * it (`control_slaves TRUE`). qrsh forwards its stdin to the task, which is
 * how the secret travels and how the task learns that the launching side is
 * gone.
 */
import type { LaunchedRuntime, Launcher, LaunchSpec } from "./launcher.ts";
import { programCommand } from "./program.ts";
import { checkHost, defaultEntryCommand, type RemoteLaunchOptions, RemoteRuntime } from "./remote.ts";
import { shellQuote } from "./remote-protocol.ts";

export interface QrshLauncherOptions extends RemoteLaunchOptions {
  /** The qrsh client (with any wrapper in front). Default `qrsh`. */
  qrshCommand?: string[];
}

/** Whether this process can start tasks of its Grid Engine job (it runs in one, and qrsh is here). */
export function canQrsh(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.JOB_ID && env.PE_HOSTFILE && Bun.which("qrsh"));
}

export class QrshLauncher implements Launcher {
  readonly #options: QrshLauncherOptions;

  constructor(options: QrshLauncherOptions = {}) {
    this.#options = options;
  }

  launch(spec: LaunchSpec): LaunchedRuntime {
    const host = checkHost(spec.host, "qrsh");
    const remote = [...(this.#options.entryCommand ?? defaultEntryCommand()), ...(this.#options.command ?? programCommand()), ...spec.args];
    // As with ssh, the task's command reaches a shell on the host: each word is quoted for it.
    const client = [...(this.#options.qrshCommand ?? ["qrsh"]), "-inherit", host, remote.map(shellQuote).join(" ")];
    return new RemoteRuntime(spec, client, `host ${host} via qrsh`, this.#options.orphanGraceMs);
  }
}
