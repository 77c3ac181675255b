/**
 * How the monitor starts nodes: on this machine as local processes, on other
 * hosts through the launcher the options name (ssh for plain machines and as
 * the PBS fallback, an srun step inside a SLURM job, `qrsh -inherit` inside a
 * Grid Engine job where qrsh is found, else ssh).
 */
import type { LaunchedRuntime, Launcher, LaunchSpec } from "../launch/launcher.ts";
import { LocalLauncher } from "../launch/local.ts";
import { canQrsh, QrshLauncher } from "../launch/sge.ts";
import { SrunLauncher } from "../launch/slurm.ts";
import { SshLauncher, splitCommand } from "../launch/ssh.ts";
import type { ResolvedOptions } from "./options.ts";

export class NodeLauncher implements Launcher {
  readonly #local = new LocalLauncher();
  readonly #remote: Launcher | undefined;

  constructor(options: Pick<ResolvedOptions, "launcher" | "sshCommand" | "remoteCommand">) {
    const command = options.remoteCommand.trim() === "" ? undefined : splitCommand(options.remoteCommand);
    if (options.launcher === "slurm") this.#remote = new SrunLauncher({ command });
    else if (options.launcher === "sge" && canQrsh()) this.#remote = new QrshLauncher({ command });
    else if (options.launcher !== "local") this.#remote = new SshLauncher({ sshCommand: options.sshCommand, command });
  }

  launch(spec: LaunchSpec): LaunchedRuntime {
    return spec.host === undefined || this.#remote === undefined ? this.#local.launch(spec) : this.#remote.launch(spec);
  }
}
