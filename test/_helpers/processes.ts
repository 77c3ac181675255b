/**
 * Real processes for integration tests: spawn a program, collect its output
 * line by line, wait for a line or for its exit (failing with the output so
 * far), and check afterwards that no process and no listening port of a
 * runtime tree survives.
 */
import { expect } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TreeInfo } from "../fixtures/_tree.ts";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const FIXTURES = resolve(import.meta.dir, "../fixtures");
export const MOSAIC_MAIN = join(REPO_ROOT, "src/cli/main.ts");

/** Long enough for a tree start on a loaded 2-core machine, short of the test timeout. */
const DEFAULT_WAIT_MS = 20_000;

export type Stream = "stdout" | "stderr";

export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export interface WaitOptions {
  stream?: Stream;
  /** Index of the first line to look at (default 0: any line so far counts). */
  from?: number;
  timeout?: number;
}

interface LineWaiter {
  stream: Stream;
  from: number;
  matches: (line: string) => boolean;
  resolve: (line: string) => void;
}

/**
 * A process started by a test, with its stdin as a pipe. `await using` kills
 * it (SIGKILL) if it is still running when the test ends.
 */
export class SpawnedProcess implements AsyncDisposable {
  readonly command: string[];
  readonly process: Subprocess<"pipe", "pipe", "pipe">;
  readonly lines: Record<Stream, string[]> = { stdout: [], stderr: [] };
  /** Resolves once the process has exited and all of its output was read. */
  readonly exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;
  #waiters = new Set<LineWaiter>();
  #exitWaiters = new Set<() => void>();

  constructor(command: string[], options: SpawnOptions = {}) {
    this.command = command;
    this.process = Bun.spawn(command, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const pumps = [this.#pump(this.process.stdout, "stdout"), this.#pump(this.process.stderr, "stderr")];
    this.exited = Promise.all([this.process.exited, ...pumps]).then(() => {
      const signal = this.process.signalCode;
      const status: ExitStatus = { code: this.process.exitCode, signal: signal === null ? null : String(signal) };
      this.exitStatus = status;
      for (const notify of this.#exitWaiters) notify();
      return status;
    });
  }

  get pid(): number {
    return this.process.pid;
  }

  /**
   * Resolves with the first line of `stream` (from index `from` on) that
   * contains `match` (a string) or matches it (a RegExp). Fails with the
   * output so far if the process exits first or the time runs out.
   */
  waitForLine(match: string | RegExp, options: WaitOptions = {}): Promise<string> {
    const stream = options.stream ?? "stdout";
    const from = options.from ?? 0;
    const matches = typeof match === "string" ? (line: string) => line.includes(match) : (line: string) => match.test(line);
    const found = this.lines[stream].slice(from).find(matches);
    if (found !== undefined) return Promise.resolve(found);
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const timeout = options.timeout ?? DEFAULT_WAIT_MS;
    const fail = (why: string) => {
      cleanup();
      reject(new Error(`${why} while waiting for a ${stream} line matching ${String(match)}\n${this.describe()}`));
    };
    const timer = setTimeout(() => fail(`no such line within ${timeout} ms`), timeout);
    const onExit = () => fail(`process exited (${describeStatus(this.exitStatus!)})`);
    const waiter: LineWaiter = {
      stream,
      from,
      matches,
      resolve: (line) => {
        cleanup();
        resolve(line);
      },
    };
    const cleanup = () => {
      clearTimeout(timer);
      this.#waiters.delete(waiter);
      this.#exitWaiters.delete(onExit);
    };
    this.#waiters.add(waiter);
    if (this.exitStatus) onExit();
    else this.#exitWaiters.add(onExit);
    return promise;
  }

  /** The exit status, failing with the output so far if the process is still running after `timeout`. */
  async waitForExit(timeout = DEFAULT_WAIT_MS): Promise<ExitStatus> {
    let timer: Timer | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`process still running after ${timeout} ms\n${this.describe()}`)), timeout);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes one line to the process's stdin. */
  send(line: string): void {
    this.process.stdin.write(`${line}\n`);
    this.process.stdin.flush();
  }

  closeStdin(): void {
    this.process.stdin.end();
  }

  kill(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  /** The command, its exit and its output, for failure messages. */
  describe(): string {
    const tail = (stream: Stream) => this.lines[stream].slice(-80).join("\n  ");
    const status = this.exitStatus ? describeStatus(this.exitStatus) : `running (pid ${this.pid})`;
    return `$ ${this.command.join(" ")}\n${status}\nstdout:\n  ${tail("stdout")}\nstderr:\n  ${tail("stderr")}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.exitStatus) this.process.kill("SIGKILL");
    await this.exited;
  }

  async #pump(stream: ReadableStream<Uint8Array>, name: Stream): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
      partial = lines.pop()!;
      for (const line of lines) this.#addLine(name, line);
    }
    partial += decoder.decode();
    if (partial.length > 0) this.#addLine(name, partial);
  }

  #addLine(stream: Stream, line: string): void {
    const index = this.lines[stream].push(line) - 1;
    for (const waiter of this.#waiters) {
      if (waiter.stream === stream && index >= waiter.from && waiter.matches(line)) waiter.resolve(line);
    }
  }
}

function describeStatus(status: ExitStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exited with code ${status.code}`;
}

/** `bun test/fixtures/<name> [args]`: the fixture is the head's program. */
export function spawnFixture(name: string, args: string[] = [], options: SpawnOptions = {}): SpawnedProcess {
  return new SpawnedProcess([process.execPath, join(FIXTURES, name), ...args], options);
}

/** `bun src/cli/main.ts [args]`: the mosaic CLI from source. */
export function spawnMosaic(args: string[], options: SpawnOptions = {}): SpawnedProcess {
  return new SpawnedProcess([process.execPath, MOSAIC_MAIN, ...args], options);
}

/** Waits for the head fixture's `ready <json>` line and returns the tree it describes. */
export async function readyTree(head: SpawnedProcess): Promise<TreeInfo> {
  const line = await head.waitForLine(/^ready \{/);
  return JSON.parse(line.slice("ready ".length)) as TreeInfo;
}

let pingIds = 0;

/** Sends `ping <id>` to the head fixture and returns the uids of the workers that answered. */
export async function pingThroughHead(head: SpawnedProcess): Promise<string[]> {
  const id = ++pingIds;
  head.send(`ping ${id}`);
  const line = await head.waitForLine(new RegExp(`^(pong|ping) ${id} `));
  if (!line.startsWith("pong ")) throw new Error(`${line}\n${head.describe()}`);
  return JSON.parse(line.slice(`pong ${id} `.length)) as string[];
}

/** A runtime's Listening line as the head prints it: `WORKER:0:0      Listening at 127.0.0.1:PORT (pid N, host H)`. */
export interface ListeningLine {
  uid: string;
  address: string;
  port: number;
  pid: number;
}

export function listeningLines(lines: string[]): ListeningLine[] {
  const pattern = /^(\S+)\s+Listening at (\S+):(\d+) \(pid (\d+), host [^)]*\)$/;
  return lines.flatMap((line) => {
    const m = pattern.exec(line);
    return m ? [{ uid: m[1]!.toLowerCase(), address: m[2]!, port: Number(m[3]), pid: Number(m[4]) }] : [];
  });
}

// ---------------------------------------------------------------------------
// What survives a runtime

/**
 * Whether a process exists and is not a zombie. A zombie is dead: it only
 * waits for a parent (or init) to reap it.
 */
export function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * Waits until none of `pids` is alive. There is no exit event for processes
 * that are not our children, so this polls /proc, up to `within` ms (0: check
 * once, for trees that must already be gone). On failure the survivors are
 * listed, and those that are still runtime processes (`--role` in their
 * command line, so never a recycled pid) are killed so they do not outlive
 * the test.
 */
export async function expectProcessesGone(pids: number[], { within = 5000 }: { within?: number } = {}): Promise<void> {
  const deadline = performance.now() + within;
  let survivors = pids.filter(isAlive);
  while (survivors.length > 0 && performance.now() < deadline) {
    await Bun.sleep(20);
    survivors = survivors.filter(isAlive);
  }
  const described = survivors.map((pid) => `${pid}: ${commandLine(pid)}`);
  for (const pid of survivors) {
    if (commandLine(pid).includes("--role")) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
  expect(described).toEqual([]);
}

/** Ports in LISTEN state on this machine (IPv4 and IPv6), from /proc/net/tcp{,6}. */
export function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields: sl local_address rem_address st ...; st 0A is LISTEN
      if (fields.length < 4 || fields[3] !== "0A") continue;
      ports.add(parseInt(fields[1]!.split(":").pop()!, 16));
    }
  }
  return ports;
}

/** Which processes hold a listening socket on `port` (for failure messages). */
function listenersOf(port: number): string[] {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A" && parseInt(fields[1]!.split(":").pop()!, 16) === port) inodes.add(fields[9]!);
    }
  }
  const owners: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (inodes.has(target.replace(/^socket:\[(\d+)\]$/, "$1"))) {
          owners.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").slice(0, 160)}`);
        }
      }
    } catch {}
  }
  return owners;
}

