/**
 * Runs every benchmark (bench/*.bench.ts), each as its own `bun` process so
 * that a runtime started by one never disturbs another, one after the other.
 * Their stdout (JSON lines, one measurement each) is forwarded to stdout;
 * their stderr (commentary) passes through. Exits non-zero if any benchmark
 * failed: a non-zero exit, a timeout, no measurement, or a stdout line that is
 * not a JSON object. The lines also go to bench/out/results.jsonl, and those
 * with a `plot_series` are drawn into bench/out/transfers.svg (bench/out is
 * not committed).
 *
 *   bun bench/run.ts            # all of them
 *   bun bench/run.ts framing    # those whose file name contains "framing"
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { plotSeries, transferSvg } from "./_plot.ts";
import { basename, join, resolve } from "node:path";

const BENCH_DIR = import.meta.dir;
const ROOT = resolve(BENCH_DIR, "..");
/** A benchmark that takes longer than this is killed and counted as failed. */
const TIMEOUT_MS = 90_000;
/** Longer ones: the cluster bench starts hosts, SLURM and Grid Engine, and a dozen clusters. */
const TIMEOUTS_MS: Record<string, number> = { "cluster.bench.ts": 300_000 };

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const filters = process.argv.slice(2);
const files = [...new Bun.Glob("*.bench.ts").scanSync({ cwd: BENCH_DIR })]
  .sort()
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)));
if (files.length === 0) {
  log(`bench: no benchmark matches ${filters.join(", ") || "*.bench.ts"} in ${BENCH_DIR}`);
  process.exit(1);
}

/** Other work on the machine skews every figure: say how busy it was. */
function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** The machine's CPU time so far (/proc/stat's first line, in clock ticks): [all, steal]; undefined off Linux. */
function cpuTimes(): [total: number, steal: number] | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is counted in user already).
    return [fields.reduce((total, ticks) => total + ticks, 0), fields[7] ?? 0];
  } catch {
    return undefined;
  }
}

/**
 * A virtual machine's hypervisor may run other guests on our CPUs: the time it
 * takes ("steal") is time every figure of the benchmark lost, unevenly. Each
 * benchmark's share of it is reported as a measurement of its own, so a slow run
 * can be told from a slow runtime.
 */
function stealLine(bench: string, before: [number, number] | undefined, after: [number, number] | undefined): Record<string, unknown> | undefined {
  if (!before || !after || after[0] <= before[0]) return undefined;
  const fraction = (after[1] - before[1]) / (after[0] - before[0]);
  return { bench, metric: "cpu_steal_fraction", value: Math.round(fraction * 1000) / 1000, unit: "of all CPU time", what: "time the hypervisor gave to others while this benchmark ran (/proc/stat steal)" };
}

const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
log(`bench: bun ${Bun.version}, commit ${commit.exitCode === 0 ? commit.stdout.toString().trim() : "unknown"}, ${navigator.hardwareConcurrency} CPUs, ${files.length} benchmark(s), load average ${loadAverage()}`);

/** Every measurement of this run, for bench/out. */
const collectedLines: Record<string, unknown>[] = [];

/** Forwards a child's stdout line by line; returns the number of measurements and of bad lines. */
async function forward(name: string, stream: ReadableStream<Uint8Array>, collected: Record<string, unknown>[]): Promise<{ measurements: number; bad: number }> {
  const decoder = new TextDecoder();
  let partial = "";
  let measurements = 0;
  let bad = 0;
  const line = (text: string) => {
    if (text.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {}
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      measurements++;
      collected.push(parsed as Record<string, unknown>);
      process.stdout.write(`${text}\n`);
    } else {
      bad++;
      log(`bench: ${name} printed a line that is not a JSON object on stdout: ${text}`);
    }
  };
  for await (const chunk of stream) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop()!;
    for (const text of lines) line(text);
  }
  line(partial + decoder.decode());
  return { measurements, bad };
}

const failed: string[] = [];
for (const file of files) {
  const name = basename(file);
  const started = performance.now();
  const cpuBefore = cpuTimes();
  log(`bench: ${name} ...`);
  const child = Bun.spawn([process.execPath, join(BENCH_DIR, file)], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  let timedOut = false;
  const timeout = TIMEOUTS_MS[name] ?? TIMEOUT_MS;
  const timer = setTimeout(() => {
    timedOut = true;
    log(`bench: ${name} did not finish within ${timeout / 1000} s; killing pid ${child.pid}`);
    // Its runtime's children notice their parent's pipe closing and exit too.
    process.kill(child.pid, "SIGKILL");
  }, timeout);
  const [{ measurements, bad }, code] = await Promise.all([forward(name, child.stdout, collectedLines), child.exited]);
  clearTimeout(timer);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const steal = stealLine(name.replace(/\.bench\.ts$/, ""), cpuBefore, cpuTimes());
  if (steal) {
    collectedLines.push(steal);
    process.stdout.write(`${JSON.stringify(steal)}\n`);
    log(`bench: ${name}: the hypervisor took ${(Number(steal.value) * 100).toFixed(1)}% of the CPU time (steal)`);
  }
  const problems = [
    timedOut ? "timed out" : code !== 0 ? `exit code ${code}${child.signalCode ? ` (${child.signalCode})` : ""}` : "",
    measurements === 0 ? "no measurements" : "",
    bad > 0 ? `${bad} non-JSON line(s) on stdout` : "",
  ].filter(Boolean);
  if (problems.length > 0) {
    failed.push(name);
    log(`bench: ${name} FAILED after ${seconds} s: ${problems.join(", ")}`);
  } else {
    log(`bench: ${name} ok, ${measurements} measurement(s) in ${seconds} s`);
  }
}

const OUT_DIR = join(BENCH_DIR, "out");
if (collectedLines.length > 0) {
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, "results.jsonl"), collectedLines.map((m) => JSON.stringify(m)).join("\n") + "\n");
  const series = plotSeries(collectedLines);
  if (series) {
    const title = `Transfer rate against size: cold, README usage, steady; ceilings (commit ${commit.exitCode === 0 ? commit.stdout.toString().trim() : "?"}, load ${loadAverage()})`;
    writeFileSync(join(OUT_DIR, "transfers.svg"), transferSvg(series, title));
    log(`bench: wrote ${join(OUT_DIR, "results.jsonl")} and ${join(OUT_DIR, "transfers.svg")}`);
  } else log(`bench: wrote ${join(OUT_DIR, "results.jsonl")}`);
}

log(`bench: load average ${loadAverage()}`);
if (failed.length > 0) {
  log(`bench: ${failed.length} of ${files.length} benchmark(s) failed: ${failed.join(", ")}`);
  process.exit(1);
}
