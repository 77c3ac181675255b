/** The CLI as a new user tries it (issue 10): every mistake named, help where asked, plain text off a terminal. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { listeningLines, REPO_ROOT, spawnMosaic } from "../_helpers/processes.ts";

const ARGV_FIXTURE = "test/fixtures/argv-fixture.ts";

async function exitOf(args: string[], env?: Record<string, string>) {
  await using cli = spawnMosaic(args, { env });
  const status = await cli.waitForExit();
  return { code: status.code, stdout: cli.lines.stdout, stderr: cli.lines.stderr };
}

describe("the CLI as a new user tries it", () => {
  test.each([
    [["--bogus"], "mosaic: unknown flag --bogus: see mosaic --help"],
    [["bogus"], 'mosaic: unknown command "bogus": the commands are run, script, ping, profile'],
    [["run", "-w", "-1", ARGV_FIXTURE], 'mosaic: --nworkers must be an integer >= 1, got "-1"'],
  ])("%p names the real problem", async (args, message) => {
    const run = await exitOf(args);
    expect({ code: run.code, stderr: run.stderr.filter((line) => line !== "") }).toEqual({ code: 2, stderr: [message] });
  });

  test("mosaic ping --help prints ping's own help", async () => {
    const run = await exitOf(["ping", "--help"]);
    const text = run.stdout.join("\n");
    expect(run.code).toBe(0);
    expect(text).toContain("mosaic ping");
    expect(text).toContain("--nworkers");
    expect(text).not.toContain("COMMANDS");
  });

  test("help written to a pipe has no colour codes, nor with NO_COLOR", async () => {
    for (const env of [{}, { NO_COLOR: "1" }] as Record<string, string>[]) {
      const run = await exitOf(["--help"], env);
      expect(run.code).toBe(0);
      expect(run.stdout.join("\n")).toContain("USAGE");
      expect(run.stdout.filter((line) => line.includes("\x1b["))).toEqual([]);
    }
  });

  test("a script that does not exist is named once, before anything starts", async () => {
    const run = await exitOf(["run", "-w", "1", "missing-script.ts"]);
    expect({ code: run.code, stderr: run.stderr.filter((line) => line !== ""), listening: listeningLines(run.stdout) }).toEqual({
      code: 2,
      stderr: [`mosaic: the script missing-script.ts does not exist (${resolve(REPO_ROOT, "missing-script.ts")})`],
      listening: [],
    });
  });

  test("init() with other options than mosaic run's says they are ignored and which win", async () => {
    // run-fixture asks for numWorkers 1.
    const run = await exitOf(["run", "-w", "2", "test/fixtures/run-fixture.ts"]);
    expect(run.code).toBe(0);
    const warnings = [...run.stdout, ...run.stderr].filter((line) => line.includes("is ignored"));
    expect(warnings).toEqual([expect.stringMatching(/init\(\{ numWorkers: 1 \}\) is ignored: the runtime is already running with \{ numWorkers: 2 \}, as mosaic run/)]);
  });

  test("a worker process sees the script as its program, not the runtime's role flags", async () => {
    const out = mkdtempSync(join(tmpdir(), "mosaic-argv-"));
    try {
      const run = await exitOf(["run", "-w", "1", ARGV_FIXTURE, "a", "--b"], { ARGV_OUT: out });
      const result = JSON.parse(run.stdout.find((line) => line.startsWith("result "))!.slice(7));
      const script = resolve(REPO_ROOT, ARGV_FIXTURE);
      const workers = readdirSync(out).map((file) => JSON.parse(readFileSync(join(out, file), "utf8")));
      expect({ result, workers }).toEqual({ result: { head: [script, "a", "--b"], workers: 1 }, workers: [[script]] });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
