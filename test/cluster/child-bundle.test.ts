import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { spawnFixture, spawnMosaic } from "../_helpers/processes.ts";
import { BUNDLE_ENV, ROLE_MAIN } from "../../src/cluster/child-bundle.ts";

const FIXTURE = resolve(import.meta.dir, "../fixtures/child-bundle-fixture.ts");

// Each test starts runtimes and builds bundles (Bun.build with bytecode, seconds on a loaded 2-core machine): the
// default 5 s ran out once when other work shared the machine.
setDefaultTimeout(60_000);

interface Round {
  /** What the monitor, the node and the worker were started with. */
  monitor: string;
  node: string;
  worker: string;
  echoed: number;
  /**
   * The worker's: the build its library came from ("source" if none), whether a deep import is the public entry's
   * module, what a module of the library's folder outside the library gives (its source, even from a build), and
   * what a library module that a thread's bundle leaves out gives (options.ts: its error, the library's class).
   */
  library: { bundle: string; same: boolean; outside: string; leftOut: string };
  /** The same, seen from the tessera's thread (it preloads the build its worker started from). */
  thread: { bundle: string; same: boolean; outside: string; leftOut: string };
}

async function runRounds(rounds: number, cache: string, env: Record<string, string> = {}): Promise<Round[]> {
  const folder = mkdtempSync(join(tmpdir(), "mosaic-child-bundle-notes-"));
  try {
    await using head = spawnFixture("child-bundle-fixture.ts", [String(rounds)], { env: { ...env, [BUNDLE_ENV]: cache, FIXTURE_LIBRARY: join(folder, "library") } });
    expect((await head.waitForExit()).code).toBe(0);
    return head.lines.stdout.filter((line) => line.startsWith("entries ")).map((line) => JSON.parse(line.slice("entries ".length)) as Round);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const SOURCES = resolve(import.meta.dir, "../../src");

/** Which of `modules` (paths under src/) the bundle `file` of a build serves (its entry's table names each one it holds). */
function served(build: string, file: string, modules: string[]): string[] {
  const text = readFileSync(join(build, file), "utf8");
  return modules.filter((module) => text.includes(`${JSON.stringify(realpathSync(join(SOURCES, module)))}: () =>`));
}

const FROM_SOURCE = { bundle: "source", same: true, outside: "01:30:00 true", leftOut: "InvalidArgumentError true" };

const fromSource = (echoed: number): Round => ({
  monitor: ROLE_MAIN,
  node: ROLE_MAIN,
  worker: FIXTURE,
  echoed,
  library: FROM_SOURCE,
  thread: FROM_SOURCE,
});

/** A round whose children all started from the build in `folder`. */
const fromBuild = (folder: string, echoed: number): Round => ({
  monitor: join(folder, "role-main.js"),
  node: join(folder, "role-main.js"),
  worker: join(folder, "program.js"),
  echoed,
  library: { ...FROM_SOURCE, bundle: `${basename(folder)} program.js` },
  // Its own bundle, only what a thread imports: a module it leaves out (options.ts) loads from source, one instance
  // of the library's modules all the same.
  thread: { ...FROM_SOURCE, bundle: `${basename(folder)} thread.js` },
});

test("children run source until a build is made after ready, then the build (the worker's library one instance from it); a source file changed since makes them run source again", async () => {
  const cache = mkdtempSync(join(tmpdir(), "mosaic-child-bundle-"));
  try {
    const [first, second] = await runRounds(2, cache);
    expect(first).toEqual(fromSource(0));
    const build = dirname(second!.monitor);
    expect(dirname(build)).toBe(cache);
    expect(second).toEqual(fromBuild(build, 1));
    for (const bundle of ["role-main.js", "program.js", "thread.js"]) expect(existsSync(join(build, `${bundle}.jsc`))).toBe(true); // Bun's bytecode, beside each
    // Each preloaded bundle holds what its process or thread imports, and not the rest of the library.
    expect(served(build, "program.js", ["cluster/worker.ts", "cluster/options.ts", "actors/worker/tessera-host.ts", "cluster/head.ts", "cluster/monitor.ts", "actors/thread/thread.ts"])).toEqual([
      "cluster/worker.ts",
      "cluster/options.ts",
      "actors/worker/tessera-host.ts",
    ]);
    expect(served(build, "thread.js", ["actors/thread/thread.ts", "actors/wire/call-message.ts", "cluster/options.ts", "cluster/worker.ts", "cluster/head.ts"])).toEqual([
      "actors/thread/thread.ts",
      "actors/wire/call-message.ts",
    ]);

    // Another process (a new program) takes the same build.
    expect(await runRounds(1, cache)).toEqual([fromBuild(build, 0)]);

    // A write to one of its sources, even one that leaves its content and mtime as they were, changes its ctime.
    const source = resolve(import.meta.dir, "../../src/cluster/node.ts");
    const { atime, mtime } = statSync(source);
    utimesSync(source, atime, mtime);
    const [stale, rebuilt] = await runRounds(2, cache);
    expect(stale).toEqual(fromSource(0));
    const next = dirname(rebuilt!.monitor);
    expect(next).not.toBe(build);
    expect(rebuilt).toEqual(fromBuild(next, 1));
    expect(dirname(next)).toBe(cache);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("a tessera thread whose worker's build was removed since the worker started loads the library from source", async () => {
  const cache = mkdtempSync(join(tmpdir(), "mosaic-child-bundle-"));
  try {
    await runRounds(1, cache); // makes the build
    const [round] = await runRounds(1, cache, { FIXTURE_DROP_BUILD: "1" });
    const build = dirname(round!.worker);
    expect(existsSync(build)).toBe(false);
    expect(round).toEqual({ ...fromBuild(build, 0), thread: FROM_SOURCE });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test(`${BUNDLE_ENV}=0: children always run source`, async () => {
  expect(await runRounds(2, "0")).toEqual([fromSource(0), fromSource(1)]);
});

test("a program that exits while its head builds the bundle leaves no part of that build behind", async () => {
  const cache = mkdtempSync(join(tmpdir(), "mosaic-child-bundle-"));
  try {
    // Under `mosaic run`, the script's end exits the process at once: the build started after ready is cut short.
    await using run = spawnMosaic(["run", "-w", "1", "--workspace", "", resolve(import.meta.dir, "../fixtures/run-fixture.ts")], { env: { [BUNDLE_ENV]: cache } });
    expect((await run.waitForExit()).code).toBe(0);
    expect(readdirSync(cache).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
