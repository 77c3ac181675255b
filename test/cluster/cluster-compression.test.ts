/**
 * Compression between hosts: `mosaic run --compression zstd --hosts h1,h2`
 * on h0; arrays move worker to worker from h1 to h2 over TCP.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { CLUSTER_HOSTS_AVAILABLE, clusterHostsForFile } from "../_helpers/cluster-hosts/index.ts";
import { expectProcessesGone, FIXTURES, MOSAIC_MAIN } from "../_helpers/processes.ts";
import { processesOfCluster } from "./_cluster-run.ts";

const hosts = clusterHostsForFile();
const SIZE = 64 * 2 ** 20;

describe.skipIf(!CLUSTER_HOSTS_AVAILABLE)("compression between hosts", () => {
  test("with zstd, a compressible 64 MiB array crosses compressed and a random one as it is, both intact, worker to worker; the perf log says so; an array the head changes right after its call reaches the other host as it was called, compressed", async () => {
    const h = hosts();
    const command = [process.execPath, MOSAIC_MAIN, "run", "-w", "1", "--hosts", "h1,h2", "--ssh-command", `ssh -F ${h.sshConfig}`, "--compression", "zstd", "--log-level", "perf", `${FIXTURES}/compression-fixture.ts`];
    const run = await h.exec(0, command, { timeout: 120_000 });
    const results = Object.fromEntries(
      run.stdout.split("\n").filter((line) => line.startsWith("result ")).map((line) => JSON.parse(line.slice(7)) as { label: string; value: any }).map(({ label, value }) => [label, value]),
    );
    if (run.code !== 0 || !results.random) throw new Error(`mosaic run failed (${run.code}):\n${run.stdout}\n${run.stderr}`);
    const route = { from: "worker:0:0", to: "worker:1:0", route: "tcp", bytes: SIZE };
    expect(results.smooth).toEqual({ intact: true, digest: `Float32Array:${SIZE}`, ...route, wireBytes: expect.any(Number) });
    expect(results.smooth.wireBytes).toBeLessThan(SIZE / 10);
    expect(results.random).toEqual({ intact: true, digest: `Uint8Array:${SIZE}`, ...route, wireBytes: SIZE });
    // From the head to h2, changed right after the call: the worker saw it as called, compressed on the wire.
    expect(results.fromHead).toEqual({ intact: true, route: "tcp", to: "worker:1:0", compressed: true });
    expect(run.stdout + run.stderr).toMatch(/received 64\.0 MiB from worker:0:0 via TCP, [\d.]+ [KM]iB on the wire \(compressed\)/);

    const cluster = results.cluster.id as string;
    await expectProcessesGone(processesOfCluster(cluster));
    expect(readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${cluster}-`))).toEqual([]);
  }, 120_000);

  test("a 256 MiB compressed move holds neither worker's event loop: with heartbeats every 250 ms and 1 s of silence counted as death, both workers live and the array arrives intact", async () => {
    // Compressed or restored in one codec call each, 256 MiB held a worker's loop for 1-2.5 s here: its node
    // declared it dead, and the move failed with a WorkerDiedError.
    const h = hosts();
    const command = [process.execPath, MOSAIC_MAIN, "run", "-w", "1", "--hosts", "h1,h2", "--ssh-command", `ssh -F ${h.sshConfig}`, "--compression", "zstd", "--heartbeat-interval", "250", "--heartbeat-timeout", "1000", `${FIXTURES}/compression-fixture.ts`];
    const run = await h.exec(0, command, { timeout: 120_000, env: { COMPRESSION_FIXTURE_MIB: "256", COMPRESSION_FIXTURE_KINDS: "smooth" } });
    const results = Object.fromEntries(
      run.stdout.split("\n").filter((line) => line.startsWith("result ")).map((line) => JSON.parse(line.slice(7)) as { label: string; value: any }).map(({ label, value }) => [label, value]),
    );
    if (run.code !== 0 || !results.smooth) throw new Error(`mosaic run failed (${run.code}):\n${run.stdout}\n${run.stderr}`);
    expect(results.smooth).toEqual({ intact: true, digest: `Float32Array:${256 * 2 ** 20}`, from: "worker:0:0", to: "worker:1:0", route: "tcp", bytes: 256 * 2 ** 20, wireBytes: expect.any(Number) });
    expect(results.smooth.wireBytes).toBeLessThan(256 * 2 ** 20 / 10);
    await expectProcessesGone(processesOfCluster(results.cluster.id as string));
  }, 120_000);
});
