/**
 * A real SLURM over the test hosts (../../../shared/CLUSTER-NOTES.md): a
 * munged of this run's own (its own key and socket, so it never meets the
 * machine's or another run's), slurmctld on h0 and a slurmd per host, each
 * under `unshare --uts` so that it sees its own host name. Client commands
 * need `env` (SLURM_CONF) and must run inside a host's namespace.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon } from "./daemon.ts";
import { runCommand } from "./netns.ts";

export const SLURM_BINARIES = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/srun", "/usr/bin/unshare"];

export interface Slurm {
  /** SLURM_CONF for client commands (srun, salloc, sinfo). */
  readonly env: Record<string, string>;
  readonly conf: string;
  /** Allocates `nodes` hosts with `salloc --no-shell`; returns the job id (release with scancel, or stop()). */
  allocate(nodes: number): Promise<string>;
  stop(): Promise<void>;
}

function slurmConf(dir: string, names: string[], addresses: string[], mungeSocket: string): string {
  return [
    "ClusterName=mosaictest",
    `SlurmctldHost=${names[0]}(${addresses[0]})`,
    `AuthInfo=socket=${mungeSocket}`,
    "SlurmUser=root",
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "MailProg=/bin/true",
    "ReturnToService=2",
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool/%n`,
    `SlurmdPidFile=${dir}/slurmd-%n.pid`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "SchedulerType=sched/builtin",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_CPU",
    // A step whose srun died is ended soon, not after the default minutes.
    "MessageTimeout=5",
    "KillWait=2",
    ...names.map((name, i) => `NodeName=${name} NodeAddr=${addresses[i]} CPUs=2 RealMemory=2000 State=UNKNOWN`),
    "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    "",
  ].join("\n");
}

export async function startSlurm(root: string, names: string[], addresses: string[], on: (host: number, command: string[]) => string[]): Promise<Slurm> {
  const dir = join(root, "slurm");
  for (const sub of ["state", "spool", "munge"]) mkdirSync(join(dir, sub), { recursive: true });
  const daemons: Daemon[] = [];
  const stop = async () => {
    // slurmds first: their steps end with them; the controller then has nobody to talk to.
    await Promise.all(daemons.slice(2).map((daemon) => daemon.stop()));
    await Promise.all(daemons.slice(0, 2).reverse().map((daemon) => daemon.stop()));
  };
  try {
    const key = join(dir, "munge", "munge.key");
    writeFileSync(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
    const socket = join(dir, "munge", "munge.socket");
    const munge = new Daemon("munged", [
      "/usr/sbin/munged", "--foreground", "--force", `--socket=${socket}`, `--key-file=${key}`,
      `--pid-file=${join(dir, "munge", "munged.pid")}`, `--log-file=${join(dir, "munge", "munged.log")}`, `--seed-file=${join(dir, "munge", "seed")}`,
    ]);
    daemons.push(munge);
    const conf = join(dir, "slurm.conf");
    writeFileSync(conf, slurmConf(dir, names, addresses, socket));
    // Required even with proctrack/linuxproc: autodetection rejects this machine's cgroup tmpfs.
    writeFileSync(join(dir, "cgroup.conf"), "CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\n");
    const env = { SLURM_CONF: conf };
    await waitForSocket(socket, munge);
    const asHost = (i: number, daemon: string) => on(i, ["unshare", "--uts", "sh", "-c", `hostname ${names[i]}; exec ${daemon} -D -f ${conf}`]);
    const controller = new Daemon("slurmctld", asHost(0, "/usr/sbin/slurmctld -i"), env);
    daemons.push(controller);
    await controller.printed(/slurmctld version .* started|Running as primary controller/i);
    names.forEach((name, i) => daemons.push(new Daemon(`slurmd on ${name}`, asHost(i, "/usr/sbin/slurmd"), env)));
    await waitForIdle(names.length, env, on, daemons);
    return {
      env,
      conf,
      async allocate(nodes: number) {
        const out = await runCommand(on(0, ["salloc", "--no-shell", `-N${nodes}`, "--immediate=20"]), { env, timeout: 30_000 });
        const match = /Granted job allocation (\d+)/.exec(out.stderr + out.stdout);
        if (!match) throw new Error(`salloc failed:\n${out.stderr}${out.stdout}`);
        return match[1]!;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** munged prints nothing when ready: its socket appearing is the event. */
async function waitForSocket(socket: string, munge: Daemon): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!existsSync(socket)) {
    if (munge.process.exitCode !== null || performance.now() > deadline) throw new Error(`munged did not start:\n${munge.output.join("\n")}`);
    await Bun.sleep(20);
  }
}

/** Polls sinfo (SLURM has no readiness event) until every node is idle. */
async function waitForIdle(count: number, env: Record<string, string>, on: (host: number, command: string[]) => string[], daemons: Daemon[]): Promise<void> {
  const deadline = performance.now() + 30_000;
  let last = "";
  while (performance.now() < deadline) {
    const out = await runCommand(on(0, ["sinfo", "-h", "-N", "-o", "%N %T"]), { env, timeout: 10_000 });
    last = out.stdout + out.stderr;
    const idle = out.stdout.split("\n").filter((line) => / idle$/.test(line)).length;
    if (idle === count) return;
    const dead = daemons.find((daemon) => daemon.process.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited:\n${dead.output.join("\n")}`);
    await Bun.sleep(200);
  }
  throw new Error(`SLURM nodes not idle within 30 s; sinfo says:\n${last}`);
}
