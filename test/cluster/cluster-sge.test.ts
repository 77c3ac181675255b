/**
 * Cluster mode under a real Grid Engine: a job script from `mosaic script
 * --scheduler sge`, submitted with `qsub -pe`, runs `mosaic run` as the job's
 * master task on h0; it reads PE_HOSTFILE and starts a node on each other
 * host with `qrsh -inherit`, as tasks of the same job.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CLUSTER_HOSTS_AVAILABLE, clusterHostsForFile } from "../_helpers/cluster-hosts/index.ts";
import { FIXTURES, MOSAIC_MAIN } from "../_helpers/processes.ts";
import { checkClusterRun } from "./_cluster-run.ts";

const hosts = clusterHostsForFile({ sge: true });

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("cluster mode in a Grid Engine job", () => {
  test("mosaic run as the master task of a qsub -pe job starts nodes with qrsh -inherit: own addresses, 256 MiB worker to worker, a killed node's task fails naming its host, nothing left", async () => {
    const h = hosts();
    const script = Bun.spawnSync([process.execPath, MOSAIC_MAIN, "script", "--scheduler", "sge", "-n", "2", "-nw", "2", `${FIXTURES}/cluster-fixture.ts`]);
    expect(script.exitCode).toBe(0);
    const job = join(h.dir, "sge-job.sh");
    await Bun.write(job, script.stdout);
    const out = join(h.dir, "sge-job.out");
    // qsub checks that it runs on a submit host by its host name; -V carries this test's environment (its workspace) into the job.
    const qsub = ["unshare", "--uts", "sh", "-c", 'hostname h0; exec "$@"', "sh", "qsub", "-sync", "y", "-V", "-o", out, job];
    // An ssh fallback would fail at once: the nodes can only have started through qrsh.
    const submitted = await h.exec(0, qsub, { env: { ...h.sge!.env, MOSAIC_SSH_COMMAND: "false" }, timeout: 120_000 });
    const output = await Bun.file(out).text().catch(() => "");
    await checkClusterRun(h, { code: /exited with exit code 0/.test(submitted.stdout) ? 0 : 1, stdout: output, stderr: submitted.stdout + submitted.stderr }, [1, 2]);
  }, 150_000);
});
