/**
 * `mosaic script --scheduler slurm|pbs|sge -n NODES -nw WORKERS [...] script.ts [args...] > job.sh`:
 * prints a batch job script that runs the program with `mosaic run` (the
 * original's mscript). Submit it with `sbatch job.sh` or `qsub job.sh`.
 */
import { type ArgsDef, defineCommand, parseArgs } from "citty";
import { basename, resolve } from "node:path";
import { parseInteger } from "../../_util/parse.ts";
import { InvalidArgumentError } from "../../errors.ts";
import type { Scheduler } from "../../launch/allocation.ts";
import { jobScript, SCHEDULERS } from "../../launch/job-script.ts";
import { programCommand } from "../../launch/program.ts";
import { splitCommand } from "../../launch/ssh.ts";
import { rejectUnknownFlags, splitAtScript } from "../_flags.ts";

const scriptArgs = {
  scheduler: { type: "string", description: "slurm, pbs or sge", valueHint: "slurm|pbs|sge" },
  nnodes: { type: "string", alias: "n", description: "Nodes (hosts with workers); the job asks for one more host, for the head" },
  nworkers: { type: "string", alias: "w", description: "Workers per node (also -nw)" },
  nthreads: { type: "string", description: "Threads per worker (also -nth)" },
  time: { type: "string", description: "Wall time, minutes or H:MM:SS" },
  partition: { type: "string", description: "SLURM partition (same as --queue)" },
  queue: { type: "string", description: "PBS or SGE queue (SLURM partition)" },
  account: { type: "string", description: "Account (SLURM, PBS) or project (SGE) to charge" },
  name: { type: "string", description: "Job name (default: the script's name)" },
  pe: { type: "string", description: "SGE parallel environment (default mpi)" },
  "reuse-head": { type: "boolean", description: "The head's host gets a node too (one host fewer)" },
  "mosaic-command": { type: "string", description: "How the job starts mosaic (default: this mosaic, by its full path)" },
  script: { type: "positional", description: "Program to run, followed by its arguments", required: false },
} as const satisfies ArgsDef;

function count(text: string, flag: string): number {
  const value = parseInteger(text);
  if (value === undefined || value < 1) throw new InvalidArgumentError(`${flag} must be an integer >= 1, got "${text}"`);
  return value;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new InvalidArgumentError(`mosaic script needs ${flag}: mosaic script --scheduler slurm -n 2 -nw 4 script.ts > job.sh`);
  return value;
}

export const scriptCommand = defineCommand({
  meta: { name: "script", description: "Print a batch job script (SLURM, PBS, SGE) that runs a program with mosaic run" },
  args: scriptArgs,
  run({ rawArgs }) {
    const { flags, script, scriptArgs: programArgs } = splitAtScript(rawArgs);
    rejectUnknownFlags(flags, scriptArgs);
    const args = parseArgs(flags, scriptArgs);
    const scheduler = required(args.scheduler, "--scheduler slurm|pbs|sge") as Scheduler;
    if (!SCHEDULERS.includes(scheduler)) throw new InvalidArgumentError(`--scheduler must be one of ${SCHEDULERS.join(", ")}, got "${scheduler}"`);
    if (!script) throw new InvalidArgumentError("mosaic script needs the program: mosaic script [options] <script> [args...]");
    if (args.partition && args.queue && args.partition !== args.queue) throw new InvalidArgumentError("--partition and --queue name the same thing: give one");
    const mosaic = args["mosaic-command"] ? splitCommand(args["mosaic-command"]) : programCommand();
    process.stdout.write(
      jobScript({
        scheduler,
        numNodes: count(required(args.nnodes, "-n NODES"), "-n"),
        numWorkers: count(required(args.nworkers, "-nw WORKERS"), "-nw"),
        numThreads: args.nthreads === undefined ? undefined : count(args.nthreads, "-nth"),
        time: args.time,
        queue: args.partition ?? args.queue,
        account: args.account,
        name: args.name ?? basename(script).replace(/\.[^.]*$/, ""),
        parallelEnvironment: args.pe,
        reuseHead: args["reuse-head"] === true,
        mosaic,
        program: [resolve(script), ...programArgs],
      }),
    );
  },
});
