/**
 * Runtimes on the hosts of a SLURM allocation: one `srun` step per host
 * (one task on one node), run from inside the allocation (SLURM_JOB_ID in
 * the environment) so the scheduler tracks the runtime, accounts for it and
 * ends it with the job. srun forwards its stdin to the task, which is how the
 * secret travels and how the task learns that the launching side is gone.
 */
import type { LaunchedRuntime, Launcher, LaunchSpec } from "./launcher.ts";
import { programCommand } from "./program.ts";
import { checkHost, defaultEntryCommand, type RemoteLaunchOptions, RemoteRuntime } from "./remote.ts";

export interface SrunLauncherOptions extends RemoteLaunchOptions {
  /** The srun client (with any wrapper in front). Default `srun`. */
  srunCommand?: string[];
  /** More srun options (an account, a constraint), before the program. */
  srunArgs?: string[];
}

export class SrunLauncher implements Launcher {
  readonly #options: SrunLauncherOptions;

  constructor(options: SrunLauncherOptions = {}) {
    this.#options = options;
  }

  launch(spec: LaunchSpec): LaunchedRuntime {
    const host = checkHost(spec.host, "srun");
    const client = [
      ...(this.#options.srunCommand ?? ["srun"]),
      "--nodes=1",
      "--ntasks=1",
      `--nodelist=${host}`,
      // A node runtime shares its host with the job's other steps (a head with --reuse-head, a second runtime).
      "--overlap",
      "--quiet",
      `--job-name=mosaic-${spec.uid}`,
      ...(this.#options.srunArgs ?? []),
      ...(this.#options.entryCommand ?? defaultEntryCommand()),
      ...(this.#options.command ?? programCommand()),
      ...spec.args,
    ];
    return new RemoteRuntime(spec, client, `host ${host} via srun`, this.#options.orphanGraceMs);
  }
}
