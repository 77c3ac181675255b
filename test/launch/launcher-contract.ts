/**
 * What every launcher must do, declared once and run against each
 * implementation (test/launch/<name>.test.ts). The runtimes it starts are
 * test/fixtures/launch-child-fixture.ts in one of its modes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LaunchedRuntime, Launcher, LaunchSpec } from "../../src/launch/launcher.ts";
import type { LogStream } from "../../src/logging/logger.ts";
import { expectProcessesGone, FIXTURES } from "../_helpers/processes.ts";
import { type LauncherName, LAUNCHERS, type LauncherUnderTest } from "../fixtures/_launchers.ts";

const FIXTURE = join(FIXTURES, "launch-child-fixture.ts");

/** Long enough for a few process starts on a loaded 2-core machine. */
const TIMEOUT = 20_000;

/** What a launched runtime printed, by stream, and a way to wait for a line. */
class Output {
  readonly lines: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };
  readonly uids = new Set<string>();
  #waiters: { matches: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  readonly sink = (uid: string, stream: LogStream, lines: string[]): void => {
    this.uids.add(uid);
    if (stream !== "stdout" && stream !== "stderr") throw new Error(`a launched runtime's output came as "${stream}"`);
    this.lines[stream].push(...lines);
    for (const waiter of this.#waiters) {
      const found = lines.find(waiter.matches);
      if (found !== undefined) waiter.resolve(found);
    }
  };

  /** Resolves with the first stdout line that is `line` (or matches it); rejects if the runtime exits first. */
  stdoutLine(line: string | RegExp, runtime: LaunchedRuntime): Promise<string> {
    const matches = typeof line === "string" ? (l: string) => l === line : (l: string) => line.test(l);
    const found = this.lines.stdout.find(matches);
    if (found !== undefined) return Promise.resolve(found);
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    this.#waiters.push({ matches, resolve });
    runtime.exited.then(() => reject(new Error(`${runtime.describeExit()} before printing "${line}"; stdout: ${this.lines.stdout.join(" | ")}`)));
    return promise;
  }
}

/**
 * A Unix socket listener that collects the lines each connection sends. A
 * socket file, not TCP: processes on every test host (network namespaces of
 * one machine, one file system) reach it.
 */
function lineServer() {
  const dir = mkdtempSync(join(tmpdir(), "mosaic-launch-"));
  const path = join(dir, "lines.sock");
  const lines: string[] = [];
  const closed = Promise.withResolvers<void>();
  const hello = Promise.withResolvers<number>();
  const gone = Promise.withResolvers<string>();
  const listener = Bun.listen<{ partial: string }>({
    unix: path,
    socket: {
      open(socket: Socket<{ partial: string }>) {
        socket.data = { partial: "" };
      },
      data(socket, chunk) {
        const parts = (socket.data.partial + chunk.toString()).split("\n");
        socket.data.partial = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          if (line.startsWith("hello ")) hello.resolve(Number(line.slice("hello ".length)));
          if (line.startsWith("gone ")) gone.resolve(line.slice("gone ".length));
        }
      },
      close() {
        closed.resolve();
      },
    },
  });
  const stop = () => {
    listener.stop(true);
    rmSync(dir, { recursive: true, force: true });
  };
  return { path, lines, hello: hello.promise, gone: gone.promise, closed: closed.promise, stop };
}

/** The process's state letter in /proc (the test hosts share this machine's pids). */
function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/** Waits until the kernel shows `pid` stopped (`T`); a process that is not our child gives no event for it. */
async function untilStopped(pid: number): Promise<void> {
  const deadline = performance.now() + 5000;
  while (stateOf(pid) !== "T") {
    if (performance.now() > deadline) throw new Error(`pid ${pid} is not stopped (state ${stateOf(pid)})`);
    await Bun.sleep(5);
  }
}

/** SIGSTOP, then waits until it took. */
async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, "SIGSTOP");
  await untilStopped(pid);
}

