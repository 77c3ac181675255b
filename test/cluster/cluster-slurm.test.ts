/**
 * Cluster mode inside a SLURM allocation: `salloc -N3 mosaic run script` on h0
 * (no host flag) finds the allocation, gives h1 and h2 a node each through an
 * srun step, and keeps the head's host h0 for the head.
 */
import { describe, test } from "bun:test";
import { CLUSTER_HOSTS_AVAILABLE, clusterHostsForFile } from "../_helpers/cluster-hosts/index.ts";
import { killHeadAndExpectNothingLeft, runClusterFixture } from "./_cluster-run.ts";

const hosts = clusterHostsForFile({ slurm: true });

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("cluster mode under SLURM", () => {
  test("under salloc, -n defaults to the allocated hosts but the head's: own addresses, 256 MiB worker to worker, a killed node's task fails naming its host, nothing left", async () => {
    const h = hosts();
    await runClusterFixture(h, { prefix: ["salloc", "-N3", "--immediate=20", "--quiet"], flags: [], env: h.slurm!.env, nodeHosts: [1, 2] });
  }, 120_000);

  test("a head killed with SIGKILL leaves no runtime process on any host, and no /dev/shm file", async () => {
    const h = hosts();
    await killHeadAndExpectNothingLeft(h, { prefix: ["salloc", "-N3", "--immediate=20", "--quiet"], flags: [], env: h.slurm!.env });
  }, 60_000);
});
