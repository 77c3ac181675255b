/** Cluster mode over ssh: `mosaic run --hosts h1,h2` on h0 starts a node on each of the other test hosts. */
import { describe, expect, test } from "bun:test";
import { CLUSTER_HOSTS_AVAILABLE, clusterHostsForFile } from "../_helpers/cluster-hosts/index.ts";
import { FIXTURES, MOSAIC_MAIN } from "../_helpers/processes.ts";
import { killHeadAndExpectNothingLeft, runClusterFixture } from "./_cluster-run.ts";

const hosts = clusterHostsForFile();

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("cluster mode over ssh", () => {
  test("the program runs unchanged with a node per host: own addresses, 256 MiB worker to worker, a killed node's task fails naming its host, nothing left", async () => {
    const h = hosts();
    await runClusterFixture(h, { flags: ["--hosts", "h1,h2", "--ssh-command", `ssh -F ${h.sshConfig}`], nodeHosts: [1, 2] });
  }, 120_000);

  test("a host that does not resolve is named, and nothing starts", async () => {
    const h = hosts();
    const run = await h.exec(0, [process.execPath, MOSAIC_MAIN, "run", "--hosts", "h1,nohost", `${FIXTURES}/cluster-fixture.ts`]);
    expect({ code: run.code, stderr: run.stderr.trim().split("\n")[0], stdout: run.stdout }).toEqual({
      code: 2,
      stderr: expect.stringMatching(/^mosaic: host "nohost" does not resolve to an address/),
      stdout: "",
    });
  });

  test("a head killed with SIGKILL leaves no runtime process on any host, and no /dev/shm file", async () => {
    const h = hosts();
    await killHeadAndExpectNothingLeft(h, { flags: ["--hosts", "h1,h2", "--ssh-command", `ssh -F ${h.sshConfig}`] });
  }, 60_000);
});
