/**
 * Cluster mode inside a PBS job, through PBS's documented environment (no PBS
 * is packaged for Debian): PBS_JOBID and a PBS_NODEFILE naming the job's hosts
 * once per slot, with the head on h0; nodes start over ssh (no pbsdsh here).
 */
import { describe, test } from "bun:test";
import { join } from "node:path";
import { CLUSTER_HOSTS_AVAILABLE, clusterHostsForFile } from "../_helpers/cluster-hosts/index.ts";
import { runClusterFixture } from "./_cluster-run.ts";

const hosts = clusterHostsForFile();

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("cluster mode in a PBS job", () => {
  test("the node file's hosts but the head's get a node each (duplicate lines are one host), over ssh: own addresses, 256 MiB worker to worker, a killed node's task fails naming its host, nothing left", async () => {
    const h = hosts();
    const nodeFile = join(h.dir, "pbs-nodefile");
    await Bun.write(nodeFile, "h0\nh0\nh1\nh1\nh2\nh2\n");
    await runClusterFixture(h, {
      flags: ["--ssh-command", `ssh -F ${h.sshConfig}`],
      env: { PBS_JOBID: "42.pbs-server", PBS_NODEFILE: nodeFile },
      nodeHosts: [1, 2],
    });
  }, 120_000);
});