/** Declares the launcher contract for the launcher of this name in test/fixtures/_launchers.ts. */
export function describeLauncherContract(name: LauncherName, { skip = false }: { skip?: boolean } = {}): void {
  const subject: LauncherUnderTest = LAUNCHERS[name];
  // Made at the first launch: a launcher for test hosts needs them started (beforeAll) first.
  let launcher: Launcher | undefined;
  const started: LaunchedRuntime[] = [];

  function launch(args: string[], overrides: Partial<LaunchSpec> = {}): { runtime: LaunchedRuntime; output: Output } {
    launcher ??= subject.create([process.execPath, FIXTURE]);
    const output = new Output();
    const env = { ...subject.env?.(), ...overrides.env };
    const runtime = launcher.launch({ uid: `test:${started.length}`, args, secret: "s3cret-for-tests", host: subject.host, output: output.sink, ...overrides, env });
    started.push(runtime);
    return { runtime, output };
  }

  // A failed test must not leave its runtimes running.
  afterEach(async () => {
    for (const runtime of started.splice(0)) {
      runtime.kill("the test ended");
      await runtime.exited;
    }
  });

  describe.skipIf(skip)(`${name} launcher`, () => {
    test("output lines reach the sink in order with their stream, the last one without a newline too, before exited resolves with the exit code", async () => {
      const { runtime, output } = launch(["lines", "2000", "7"], { uid: "node:3" });
      const exit = await runtime.exited;
      const numbered = (prefix: string) => Array.from({ length: 2000 }, (_, i) => `${prefix} ${i}`);
      expect({ exit, uids: [...output.uids], ...output.lines }).toEqual({
        exit: { code: 7, signal: null },
        uids: ["node:3"],
        stdout: [...numbered("out"), "out last"],
        stderr: numbered("err"),
      });
      expect(runtime.exit).toEqual(exit);
      expect(runtime.describeExit()).toStartWith("node:3 ");
      expect(runtime.describeExit()).toContain("exited with code 7; last stderr lines:\n  err 1980\n");
    }, TIMEOUT);

    test("a runtime ended by a signal reports the signal and no code", async () => {
      const { runtime } = launch(["signal", "SIGHUP"]);
      expect(await runtime.exited).toEqual({ code: null, signal: "SIGHUP" });
      expect(runtime.describeExit()).toContain("was killed by SIGHUP");
    }, TIMEOUT);

    test("the spec's environment and the secret reach the runtime, the secret not on its command line", async () => {
      const secret = `secret-${crypto.randomUUID()}`;
      const { runtime, output } = launch(["env", "--flag", "x"], { env: { LAUNCH_TEST_VALUE: "from the spec" }, secret });
      expect(await runtime.exited).toEqual({ code: 0, signal: null });
      const report = JSON.parse(output.lines.stdout.find((line) => line.startsWith("env "))!.slice("env ".length));
      expect({ args: report.argv.slice(-3), value: report.value, secret: report.secret, secretInArgv: report.argv.some((arg: string) => arg.includes(secret)) }).toEqual({
        args: ["env", "--flag", "x"],
        value: "from the spec",
        secret,
        secretInArgv: false,
      });
      expect(runtime.pid).toBe(subject.knowsPid ? report.pid : undefined);
    }, TIMEOUT);

    test("the runtime runs on the spec's host: in that host's network namespace", async () => {
      const { runtime, output } = launch(["env"]);
      expect(await runtime.exited).toEqual({ code: 0, signal: null });
      const report = JSON.parse(output.lines.stdout.find((line) => line.startsWith("env "))!.slice("env ".length));
      expect(report.netns).toBe(subject.netns?.() ?? readlinkSync("/proc/self/ns/net"));
    }, TIMEOUT);

    test("terminate() asks with SIGTERM: a runtime that ends on it is not killed", async () => {
      const { runtime, output } = launch(["wait"]);
      await output.stdoutLine("ready", runtime);
      expect(await runtime.terminate(60_000)).toEqual({ code: null, signal: "SIGTERM" });
    }, TIMEOUT);

    test("terminate() sends SIGKILL after the grace to a runtime that ignores SIGTERM", async () => {
      const { runtime, output } = launch(["ignore-term"]);
      await output.stdoutLine("ready", runtime);
      const terminated = runtime.terminate(300);
      await output.stdoutLine("got SIGTERM", runtime);
      expect(await terminated).toEqual({ code: null, signal: "SIGKILL" });
      expect(runtime.describeExit()).toContain("was killed by SIGKILL");
    }, TIMEOUT);

    test("terminate() of a stopped runtime (SIGSTOP, Ctrl-Z) continues it: it ends on its SIGTERM, not on the grace's SIGKILL", async () => {
      const { runtime, output } = launch(["stop-self"]);
      const pid = Number((await output.stdoutLine(/^stopping \d+$/, runtime)).split(" ")[1]);
      await untilStopped(pid);
      // A grace the test outlasts: without the SIGCONT the runtime would hold its SIGTERM until the SIGKILL.
      expect(await runtime.terminate(TIMEOUT / 2)).toEqual({ code: 0, signal: null });
      expect(output.lines.stdout).toEqual([`stopping ${pid}`, "got SIGTERM"]);
    }, TIMEOUT);

    test("kill(reason) ends the runtime at once and describeExit() gives the reason", async () => {
      const { runtime, output } = launch(["ignore-term"], { uid: "worker:0:1" });
      await output.stdoutLine("ready", runtime);
      runtime.kill("sent nothing for 6000 ms (heartbeat timeout)");
      expect(await runtime.exited).toEqual({ code: null, signal: "SIGKILL" });
      expect(output.lines.stdout).not.toContain("got SIGTERM");
      expect(runtime.describeExit()).toStartWith("worker:0:1 (");
      expect(runtime.describeExit()).toEndWith(") was killed by its parent: sent nothing for 6000 ms (heartbeat timeout)");
      if (subject.knowsPid) expect(runtime.describeExit()).toStartWith(`worker:0:1 (pid ${runtime.pid})`);
    }, TIMEOUT);

    test("terminate() and kill() after the exit change nothing", async () => {
      const { runtime } = launch(["lines", "1", "3"]);
      const exit = await runtime.exited;
      const described = runtime.describeExit();
      runtime.kill("too late");
      expect(await runtime.terminate(0)).toEqual(exit);
      expect(runtime.describeExit()).toBe(described);
    }, TIMEOUT);

    test("a runtime's parent watch fires when the process that launched it dies, and nothing is left running", async () => {
      const server = lineServer();
      try {
        const { runtime: middle } = launch(["middle", name, server.path]);
        const grandchild = await Promise.race([server.hello, middle.exited.then(() => Promise.reject(new Error(middle.describeExit())))]);
        middle.kill("the test kills the launching process");
        expect(await middle.exited).toEqual({ code: null, signal: "SIGKILL" });
        const reason = await server.gone;
        await server.closed;
        expect(server.lines).toEqual([`hello ${grandchild}`, `gone ${reason}`]);
        expect(reason).toMatch(/^parent process /);
        await expectProcessesGone([grandchild]);
      } finally {
        server.stop();
      }
    }, TIMEOUT);

    test("a stopped runtime (SIGSTOP, Ctrl-Z) whose launching process dies is continued: its parent watch fires, and nothing is left running", async () => {
      const server = lineServer();
      let stopped: number | undefined;
      try {
        const { runtime: middle } = launch(["middle", name, server.path]);
        const grandchild = await Promise.race([server.hello, middle.exited.then(() => Promise.reject(new Error(middle.describeExit())))]);
        stopped = grandchild;
        await stopProcess(grandchild);
        middle.kill("the test kills the launching process");
        expect(await middle.exited).toEqual({ code: null, signal: "SIGKILL" });
        // Left stopped, it would never say it is gone: this fails (after a while) listing it instead of hanging.
        await expectProcessesGone([grandchild]);
        await server.closed;
        expect(server.lines).toEqual([`hello ${grandchild}`, expect.stringMatching(/^gone parent process /)]);
      } finally {
        // Failed: the stopped grandchild is not the test's child, nor a runtime expectProcessesGone ends.
        try {
          if (stopped !== undefined && readFileSync(`/proc/${stopped}/cmdline`, "utf8").includes("launch-child-fixture")) process.kill(stopped, "SIGKILL");
        } catch {} // gone, as it should be
        server.stop();
      }
    }, TIMEOUT);

    // A launcher to another host holds a local client process (ssh, srun): someone may kill it, not the runtime.
    test.skipIf(subject.host === undefined)("killing the launcher's local client (ssh, srun) ends the runtime on its host, and nothing is left running", async () => {
      const server = lineServer();
      try {
        const { runtime } = launch(["watch", server.path]);
        const watcher = await Promise.race([server.hello, runtime.exited.then(() => Promise.reject(new Error(runtime.describeExit())))]);
        process.kill((runtime as LaunchedRuntime & { clientPid: number }).clientPid, "SIGKILL");
        expect(await runtime.exited).toEqual({ code: null, signal: "SIGKILL" });
        await server.closed;
        await expectProcessesGone([watcher]);
        // Over ssh the runtime's parent watch fires (the session's EOF); slurmstepd kills a step whose srun is gone.
        if (subject.clientDeath === "parent watch") expect(server.lines).toEqual([`hello ${watcher}`, "gone parent process closed its pipe"]);
        else expect(server.lines).toEqual([`hello ${watcher}`]);
      } finally {
        server.stop();
      }
    }, TIMEOUT);
  });
}
