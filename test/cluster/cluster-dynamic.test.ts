/**
 * Dynamic join across hosts: the head runs `mosaic run --dynamic` on h0, and
 * a node is started by hand on each of h1 and h2 (`mosaic --role node --join
 * ADDRESS:PORT`, the secret in its environment), as on cloud machines or in
 * Kubernetes pods. The cluster fixture then checks what every launcher must
 * give; and a head killed with SIGKILL takes the joined nodes down too.
 */
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { CLUSTER_HOSTS_AVAILABLE, type ClusterHosts, clusterHostsForFile } from "../_helpers/cluster-hosts/index.ts";
import { expectProcessesGone, FIXTURES, MOSAIC_MAIN, SpawnedProcess } from "../_helpers/processes.ts";
import { checkClusterRun, processesOfCluster } from "./_cluster-run.ts";

const hosts = clusterHostsForFile();
const SECRET = "cluster-dynamic-test-secret";
const env = { MOSAIC_SECRET: SECRET };

/** The head on h0 and a joined node on each of h1, h2 (in that order: node:0 on h1, node:1 on h2). */
async function startJoinedCluster(h: ClusterHosts, fixtureArgs: string[]) {
  const head = new SpawnedProcess(
    h.on(0, [process.execPath, MOSAIC_MAIN, "run", "--dynamic", "--port", "0", "--address", h.addresses[0]!, "--workspace", "", `${FIXTURES}/cluster-fixture.ts`, "--wait-workers", "4", ...fixtureArgs]),
    { env },
  );
  const address = /--join (\S+)/.exec(await head.waitForLine(/nodes join with: mosaic --role node --join \S+/))![1]!;
  expect(address).toMatch(new RegExp(`^${h.addresses[0]!.replaceAll(".", "\\.")}:\\d+$`));
  const nodes: SpawnedProcess[] = [];
  for (const [i, host] of [1, 2].entries()) {
    nodes.push(new SpawnedProcess(h.on(host, [process.execPath, MOSAIC_MAIN, "--role", "node", "--join", address, "-nw", "2"]), { env }));
    await head.waitForLine(new RegExp(`node:${i} joined from host`));
  }
  return { head, nodes };
}

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("cluster mode by dynamic join", () => {
  test("nodes started by hand on two hosts join: own addresses, 256 MiB worker to worker, a killed node's task fails naming its host, nothing left", async () => {
    const h = hosts();
    const { head, nodes } = await startJoinedCluster(h, []);
    await using _head = head;
    await using _n0 = nodes[0]!;
    await using _n1 = nodes[1]!;
    const status = await head.waitForExit(120_000);
    const run = { code: status.code, stdout: head.lines.stdout.join("\n"), stderr: head.lines.stderr.join("\n") };
    // A joined node is named by its host name and the address it is reached on (hosts here share one host name).
    await checkClusterRun(h, run, [1, 2], (host) => `${hostname()} (${h.addresses[host]})`);
    // The node killed by the fixture ended with its signal; the other left when the head stopped.
    expect((await nodes[1]!.waitForExit(15_000)).code).toBe(0);
    await expectProcessesGone(nodes.map((node) => node.pid));
  }, 150_000);

  test("a head killed with SIGKILL takes the joined nodes and their workers down on every host", async () => {
    const h = hosts();
    const { head, nodes } = await startJoinedCluster(h, ["--hang"]);
    await using _head = head;
    await using _n0 = nodes[0]!;
    await using _n1 = nodes[1]!;
    const cluster = JSON.parse((await head.waitForLine(/^result \{"label":"cluster"/)).slice(7)).value.id as string;
    const workers = processesOfCluster(cluster);
    // The monitor and four workers at least carry the cluster in their environment (joined nodes learnt it on joining).
    expect(workers.length).toBeGreaterThanOrEqual(5);
    head.kill("SIGKILL");
    await expectProcessesGone([...workers, ...nodes.map((node) => node.pid)], { within: 15_000 });
    expect(processesOfCluster(cluster)).toEqual([]);
  }, 90_000);
});

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("a joined node whose network goes silent", () => {
  test("its call fails naming its host within the heartbeat timeout, it ends itself, and the other host's node goes on", async () => {
    const h = hosts();
    const head = new SpawnedProcess(
      h.on(0, [
        process.execPath, MOSAIC_MAIN, "run", "--dynamic", "--port", "0", "--address", h.addresses[0]!, "--workspace", "",
        "--heartbeat-interval", "250", "--heartbeat-timeout", "1500",
        `${FIXTURES}/dynamic-fixture.ts`, "--workers", "2", "--leave", "--leaver", "node:1", "--no-rejoin",
      ]),
      { env },
    );
    await using _head = head;
    const address = /--join (\S+)/.exec(await head.waitForLine(/nodes join with: mosaic --role node --join \S+/))![1]!;
    await using first = new SpawnedProcess(h.on(1, [process.execPath, MOSAIC_MAIN, "--role", "node", "--join", address, "-nw", "1"]), { env });
    await head.waitForLine(/node:0 joined from host/);
    await using second = new SpawnedProcess(h.on(2, [process.execPath, MOSAIC_MAIN, "--role", "node", "--join", address, "-nw", "1"]), { env });
    await head.waitForLine(/^result \{"label":"long running","value":\{"worker":"worker:1:0"/);
    // h2 drops off the network: no socket closes, nothing is sent either way.
    await h.exec(0, ["ip", "-n", h.namespaces[2]!, "link", "set", "eth0", "down"]);
    try {
      const left = JSON.parse((await head.waitForLine(/^result \{"label":"left"/, { timeout: 20_000 })).slice(7)).value;
      expect({ name: left.name, code: left.code }).toEqual({ name: "WorkerDiedError", code: "WORKER_DIED" });
      expect(left.message).toContain(`host ${hostname()} (${h.addresses[2]})`);
      // The node on h2 hears nothing from its parent either: it ends itself, its worker with it.
      expect((await second.waitForExit(20_000)).code).toBe(0);
      expect(await head.waitForExit(30_000)).toEqual({ code: 0, signal: null });
      expect((await first.waitForExit(15_000)).code).toBe(0);
    } finally {
      await h.exec(0, ["ip", "-n", h.namespaces[2]!, "link", "set", "eth0", "up"]);
    }
  }, 90_000);
});
