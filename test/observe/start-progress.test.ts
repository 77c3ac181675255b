/**
 * Progress while the runtime starts (issue 12, point 7): plain lines when the
 * output is not a terminal, one line updated in place on a terminal (a real
 * pseudo-terminal through util-linux's `script`), colour only without NO_COLOR.
 */
import { describe, expect, test } from "bun:test";
import { MOSAIC_MAIN, SpawnedProcess, spawnMosaic } from "../_helpers/processes.ts";

const ESC = "\x1b";
const SCRIPT = Bun.which("script");

describe("start-up progress", () => {
  test("without a terminal the head prints a plain line per node as it joins, then one when all are up", async () => {
    await using cli = spawnMosaic(["ping", "-n", "2", "-w", "1"]);
    expect(await cli.waitForExit()).toEqual({ code: 0, signal: null });
    const lines = [...cli.lines.stdout, ...cli.lines.stderr];
    const progress = lines.filter((line) => / joined with | started in /.test(line));
    expect(progress.map((line) => line.replace(/node:[01]/, "node:N").replace(/\d+\.\d+ s/, "T s"))).toEqual([
      "HEAD            node:N joined with 1 worker: 1 of 2 nodes, 1 of 2 workers up",
      "HEAD            node:N joined with 1 worker: 2 of 2 nodes, 2 of 2 workers up",
      "HEAD            started in T s: 2 nodes, 2 workers",
    ]);
    expect(lines.some((line) => line.includes(ESC))).toBe(false);
  });

  describe.skipIf(!SCRIPT)("on a terminal", () => {
    /** The raw bytes a terminal gets from `mosaic ping` (stdout and stderr both go to it). */
    async function onTerminal(env: Record<string, string>): Promise<string> {
      await using run = new SpawnedProcess([SCRIPT!, "-qec", `${process.execPath} ${MOSAIC_MAIN} ping -n 2 -w 1`, "/dev/null"], { env: { ...env, TERM: "xterm" } });
      expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
      return run.lines.stdout.join("\n");
    }

    test("one line is updated in place (erased before other lines and redrawn after), in colour", async () => {
      const raw = await onTerminal({ NO_COLOR: "" });
      expect(raw).toContain(`\r${ESC}[2K${ESC}[32mstarting: 2 of 2 nodes, 2 of 2 workers up${ESC}[39m`);
      // No plain per-node lines: the updating line says it.
      expect(raw).not.toContain(" joined with ");
      expect(raw).toMatch(/HEAD {12}started in \d+\.\d+ s: 2 nodes, 2 workers/);
    });

    test("NO_COLOR keeps the updating line but drops the colour codes", async () => {
      const raw = await onTerminal({ NO_COLOR: "1" });
      expect(raw).toContain(`\r${ESC}[2Kstarting: 2 of 2 nodes, 2 of 2 workers up`);
      expect(raw).not.toContain(`${ESC}[32m`);
    });
  });
});
