/**
 * A batch job from `mosaic script`: the script it prints, submitted with
 * `sbatch` on the test SLURM, asks for the nodes plus the head's host and runs
 * the program with `mosaic run` there, which finds the allocation itself.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CLUSTER_HOSTS_AVAILABLE, clusterHostsForFile } from "../_helpers/cluster-hosts/index.ts";
import { FIXTURES, MOSAIC_MAIN } from "../_helpers/processes.ts";
import { checkClusterRun } from "./_cluster-run.ts";

const hosts = clusterHostsForFile({ slurm: true });

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("a job script from mosaic script under sbatch", () => {
  test("runs the program on the allocated hosts: a node on each but the head's, 256 MiB worker to worker, a killed node's task fails naming its host, nothing left", async () => {
    const h = hosts();
    const script = Bun.spawnSync([process.execPath, MOSAIC_MAIN, "script", "--scheduler", "slurm", "-n", "2", "-nw", "2", "--partition", "test", "--time", "10", `${FIXTURES}/cluster-fixture.ts`]);
    expect(script.exitCode).toBe(0);
    const job = join(h.dir, "job.sh");
    await Bun.write(job, script.stdout);
    const out = join(h.dir, "job.out");
    // --wait: sbatch returns when the job has ended, with the job's exit code.
    const submitted = await h.exec(0, ["sbatch", "--wait", "--quiet", `--output=${out}`, job], { env: h.slurm!.env, timeout: 120_000 });
    const output = await Bun.file(out).text().catch(() => "");
    await checkClusterRun(h, { code: submitted.code, stdout: output, stderr: submitted.stderr }, [1, 2]);
  }, 150_000);
});
