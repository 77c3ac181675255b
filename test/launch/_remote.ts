/**
 * Test hosts for the remote launchers' contract: starts them for the test
 * file (h0 launches, h1 runs) and describes them to the launchers under test
 * (test/fixtures/_launchers.ts) through a file MOSAIC_TEST_CLUSTER names.
 */
import { afterAll, beforeAll } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClusterHosts, clusterHostsForFile, CLUSTER_HOSTS_AVAILABLE } from "../_helpers/cluster-hosts/index.ts";
import { TEST_CLUSTER_ENV, type TestCluster } from "../fixtures/_launchers.ts";

export function testHostsForLaunchers(options: { slurm?: boolean } = {}): () => ClusterHosts {
  const hosts = clusterHostsForFile({ slurm: options.slurm });
  beforeAll(async () => {
    if (!CLUSTER_HOSTS_AVAILABLE) return;
    const h = hosts();
    let srunCommand: string[] = [];
    if (h.slurm) {
      // Steps inside one allocation of every host, as a runtime inside `salloc`/`sbatch` would run them.
      const job = await h.slurm.allocate(h.names.length);
      srunCommand = h.on(0, ["env", `SLURM_CONF=${h.slurm.conf}`, `SLURM_JOB_ID=${job}`, "srun"]);
    }
    const cluster: TestCluster = {
      sshCommand: h.sshCommand(0),
      srunCommand,
      netns: Object.fromEntries(await Promise.all(h.names.map(async (name, i) => [name, await h.netnsId(i)]))),
    };
    const path = join(h.dir, "cluster.json");
    writeFileSync(path, JSON.stringify(cluster));
    process.env[TEST_CLUSTER_ENV] = path;
  }, 60_000);
  afterAll(() => {
    delete process.env[TEST_CLUSTER_ENV];
  });
  return hosts;
}
