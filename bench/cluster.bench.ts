/**
 * Cluster mode across hosts: network-namespace hosts h0..h2 made by the test
 * harness (test/_helpers/cluster-hosts: a real sshd each, SLURM, Grid Engine),
 * the head on h0 and a node with one worker on each of h1 and h2.
 * - bandwidth: a 256 MiB array made on h1 moves worker to worker to h2,
 *   alternated (ABBA) with a raw Bun TCP send of 256 MiB from the same worker
 *   thread on h1 to a sink on h2 (goal >= 0.8 of raw): like for like, each
 *   pair meets the same moment's load on this shared 2-core machine;
 *   with compression none and zstd, a smooth (compressible) and a random array;
 *   beside: raw sends to a second sink that collects its young garbage as the
 *   runtime's readers do, and the receivers' page faults and CPU per 256 MiB;
 * - latency: a no-op call with result from the head on h0 to a tessera on h1,
 *   next to a raw Bun TCP ping h0 → h1 (goal <= 2x);
 * - start-up: head process start → ready of the 3-host cluster by each launcher the
 *   harness has: ssh (--hosts), SLURM (salloc, srun steps), SGE (a qsub -pe
 *   job, qrsh -inherit), PBS (a node file, over ssh).
 * Needs root and the packages .ci/run installs; otherwise one `skipped` line.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { CLUSTER_HOSTS_AVAILABLE, type ClusterHosts, startClusterHosts, UNAVAILABLE_REASON } from "../test/_helpers/cluster-hosts/index.ts";
import { cpuNanos, emit, emitLatency, type LatencySamples, max, median, min, minorFaults, note, round } from "./_lib.ts";

const BENCH = "cluster";
const SIZE = 256 * 2 ** 20;
const ROOT = join(import.meta.dir, "..");
const MOSAIC = [process.execPath, join(ROOT, "src/cli/main.ts")];
const HEAD = join(import.meta.dir, "_fixtures/cluster-head.ts");
const STARTS = 3;
/** What to run (BENCH_CLUSTER_PARTS, comma-separated; default all): bandwidth, latency, startup. */
const PARTS = new Set((process.env.BENCH_CLUSTER_PARTS ?? "bandwidth,latency,startup").split(","));

if (!CLUSTER_HOSTS_AVAILABLE) {
  note(`${BENCH}: skipped: ${UNAVAILABLE_REASON}`);
  emit({ bench: BENCH, metric: "skipped", value: 0, unit: "", reason: UNAVAILABLE_REASON });
  process.exit(0);
}

type Lines = Record<string, any>[];

/** The `bench <JSON>` lines a run of cluster-head.ts printed. */
function benchLines(output: string): Lines {
  return output.split("\n").filter((line) => line.startsWith("bench ")).map((line) => JSON.parse(line.slice(6)));
}

/** No log folders, and no log lines below warnings on the bench's output. */
const QUIET = { MOSAIC_WORKSPACE: "", MOSAIC_LOG_LEVEL: "warning" };

async function runHead(hosts: ClusterHosts, flags: string[], env: Record<string, string>, prefix: string[] = []): Promise<Lines> {
  const run = await hosts.exec(0, [...prefix, ...MOSAIC, "run", "-w", "1", ...flags, HEAD], { env: { ...QUIET, ...env }, timeout: 120_000 });
  const lines = benchLines(run.stdout);
  if (run.code !== 0 || lines.length === 0) throw new Error(`mosaic run ${flags.join(" ")} failed (${run.code}):\n${run.stdout}\n${run.stderr}`);
  return lines;
}

/** A raw peer (bench/_fixtures) listening on `host`'s address; it prints its port and lives until its stdin closes. */
async function startPeer(hosts: ClusterHosts, host: number, fixture: string, args: string[], peers: Subprocess[], env: Record<string, string> = {}): Promise<number> {
  const child = Bun.spawn(hosts.on(host, [process.execPath, join(import.meta.dir, "_fixtures", fixture), ...args]), {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, ...env, BENCH_HOST: hosts.addresses[host]! },
  });
  peers.push(child);
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return Number(text.trim());
}

const gbps = (seconds: number[]) => SIZE / 1e9 / median(seconds);

