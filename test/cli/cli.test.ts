import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TreeInfo } from "../fixtures/_tree.ts";
import {
  expectTreeGone,
  FIXTURES,
  listeningLines,
  MOSAIC_MAIN,
  REPO_ROOT,
  SpawnedProcess,
  spawnMosaic,
} from "../_helpers/processes.ts";

const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
const RUN_FIXTURE = "test/fixtures/run-fixture.ts";

interface RunResult {
  args: string[];
  uids: string[];
  tree: TreeInfo;
}

/** The `result <json>` line that run-fixture prints. */
async function runResult(program: SpawnedProcess): Promise<RunResult> {
  const line = await program.waitForLine(/^result \{/);
  return JSON.parse(line.slice("result ".length)) as RunResult;
}

describe("mosaic run", () => {
  test("runs the script on a runtime with the given workers, passes it its arguments and exits with its exit code", async () => {
    // Flags after the script are the script's own, even ones mosaic does not know.
    await using cli = spawnMosaic(["run", "-w", "2", RUN_FIXTURE, "a", "b", "--exit", "3"]);
    const result = await runResult(cli);
    expect(await cli.waitForExit()).toEqual({ code: 3, signal: null });
    expect(result.args).toEqual(["a", "b", "--exit", "3"]);
    // The fixture asks mosaic.run for one worker; it attached to the CLI's runtime of two.
    expect(result.uids.toSorted()).toEqual(["worker:0:0", "worker:0:1"]);
    expect(result.tree.pids).toHaveLength(4);
    await expectTreeGone(result.tree, { within: 0 });
  });

  test("runs a script named through a symbolic link, its tesserae's threads included (they run the file the link names)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mosaic-link-"));
    try {
      const link = join(dir, "linked-script.ts");
      symlinkSync(join(FIXTURES, "run-tessera-fixture.ts"), link);
      await using cli = spawnMosaic(["run", "-w", "1", link]);
      const line = await cli.waitForLine(/^result \{/);
      expect(JSON.parse(line.slice("result ".length))).toEqual({ threadMain: join(FIXTURES, "run-tessera-fixture.ts") });
      expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("takes options from MOSAIC_ environment variables, and a flag wins over its variable", async () => {
    await using fromEnv = spawnMosaic(["run", RUN_FIXTURE], { env: { MOSAIC_NUM_WORKERS: "3", MOSAIC_NUM_THREADS: "1" } });
    await using fromFlag = spawnMosaic(["run", "-w", "1", RUN_FIXTURE], { env: { MOSAIC_NUM_WORKERS: "3" } });
    const [envResult, flagResult] = await Promise.all([runResult(fromEnv), runResult(fromFlag)]);
    expect(await Promise.all([fromEnv.waitForExit(), fromFlag.waitForExit()])).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
    expect({ env: envResult.uids.toSorted(), flag: flagResult.uids }).toEqual({ env: ["worker:0:0", "worker:0:1", "worker:0:2"], flag: ["worker:0:0"] });
  });

  test("reports a script that throws, stops the runtime and exits with code 1", async () => {
    await using cli = spawnMosaic(["run", "-w", "1", RUN_FIXTURE, "--throw"]);
    const result = await runResult(cli);
    expect(await cli.waitForExit()).toEqual({ code: 1, signal: null });
    expect(cli.lines.stderr.join("\n")).toContain("main failed on purpose");
    await expectTreeGone(result.tree, { within: 0 });
  });

  test("a script that calls process.exit ends with that code and its runtime follows within a few seconds", async () => {
    await using cli = spawnMosaic(["run", "-w", "2", RUN_FIXTURE, "--process-exit", "4"]);
    const result = await runResult(cli);
    expect(await cli.waitForExit()).toEqual({ code: 4, signal: null });
    // No stop ran: the children notice that their parent is gone.
    await expectTreeGone(result.tree, { within: 5000 });
  });

  test.each([
    [["run", "--bogus", RUN_FIXTURE], "--bogus"],
    [["run", "-w", "1", "-x", RUN_FIXTURE], "-x"],
    [["ping", "--nworkerz", "2"], "--nworkerz"],
  ])("%p: an unknown flag exits with code 2 and a message naming it", async (args, flag) => {
    await using cli = spawnMosaic(args);
    expect(await cli.waitForExit()).toEqual({ code: 2, signal: null });
    expect(cli.lines.stderr).toContain(`mosaic: unknown flag ${flag}: see --help`);
    expect(cli.lines.stdout).toEqual([]);
  });

  test.each([
    [["run", "-w", "x", RUN_FIXTURE], /^mosaic: --nworkers must be an integer >= 1, got "x"$/],
    [["run", "-n", "0", RUN_FIXTURE], /^mosaic: option numNodes must be at least 1 \(0 only in dynamic mode, where nodes join\)$/],
    [["run", "-n", "-1", RUN_FIXTURE], /^mosaic: --nnodes must be an integer >= 0, got "-1"$/],
    [["run", "--heartbeat-interval", "1000", "--heartbeat-timeout", "1500", RUN_FIXTURE], /^mosaic: option heartbeatTimeout \(1500 ms\) must be at least twice/],
    [["run", "--log-level", "loud", RUN_FIXTURE], /^mosaic: unknown log level "loud"/],
    [["ping", "-w", "x"], /^mosaic: --nworkers must be an integer >= 1, got "x"$/],
    [["run"], /^mosaic: mosaic run needs a script/],
  ])("%p: a bad value exits with code 2 and says what is wrong", async (args, message) => {
    await using cli = spawnMosaic(args);
    expect(await cli.waitForExit()).toEqual({ code: 2, signal: null });
    expect(cli.lines.stderr.filter((line) => message.test(line))).toHaveLength(1);
    // Nothing was started.
    expect(listeningLines(cli.lines.stdout)).toEqual([]);
  });

  test("--version prints the package version", async () => {
    await using cli = spawnMosaic(["--version"]);
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    expect(cli.lines.stdout.filter((line) => line !== "")).toEqual([packageJson.version]);
  });

  test("--help describes the commands and exits with code 0", async () => {
    await using cli = spawnMosaic(["--help"]);
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    const text = cli.lines.stdout.join("\n");
    expect(text).toContain("mosaic");
    expect(text).toMatch(/\brun\b/);
    expect(text).toMatch(/\bping\b/);
  });

  test("run --help describes the run flags and exits with code 0", async () => {
    await using cli = spawnMosaic(["run", "--help"]);
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    expect(cli.lines.stdout.join("\n")).toContain("--nworkers");
    // Every option users may set, with its environment variable.
    for (const text of ["--heartbeat-interval", "--memory-limit", "--segment-idle-time", "MOSAIC_NUM_WORKERS"]) expect(cli.lines.stdout.join("\n")).toContain(text);
  });

  // Bug: src/cli/main.ts takes the first argument after `run` that does not start
  // with "-" for the script, so the value "2" hides the --help that follows it.
  test("run --help after a flag with a value still describes the run flags and exits with code 0", async () => {
    await using cli = spawnMosaic(["run", "-w", "2", "--help"]);
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    expect(cli.lines.stdout.join("\n")).toContain("--nworkers");
  });
});

describe("compiled binaries", () => {
  // Built once, outside the repository, so that nothing can come from node_modules.
  let dir = "";
  let mosaicBinary = "";
  let programBinary = "";
  let tutorialBinary = "";

  async function build(args: string[]): Promise<void> {
    await using build = new SpawnedProcess([process.execPath, "build", "--compile", ...args]);
    const status = await build.waitForExit(120_000);
    if (status.code !== 0) throw new Error(`bun build failed\n${build.describe()}`);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mosaic-cli-test-"));
    mosaicBinary = join(dir, "mosaic");
    programBinary = join(dir, "program");
    tutorialBinary = join(dir, "tutorial");
    await Promise.all([
      build([join(REPO_ROOT, "examples/tutorial.ts"), "--outfile", tutorialBinary]),
      // The flags of `bun run build` (package.json), into the temporary directory.
      build(["--bytecode", "--format=esm", "--minify-whitespace", "--minify-syntax", MOSAIC_MAIN, "--outfile", mosaicBinary]),
      build([join(FIXTURES, "run-fixture.ts"), "--outfile", programBinary]),
    ]);
  }, 120_000); // three compilations at once: slow on a loaded machine

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the mosaic binary runs `ping -w 2` as every role and leaves no process behind", async () => {
    await using cli = new SpawnedProcess([mosaicBinary, "ping", "-w", "2"], { cwd: dir });
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    const runtimes = listeningLines(cli.lines.stdout);
    expect(runtimes.map((r) => r.uid).toSorted()).toEqual(["head", "monitor", "node:0", "worker:0:0", "worker:0:1"]);
    const pings = cli.lines.stdout.filter((line) => /^HEAD\s+ping worker:0:[01]: \d+ us$/.test(line));
    expect(pings).toHaveLength(2);
    await expectTreeGone({ pids: runtimes.map((r) => r.pid), ports: runtimes.map((r) => r.port) }, { within: 0 });
  });

  test("the mosaic binary serves the dashboard page it carries (mosaic run --dashboard)", async () => {
    // A script that imports nothing: it waits for SIGUSR2 while the test looks at the page.
    const script = join(dir, "wait-fixture.ts");
    writeFileSync(script, 'const done = new Promise((resolve) => process.once("SIGUSR2", resolve));\nconsole.log("waiting");\nawait done;\n');
    await using cli = new SpawnedProcess([mosaicBinary, "run", "--dashboard=0", "-w", "1", script], { cwd: dir, env: { MOSAIC_WORKSPACE: "" } });
    const line = await cli.waitForLine(/dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    const url = new URL(line.slice(line.indexOf("http://")));
    const page = await fetch(url);
    const html = await page.text();
    const refused = await fetch(url.origin);
    expect({ status: page.status, page: html.includes('id="chart-cpu"') && html.includes("uplot"), refused: refused.status }).toEqual({ status: 200, page: true, refused: 401 });
    await cli.waitForLine(/^waiting$/);
    cli.kill("SIGUSR2");
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    const runtimes = listeningLines(cli.lines.stdout);
    await expectTreeGone({ pids: runtimes.map((r) => r.pid), ports: [...runtimes.map((r) => r.port), Number(url.port)] }, { within: 0 });
  });

  test("the compiled tutorial runs its tesserae (threads, dependencies, worker output) without node_modules", async () => {
    await using tutorial = new SpawnedProcess([tutorialBinary], { cwd: dir, env: { TUTORIAL_SLEEP_MS: "50" } });
    expect(await tutorial.waitForExit()).toEqual({ code: 0, signal: null });
    const lines = tutorial.lines.stdout;
    for (const line of ["WORKER:0:0      Solve 1", "WORKER:0:1      Solve 2", "WORKER:0:0      Done More 1", "WORKER:0:1      Done More 2"]) {
      expect(lines).toContain(line);
    }
    const runtimes = listeningLines(lines);
    await expectTreeGone({ pids: runtimes.map((r) => r.pid), ports: runtimes.map((r) => r.port) }, { within: 0 });
  });

  test("the mosaic binary runs a script that imports the library as mosaic-bun, its tesserae on worker threads included", async () => {
    const script = join(dir, "adder.ts");
    await Bun.write(
      script,
      [
        'import * as mosaic from "mosaic-bun";',
        'import { tessera, Tessera } from "mosaic-bun";',
        "@tessera",
        "class Adder extends Tessera { add(a: number, b: number): number { return a + b; } pid(): number { return process.pid; } }",
        "await mosaic.run(async (runtime) => {",
        "  const adder = Adder.remote();",
        '  console.log(`result ${JSON.stringify({ sum: await adder.add(2, 3).result(), elsewhere: (await adder.pid().result()) !== process.pid, workers: runtime.workers.length })}`);',
        "});",
      ].join("\n"),
    );
    await using cli = new SpawnedProcess([mosaicBinary, "run", "-w", "2", script], { cwd: dir });
    const line = await cli.waitForLine(/^result \{/);
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    expect(JSON.parse(line.slice("result ".length))).toEqual({ sum: 5, elsewhere: true, workers: 2 });
    const runtimes = listeningLines(cli.lines.stdout);
    await expectTreeGone({ pids: runtimes.map((r) => r.pid), ports: runtimes.map((r) => r.port) }, { within: 0 });
  });

  test("the mosaic binary is its own launch entry for remote hosts: --launch-entry with a closed session runs nothing", async () => {
    await using entry = new SpawnedProcess([mosaicBinary, "--launch-entry", mosaicBinary, "--role", "node"], { cwd: dir });
    entry.process.stdin.end();
    expect(await entry.waitForExit()).toEqual({ code: 0, signal: null });
    expect(entry.lines.stderr.filter((line) => line !== "")).toEqual([]);
  });

  test("a user program compiled with bun build --compile runs every role from a directory without node_modules", async () => {
    await using program = new SpawnedProcess([programBinary, "x", "--exit", "5"], { cwd: dir });
    const result = await runResult(program);
    expect(await program.waitForExit()).toEqual({ code: 5, signal: null });
    expect(result).toMatchObject({ args: ["x", "--exit", "5"], uids: ["worker:0:0"] });
    expect(result.tree.pids).toHaveLength(3);
    await expectTreeGone(result.tree, { within: 0 });
  });
});
