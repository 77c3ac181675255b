/**
 * Runs test/fixtures/cluster-fixture.ts under `mosaic run` with the head on
 * test host h0, and checks what every launcher must give: workers on the
 * other hosts (their own addresses and network namespaces), a 256 MiB array
 * intact from a worker of one host to a worker of another, a killed node's
 * task failing with WorkerDiedError naming its host while the other host's
 * workers go on, and nothing of the run left on any host after it.
 */
import { expect } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import type { ClusterHosts, CommandResult } from "../_helpers/cluster-hosts/index.ts";
import { expectProcessesGone, FIXTURES, MOSAIC_MAIN } from "../_helpers/processes.ts";

interface Place {
  uid: string;
  addresses: string[];
  netns: string;
  pid: number;
}

/** `command`: what runs on h0 in front of `mosaic run ...` (e.g. salloc), `flags`: mosaic run's. */
export async function runClusterFixture(hosts: ClusterHosts, options: { prefix?: string[]; flags: string[]; env?: Record<string, string>; nodeHosts: number[] }) {
  const command = [...(options.prefix ?? []), process.execPath, MOSAIC_MAIN, "run", "-w", "2", ...options.flags, `${FIXTURES}/cluster-fixture.ts`];
  const run = await hosts.exec(0, command, { env: options.env, timeout: 120_000 });
  return checkClusterRun(hosts, run, options.nodeHosts);
}

/** Checks the output of a run of the fixture (however it was started) and that nothing of it is left. */
/** `hostLabel`: how failures name a node's host (default: its name in the host list). */
export async function checkClusterRun(hosts: ClusterHosts, run: CommandResult, nodeHosts: number[], hostLabel = (host: number) => hosts.names[host]!) {
  const options = { nodeHosts };
  const output = `${run.stdout}\n${run.stderr}`;
  const results = Object.fromEntries(
    run.stdout
      .split("\n")
      .filter((line) => line.startsWith("result "))
      .map((line) => JSON.parse(line.slice(7)) as { label: string; value: any })
      .map(({ label, value }) => [label, value]),
  );
  if (run.code !== 0 || !results.after) throw new Error(`mosaic run failed (${run.code}):\n${output}`);

  // Workers ran on the node hosts, two each, in those hosts' own network namespaces.
  const netns = await Promise.all(options.nodeHosts.map((host) => hosts.netnsId(host)));
  const workers = results.workers as Place[];
  expect(workers.map((w) => [w.uid, w.addresses, w.netns])).toEqual(
    options.nodeHosts.flatMap((host, i) => [0, 1].map((j) => [`worker:${i}:${j}`, [hosts.addresses[host]!], netns[i]!])),
  );
  expect((results.nodes as { address: string }[]).map((n) => n.address)).toEqual(options.nodeHosts.map((host) => hosts.addresses[host]!));
  expect(results.cluster.head).toBe(hosts.addresses[0]);

  // Worker to worker over TCP: hosts sharing this kernel (and /dev/shm) are still other machines.
  const [from, to] = [workers[0]!.uid, workers[workers.length - 1]!.uid];
  expect(results.transfer).toEqual({ length: 256 * 2 ** 20, intact: true, from, to, route: "tcp" });

  const killed = results.killed as { node: string; failure: { name: string; code: string; message: string } };
  expect({ node: killed.node, name: killed.failure.name, code: killed.failure.code }).toEqual({ node: "node:0", name: "WorkerDiedError", code: "WORKER_DIED" });
  expect(killed.failure.message).toContain(`host ${hostLabel(options.nodeHosts[0]!)}`);
  expect(results.after).toBe(1);

  // After the run: no process of this cluster on any host (all share this kernel's /proc), no segment in /dev/shm.
  const cluster = results.cluster.id as string;
  await expectProcessesGone(processesOfCluster(cluster));
  expect(readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${cluster}-`))).toEqual([]);
  return { results, output };
}

/** Processes whose command line starts with `start` and holds `part` (salloc's own, which holds both, is not one). */
function processesRunning(start: string, part: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const line = readFileSync(`/proc/${entry}/cmdline`, "latin1");
        return line.startsWith(start) && line.includes(part);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Processes whose environment names the cluster (every runtime of it, on any host). */
export function processesOfCluster(cluster: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(`MOSAIC_CLUSTER=${cluster}`)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/**
 * Starts the fixture under `mosaic run` on h0 with `--hang`, waits until it
 * has every worker and printed its cluster id, SIGKILLs the head, and checks
 * that no process of the cluster is left on any host within a few seconds.
 */
export async function killHeadAndExpectNothingLeft(hosts: ClusterHosts, options: { prefix?: string[]; flags: string[]; env?: Record<string, string> }) {
  const command = [...(options.prefix ?? []), process.execPath, MOSAIC_MAIN, "run", "-w", "2", ...options.flags, `${FIXTURES}/cluster-fixture.ts`, "--hang"];
  const head = Bun.spawn(hosts.on(0, command), { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...options.env } });
  let cluster: string | undefined;
  let seen = "";
  try {
    const decoder = new TextDecoder();
    for await (const chunk of head.stdout) {
      seen += decoder.decode(chunk);
      const match = /result (\{"label":"cluster".*\})/.exec(seen);
      if (match) {
        cluster = JSON.parse(match[1]!).value.id as string;
        break;
      }
    }
    if (!cluster) throw new Error(`the head printed no cluster id:\n${seen}\n${await new Response(head.stderr).text()}`);
    const before = processesOfCluster(cluster);
    // The head, the monitor, two nodes and four workers at least (the launch entries too).
    expect(before.length).toBeGreaterThanOrEqual(8);
    // The head set its cluster id in its own environment after it started: it is found by its command line.
    const headPid = processesRunning([process.execPath, MOSAIC_MAIN, "run"].join("\0"), `${FIXTURES}/cluster-fixture.ts\0--hang`);
    expect(headPid.length).toBe(1);
    process.kill(headPid[0]!, "SIGKILL");
    await expectProcessesGone(before, { within: 10_000 });
    expect(processesOfCluster(cluster)).toEqual([]);
    expect(readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${cluster}-`))).toEqual([]);
  } finally {
    head.kill("SIGKILL");
    await head.exited;
  }
}
