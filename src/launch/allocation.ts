/**
 * Which scheduler's job this process runs in, and its hosts: SLURM from
 * `SLURM_JOB_NODELIST` (hostlist syntax), PBS from `PBS_NODEFILE` (one line
 * per slot), SGE from `PE_HOSTFILE` (`host slots queue processors` lines).
 * A host named more than once (one line per slot) is one host; the order is
 * the scheduler's, so the first host is the job's first (where a batch
 * script runs).
 */
import { AllocationError } from "../errors.ts";
import { expandHostlist } from "./hostlist.ts";

export type Scheduler = "slurm" | "pbs" | "sge";

export interface Allocation {
  scheduler: Scheduler;
  jobId: string;
  /** Unique host names, in the scheduler's order. */
  hosts: string[];
}

/** Unique names in first-seen order. */
export function uniqueHosts(names: Iterable<string>): string[] {
  return [...new Set(names)];
}

/** A PBS node file: a host per line, once per slot; blank lines and `#` comments skipped. */
export function parsePbsNodeFile(text: string, source = "PBS node file"): string[] {
  const hosts = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  for (const host of hosts) {
    if (/\s/.test(host)) throw new AllocationError(`${source}: the line "${host}" is not a single host name`);
  }
  if (hosts.length === 0) throw new AllocationError(`${source} names no host`);
  return uniqueHosts(hosts);
}

/** An SGE PE_HOSTFILE: `host slots queue processors` per line (a host may appear once per queue). */
export function parseSgeHostFile(text: string, source = "SGE PE_HOSTFILE"): string[] {
  const hosts: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === "") continue;
    if (fields.length < 2 || !/^\d+$/.test(fields[1]!)) {
      throw new AllocationError(`${source}: the line "${line.trim()}" is not "host slots queue processors"`);
    }
    hosts.push(fields[0]!);
  }
  if (hosts.length === 0) throw new AllocationError(`${source} names no host`);
  return uniqueHosts(hosts);
}

/** Reads a node file named by a scheduler's variable, failing with an error that names both. */
function readNodeFile(variable: string, path: string): string {
  // node:fs loaded here, in a job only: every runtime's options import this module, and node:fs takes a few
  // ms of a start that a monitor or node spends before its children can start (cluster/prelaunch.ts).
  const { readFileSync } = require("node:fs") as typeof import("node:fs");
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new AllocationError(`${variable}=${path} cannot be read: ${(error as Error).message}`, { cause: error });
  }
}

/** The scheduler whose job `env` describes, from its variables alone (no file read). */
export function detectScheduler(env: Record<string, string | undefined> = process.env): Scheduler | undefined {
  if (env.SLURM_JOB_ID && env.SLURM_JOB_NODELIST) return "slurm";
  if (env.PBS_JOBID && env.PBS_NODEFILE) return "pbs";
  if (env.JOB_ID && env.PE_HOSTFILE) return "sge";
  return undefined;
}

/**
 * The allocation `env` says this process runs in, or undefined outside any
 * job. A variable that is set but unusable (an unreadable node file, a bad
 * hostlist) throws AllocationError rather than silently running elsewhere.
 */
export function detectAllocation(env: Record<string, string | undefined> = process.env): Allocation | undefined {
  if (env.SLURM_JOB_ID && env.SLURM_JOB_NODELIST) {
    return { scheduler: "slurm", jobId: env.SLURM_JOB_ID, hosts: uniqueHosts(expandHostlist(env.SLURM_JOB_NODELIST)) };
  }
  if (env.PBS_JOBID && env.PBS_NODEFILE) {
    const text = readNodeFile("PBS_NODEFILE", env.PBS_NODEFILE);
    return { scheduler: "pbs", jobId: env.PBS_JOBID, hosts: parsePbsNodeFile(text, `PBS_NODEFILE ${env.PBS_NODEFILE}`) };
  }
  if (env.JOB_ID && env.PE_HOSTFILE) {
    const text = readNodeFile("PE_HOSTFILE", env.PE_HOSTFILE);
    return { scheduler: "sge", jobId: env.JOB_ID, hosts: parseSgeHostFile(text, `PE_HOSTFILE ${env.PE_HOSTFILE}`) };
  }
  return undefined;
}
