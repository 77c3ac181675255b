/**
 * Batch job scripts for SLURM, PBS and SGE (`mosaic script`, the original's
 * mscript): the scheduler's directives asking for one host per node plus one
 * for the head (unless the head's host gets a node too), then `mosaic run`
 * with the same numbers. Inside the job `mosaic run` finds the allocation
 * itself, so the script names no hosts.
 */
import { InvalidArgumentError } from "../errors.ts";
import type { Scheduler } from "./allocation.ts";
import { shellQuote } from "./remote-protocol.ts";

export const SCHEDULERS: readonly Scheduler[] = ["slurm", "pbs", "sge"];

export interface JobScriptOptions {
  scheduler: Scheduler;
  /** Nodes (hosts with workers). */
  numNodes: number;
  numWorkers: number;
  numThreads?: number;
  /** Wall time as H:MM:SS, or minutes. */
  time?: string;
  /** SLURM partition, PBS or SGE queue. */
  queue?: string;
  /** SLURM account, PBS account (-A), SGE project (-P). */
  account?: string;
  /** Job name. */
  name: string;
  /** SGE parallel environment (default "mpi"). */
  parallelEnvironment?: string;
  /** The head's host gets a node too: one host fewer. */
  reuseHead?: boolean;
  /** The command that runs mosaic in the job (words). */
  mosaic: string[];
  /** The program and its arguments, absolute path first. */
  program: string[];
}

/** "90" (minutes) or "1:30:00" → "01:30:00"; anything else is refused. */
export function wallTime(text: string): string {
  const minutes = /^\d+$/.test(text) ? Number(text) : undefined;
  const parts = /^(\d+):([0-5]\d):([0-5]\d)$/.exec(text);
  if (minutes === undefined && !parts) throw new InvalidArgumentError(`--time must be minutes or H:MM:SS, got "${text}"`);
  const [h, m, s] = parts ? [Number(parts[1]), Number(parts[2]), Number(parts[3])] : [Math.floor(minutes! / 60), minutes! % 60, 0];
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}

/** A value that goes into a directive: no spaces or shell characters a scheduler would misread. */
function directiveValue(name: string, value: string): string {
  if (!/^[A-Za-z0-9_.@%+=:,/-]+$/.test(value)) throw new InvalidArgumentError(`--${name} "${value}" has characters a job directive cannot take`);
  return value;
}

export function jobScript(options: JobScriptOptions): string {
  if (!SCHEDULERS.includes(options.scheduler)) {
    throw new InvalidArgumentError(`--scheduler must be one of ${SCHEDULERS.join(", ")}, got "${options.scheduler}"`);
  }
  const hosts = options.numNodes + (options.reuseHead ? 0 : 1);
  const threads = options.numThreads ?? 2;
  const time = options.time === undefined ? undefined : wallTime(options.time);
  const name = directiveValue("name", options.name);
  const queue = options.queue === undefined ? undefined : directiveValue("queue", options.queue);
  const account = options.account === undefined ? undefined : directiveValue("account", options.account);
  const run = [
    ...options.mosaic,
    "run",
    "-n", String(options.numNodes),
    "-nw", String(options.numWorkers),
    ...(options.numThreads === undefined ? [] : ["-nth", String(options.numThreads)]),
    ...(options.reuseHead ? ["--reuse-head"] : []),
    ...options.program,
  ];
  const lines = ["#!/bin/bash", `# ${options.numNodes} node(s) x ${options.numWorkers} worker(s) x ${threads} thread(s), written by mosaic script`];
  if (options.scheduler === "slurm") {
    lines.push(
      `#SBATCH --job-name=${name}`,
      `#SBATCH --nodes=${hosts}`,
      "#SBATCH --ntasks-per-node=1",
      `#SBATCH --output=${name}-%j.out`,
      ...(time ? [`#SBATCH --time=${time}`] : []),
      ...(queue ? [`#SBATCH --partition=${queue}`] : []),
      ...(account ? [`#SBATCH --account=${account}`] : []),
      "",
      'cd "${SLURM_SUBMIT_DIR:-.}"',
    );
  } else if (options.scheduler === "pbs") {
    lines.push(
      `#PBS -N ${name}`,
      `#PBS -l select=${hosts}:ncpus=${options.numWorkers * threads}:mpiprocs=1`,
      "#PBS -l place=scatter",
      "#PBS -j oe",
      `#PBS -o ${name}.out`,
      ...(time ? [`#PBS -l walltime=${time}`] : []),
      ...(queue ? [`#PBS -q ${queue}`] : []),
      ...(account ? [`#PBS -A ${account}`] : []),
      "",
      'cd "${PBS_O_WORKDIR:-.}"',
    );
  } else {
    const pe = directiveValue("pe", options.parallelEnvironment ?? "mpi");
    lines.push(
      "#$ -S /bin/bash",
      `#$ -N ${name}`,
      // One slot per host under an allocation rule of $round_robin or 1 slot per host ($pe_slots gives one host).
      `#$ -pe ${pe} ${hosts}`,
      "#$ -cwd",
      "#$ -j y",
      `#$ -o ${name}.out`,
      ...(time ? [`#$ -l h_rt=${time}`] : []),
      ...(queue ? [`#$ -q ${queue}`] : []),
      ...(account ? [`#$ -P ${account}`] : []),
      "",
    );
  }
  lines.push(`exec ${run.map(shellQuote).join(" ")}`, "");
  return lines.join("\n");
}
