import { describe, expect, test } from "bun:test";
import { InvalidArgumentError } from "../../src/errors.ts";
import { jobScript, type JobScriptOptions, wallTime } from "../../src/launch/job-script.ts";
import { MOSAIC_MAIN } from "../_helpers/processes.ts";

const base: JobScriptOptions = { scheduler: "slurm", numNodes: 2, numWorkers: 4, name: "solve", mosaic: ["/opt/mosaic"], program: ["/home/me/solve.ts", "--iters", "a b"] };
const directives = (text: string, prefix: string) => text.split("\n").filter((line) => line.startsWith(prefix));
const runLine = (text: string) => text.split("\n").find((line) => line.startsWith("exec "));

describe("job scripts", () => {
  test("SLURM: the nodes plus the head's host, one task each, and mosaic run with the same numbers", () => {
    const text = jobScript({ ...base, numThreads: 3, time: "90", queue: "gpu", account: "proj1" });
    expect(text.startsWith("#!/bin/bash\n")).toBe(true);
    expect(directives(text, "#SBATCH")).toEqual([
      "#SBATCH --job-name=solve", "#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=1", "#SBATCH --output=solve-%j.out",
      "#SBATCH --time=01:30:00", "#SBATCH --partition=gpu", "#SBATCH --account=proj1",
    ]);
    expect(runLine(text)).toBe("exec /opt/mosaic run -n 2 -nw 4 -nth 3 /home/me/solve.ts --iters 'a b'");
  });

  test("with reuseHead the job asks for one host per node and mosaic run gives the head's host a node", () => {
    const text = jobScript({ ...base, reuseHead: true });
    expect(directives(text, "#SBATCH --nodes")).toEqual(["#SBATCH --nodes=2"]);
    expect(runLine(text)).toBe("exec /opt/mosaic run -n 2 -nw 4 --reuse-head /home/me/solve.ts --iters 'a b'");
  });

  test("PBS: select of nodes+1 chunks, walltime, queue and account", () => {
    const text = jobScript({ ...base, scheduler: "pbs", time: "2:00:00", queue: "long", account: "a1" });
    expect(directives(text, "#PBS")).toEqual([
      "#PBS -N solve", "#PBS -l select=3:ncpus=8:mpiprocs=1", "#PBS -l place=scatter", "#PBS -j oe", "#PBS -o solve.out",
      "#PBS -l walltime=02:00:00", "#PBS -q long", "#PBS -A a1",
    ]);
    expect(text).toContain('cd "${PBS_O_WORKDIR:-.}"');
  });

  test("SGE: a parallel environment of nodes+1 slots (mpi unless named), h_rt, queue and project", () => {
    const text = jobScript({ ...base, scheduler: "sge", parallelEnvironment: "orte", time: "5", queue: "all.q", account: "p2" });
    expect(directives(text, "#$")).toEqual([
      "#$ -S /bin/bash", "#$ -N solve", "#$ -pe orte 3", "#$ -cwd", "#$ -j y", "#$ -o solve.out", "#$ -l h_rt=00:05:00", "#$ -q all.q", "#$ -P p2",
    ]);
  });

  test("bad wall times and directive values are refused with the flag's name", () => {
    expect(wallTime("1:02:03")).toBe("01:02:03");
    expect(() => wallTime("1h")).toThrow(InvalidArgumentError);
    expect(() => jobScript({ ...base, queue: "a b" })).toThrow(/--queue "a b" has characters a job directive cannot take/);
    expect(() => jobScript({ ...base, scheduler: "lsf" as never })).toThrow(/--scheduler must be one of slurm, pbs, sge/);
  });
});

describe("mosaic script", () => {
  const cli = (...args: string[]) => {
    const run = Bun.spawnSync([process.execPath, MOSAIC_MAIN, "script", ...args]);
    return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
  };

  test("prints the job script for this mosaic and the program's absolute path", () => {
    const run = cli("--scheduler", "slurm", "-n", "1", "-nw", "2", "-nth", "1", "prog.ts", "x");
    expect(run.code).toBe(0);
    expect(runLine(run.stdout)).toBe(`exec ${process.execPath} ${MOSAIC_MAIN} run -n 1 -nw 2 -nth 1 ${process.cwd()}/prog.ts x`);
  });

  test("a missing count or scheduler is named", () => {
    expect(cli("--scheduler", "slurm", "-n", "1", "prog.ts")).toEqual({ code: 2, stdout: "", stderr: expect.stringContaining("mosaic script needs -nw WORKERS") });
    expect(cli("-n", "1", "-nw", "1", "prog.ts")).toEqual({ code: 2, stdout: "", stderr: expect.stringContaining("needs --scheduler") });
    expect(cli("--scheduler", "pbs", "-n", "0", "-nw", "1", "prog.ts")).toEqual({ code: 2, stdout: "", stderr: 'mosaic: -n must be an integer >= 1, got "0"\n' });
  });
});