const hosts = await startClusterHosts({ count: 3, slurm: true, sge: true });
const peers: Subprocess[] = [];
try {
  const ssh = ["--hosts", "h1,h2", "--ssh-command", `ssh -F ${hosts.sshConfig}`];

  // (a) Bandwidth: each head run alternates its moves with raw sends to this sink (plain Bun TCP, the goal's
  // baseline). A second sink that collects its young garbage every 8 MiB as the runtime's readers do
  // (src/comms/frame-reader.ts) gets a send after each pair, shown beside: like for like.
  const sinkPort = await startPeer(hosts, 2, "data-sink.ts", [String(SIZE)], peers);
  const collectingSinkPort = await startPeer(hosts, 2, "data-sink.ts", [String(SIZE)], peers, { BENCH_SINK_COLLECT_MIB: "8" });
  const sink = { BENCH_SINK: `${hosts.addresses[2]}:${sinkPort}`, BENCH_SINK_COLLECTING: `${hosts.addresses[2]}:${collectingSinkPort}` };
  const raw: Record<string, number[]> = {};
  const rawCollecting: Record<string, number[]> = {};
  const moves: Record<string, number[]> = {};
  const receiverFaults: Record<string, number[]> = {};
  const receiverCpuMs: Record<string, number[]> = {};
  const sinkPids = [peers.at(-2)!.pid, peers.at(-1)!.pid];
  const sinkFaults = sinkPids.map(minorFaults);
  const sinkCpu = sinkPids.map((pid) => cpuNanos(pid));
  let sends = 0;
  for (const compression of PARTS.has("bandwidth") ? ["none", "zstd", "none", "zstd"] : []) {
    const lines = await runHead(hosts, [...ssh, "--compression", compression], { BENCH_MODE: "bandwidth", BENCH_KINDS: "smooth,random", ...sink });
    for (const line of lines.filter((l) => l.kind)) {
      (moves[`${compression}_${line.kind}`] ??= []).push(...line.seconds);
      (raw[`${compression}_${line.kind}`] ??= []).push(...line.raw);
      (rawCollecting[`${compression}_${line.kind}`] ??= []).push(...line.rawCollected);
      (receiverFaults[`${compression}_${line.kind}`] ??= []).push(...line.faults);
      (receiverCpuMs[`${compression}_${line.kind}`] ??= []).push(...line.cpuMs);
      sends += line.raw.length + 1; // and the uncounted first
    }
  }
  if (sends > 0) {
    const perSend = (now: number | undefined, before: number | undefined, scale = 1) => round((now! - before!) / scale / sends, 0);
    note(
      `${BENCH}: receiving 256 MiB, per send: raw sink ${perSend(minorFaults(sinkPids[0]!), sinkFaults[0])} page faults, ${perSend(cpuNanos(sinkPids[0]!), sinkCpu[0], 1e6)} ms CPU; ` +
        `collecting sink ${perSend(minorFaults(sinkPids[1]!), sinkFaults[1])} page faults, ${perSend(cpuNanos(sinkPids[1]!), sinkCpu[1], 1e6)} ms CPU`,
    );
  }
  const allRaw = Object.values(raw).flat();
  const allRawCollecting = Object.values(rawCollecting).flat();
  if (allRaw.length > 0) emit({ bench: BENCH, metric: "raw_tcp_bulk_cross_host_collecting", value: round(gbps(allRawCollecting), 3), unit: "GB/s", samples: allRawCollecting.length, what: "as raw_tcp_bulk_cross_host, to a sink that asks for a young collection every 8 MiB, as the runtime's readers do" });
  if (allRaw.length > 0) emit({ bench: BENCH, metric: "raw_tcp_bulk_cross_host", value: round(gbps(allRaw), 3), unit: "GB/s", samples: allRaw.length, what: "raw Bun TCP, 256 MiB from a worker thread on h1 to a sink on h2 (reused buffers), alternated with the moves" });
  for (const [key, seconds] of Object.entries(moves)) {
    const [compression, kind] = key.split("_") as [string, string];
    const rate = gbps(seconds);
    const rawRate = gbps(raw[key]!);
    const goal = compression === "none" && kind === "smooth";
    const ms = (values: number[]) => values.map((v) => round(v * 1000, 0)).join(" ");
    note(`${BENCH}: ${key}: moves ${ms(seconds)} ms; raw ${ms(raw[key]!)} ms; raw to the collecting sink ${ms(rawCollecting[key]!)} ms`);
    note(`${BENCH}: ${key}: receiving worker per move: page faults ${receiverFaults[key]!.join(" ")}; CPU ${receiverCpuMs[key]!.map((v) => round(v, 0)).join(" ")} ms`);
    emit({
      bench: BENCH,
      metric: `cross_host_move_256MiB_${compression}_${kind}`,
      value: round(rate, 3),
      unit: "GB/s",
      baseline: round(rawRate, 3),
      baseline_kind: "raw Bun TCP sends alternated with these moves (same hosts, same sending thread)",
      ratio: round(rate / rawRate, 2),
      // Each move and the raw send next to it met the same moment: the median of those pairs' ratios.
      ratio_pairs: round(median(seconds.map((s, i) => raw[key]![i]! / s)), 2),
      baseline_collecting: round(gbps(rawCollecting[key]!), 3),
      samples: seconds.length,
      // Best against best: other work on a 2-core machine moves medians by 2-5x from run to run.
      ratio_best: round(min(raw[key]!) / min(seconds), 2),
      min_s: round(min(seconds), 3),
      max_s: round(max(seconds), 3),
      what: `256 MiB ${kind} array made on worker:0:0 (h1), taken as an argument by worker:1:0 (h2), compression ${compression}`,
      ...(goal ? { target: "ratio >= 0.8", ok: rate / rawRate >= 0.8 } : {}),
    });
  }

  if (PARTS.has("latency")) {
    // (b) Latency: head on h0, tessera on h1; the raw ping h0 → echo server on h1.
    const echoPort = await startPeer(hosts, 1, "echo-server.ts", [], peers);
    const echoPid = peers[peers.length - 1]!.pid; // `ip netns exec` execs the peer: its pid is the peer's
    const latency = await runHead(hosts, ssh, { BENCH_MODE: "latency", BENCH_HOST: hosts.addresses[1]!, BENCH_ECHO_PORT: String(echoPort), BENCH_ECHO_PID: String(echoPid) });
    const samples = latency.find((line) => line.latency)!.latency as LatencySamples;
    emitLatency({
      bench: BENCH,
      name: "cross_host_call",
      suffix: "",
      label: "no-op call with result, head h0 → tessera h1",
      samples,
      fields: { what: "await t.noop().result(), head on h0, tessera on h1; baseline: raw Bun TCP ping 32 B h0 → h1" },
      maxRatio: 2,
    });
    const sameThreads = latency.find((line) => line.latencySameThreads)!.latencySameThreads as LatencySamples;
    emitLatency({
      bench: BENCH,
      name: "cross_host_call",
      suffix: "_same_threads",
      label: "no-op call with result, head h0 → tessera h1, ping to an echo in the tessera's thread",
      samples: sameThreads,
      fields: { what: "await t.noop().result(), head on h0, tessera on h1; baseline: raw Bun TCP ping 32 B from the head process to an echo listener in the tessera's own thread (same two threads, same scheduling)" },
      maxRatio: 2,
    });
    const crossCpu = latency.find((line) => line.latencyCrossCpu)?.latencyCrossCpu as LatencySamples | undefined;
    if (crossCpu) {
      emitLatency({
        bench: BENCH,
        name: "cross_host_call",
        suffix: "_cross_cpu",
        label: "no-op call with result, head h0 → tessera h1, pinned cross-CPU",
        samples: crossCpu,
        fields: { what: "as cross_host_call, with the head and ping client on one CPU, the tessera's worker and the echo peer on the other (like for like)" },
        maxRatio: 2,
      });
    }
  }

  // (c) Start-up of the 3-host cluster (head on h0, nodes on h1 and h2) by each launcher.
  const nodeFile = join(hosts.dir, "pbs-nodefile");
  await Bun.write(nodeFile, "h0\nh0\nh1\nh1\nh2\nh2\n");
  const script = Bun.spawnSync([...MOSAIC, "script", "--scheduler", "sge", "-n", "2", "-nw", "1", HEAD]);
  const job = join(hosts.dir, "bench-job.sh");
  await Bun.write(job, script.stdout);
  let jobs = 0;
  const launchers: Record<string, () => Promise<Lines>> = {
    ssh: () => runHead(hosts, ssh, {}),
    slurm: () => runHead(hosts, [], hosts.slurm!.env, ["salloc", "-N3", "--immediate=20", "--quiet"]),
    pbs: () => runHead(hosts, ["--ssh-command", `ssh -F ${hosts.sshConfig}`], { PBS_JOBID: "42.pbs-server", PBS_NODEFILE: nodeFile }),
    sge: async () => {
      // qsub -o appends to a file: one per job.
      const out = join(hosts.dir, `bench-job-${++jobs}.out`);
      const qsub = ["unshare", "--uts", "sh", "-c", 'hostname h0; exec "$@"', "sh", "qsub", "-sync", "y", "-V", "-o", out, job];
      const run = await hosts.exec(0, qsub, { env: { ...hosts.sge!.env, ...QUIET }, timeout: 120_000 });
      const lines = benchLines(await Bun.file(out).text().catch(() => ""));
      if (lines.length === 0) throw new Error(`the SGE job printed nothing:\n${run.stdout}${run.stderr}`);
      return lines;
    },
  };
  for (const [launcher, start] of PARTS.has("startup") ? Object.entries(launchers) : []) {
    const ready: number[] = [];
    for (let i = 0; i < STARTS; i++) ready.push((await start()).find((line) => line.ready !== undefined)!.ready);
    note(`${BENCH}: start-up by ${launcher}: ${ready.map((ms) => round(ms, 0)).join(", ")} ms`);
    emit({
      bench: BENCH,
      metric: `startup_3_hosts_${launcher}`,
      value: round(median(ready), 1),
      unit: "ms",
      min: round(min(ready), 1),
      max: round(max(ready), 1),
      samples: ready.length,
      what: `head process start → ready (mosaic run), head on h0, a node with 1 worker on h1 and h2, launcher ${launcher}`,
    });
  }
} finally {
  for (const peer of peers) {
    peer.kill("SIGTERM");
    await peer.exited;
  }
  await hosts.stop();
}