/** Fails listing the ports of `ports` that something still listens on, and who. */
export function expectPortsClosed(ports: number[]): void {
  const listening = listeningPorts();
  const open = ports.filter((port) => listening.has(port));
  expect(open.map((port) => ({ port, heldBy: listenersOf(port) }))).toEqual([]);
}

/**
 * Like expectPortsClosed, allowing the kernel a moment: a process whose leader
 * thread is already a zombie (counted as gone) may still be tearing down the
 * rest of the group, its sockets included. No event tells when that is done.
 */
export async function expectPortsClosedSoon(ports: number[], within = 3000): Promise<void> {
  const deadline = performance.now() + within;
  while (performance.now() < deadline) {
    const listening = listeningPorts();
    if (!ports.some((port) => listening.has(port))) return;
    await Bun.sleep(20);
  }
  expectPortsClosed(ports);
}

/** Everything a stopped tree must leave behind: nothing. */
export async function expectTreeGone(tree: Pick<TreeInfo, "pids" | "ports">, options: { within?: number } = {}): Promise<void> {
  await expectProcessesGone(tree.pids, options);
  await expectPortsClosedSoon(tree.ports);
}

/**
 * Fails listing what a stopped tree left on disk: its cluster's shared-memory
 * segments (`/dev/shm/mosaic-<cluster>-...`) and the spill directories of its
 * processes (`<tmp>/mosaic-spill-<uid>-<pid>`).
 */
export function expectFilesGone(cluster: string, pids: number[]): void {
  expect(cluster).toMatch(/^[\w-]+$/); // else the prefix below matches nothing and the check passes vacuously
  const segments = existsSync("/dev/shm") ? readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${cluster}-`)) : [];
  const ours = new Set(pids.map(String));
  const spills = readdirSync(tmpdir()).filter((name) => name.startsWith("mosaic-spill-") && ours.has(name.slice(name.lastIndexOf("-") + 1)));
  expect({ segments, spills }).toEqual({ segments: [], spills: [] });
}

/** Pids of the live children of `pid` (read from /proc). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid && fields[0] !== "Z") children.push(Number(entry));
    } catch {}
  }
  return children;
}
