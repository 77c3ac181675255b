/** The test hosts harness itself: isolated hosts, real sshd and SLURM on them, nothing left after stop(). */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { CLUSTER_HOSTS_AVAILABLE, startClusterHosts } from "./cluster-hosts/index.ts";
import { expectProcessesGone } from "./processes.ts";

test.skipIf(!CLUSTER_HOSTS_AVAILABLE)("three hosts with their own addresses reach each other over ssh and run SLURM steps, and stop() leaves nothing", async () => {
  const hosts = await startClusterHosts({ slurm: true });
  let stopped = false;
  try {
    const overSsh = await Promise.all(hosts.names.map((name) => hosts.exec(0, [...hosts.sshCommand(0).slice(4), name, "hostname -I; readlink /proc/self/ns/net"])));
    const ids = await Promise.all(hosts.names.map((_, i) => hosts.netnsId(i)));
    expect(overSsh.map((result) => result.stdout.trim().split(/\s+/))).toEqual(hosts.addresses.map((address, i) => [address, ids[i]!]));
    expect(new Set(ids).size).toBe(3);
    const steps = await hosts.exec(0, ["srun", "-N3", "sh", "-c", "echo $SLURMD_NODENAME $(hostname -I) $SLURM_JOB_NODELIST"], { env: hosts.slurm!.env });
    expect(steps.stdout.trim().split("\n").sort()).toEqual(hosts.names.map((name, i) => `${name} ${hosts.addresses[i]} h[0-2]`));
    const namespaces = [...hosts.namespaces];
    const pidsBefore = (await Promise.all(namespaces.map((ns) => Bun.$`ip netns pids ${ns}`.text()))).join("\n").split("\n").filter(Boolean).map(Number);
    expect(pidsBefore.length).toBeGreaterThanOrEqual(4); // an sshd per host, slurmctld, slurmds
    await hosts.stop();
    stopped = true;
    await expectProcessesGone(pidsBefore);
    expect({ dir: existsSync(hosts.dir), namespaces: namespaces.filter((ns) => existsSync(`/run/netns/${ns}`)), etc: namespaces.filter((ns) => existsSync(`/etc/netns/${ns}`)) }).toEqual({
      dir: false,
      namespaces: [],
      etc: [],
    });
  } finally {
    if (!stopped) await hosts.stop();
  }
}, 60_000);
