import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnFixture } from "../_helpers/processes.ts";
import { ROLE_BUNDLE_ENV, ROLE_MAIN } from "../../src/cluster/role-bundle.ts";

interface Round {
  monitor: string;
  node: string;
  echoed: number;
}

async function runRounds(rounds: number, cache: string): Promise<Round[]> {
  await using head = spawnFixture("role-bundle-fixture.ts", [String(rounds)], { env: { [ROLE_BUNDLE_ENV]: cache } });
  expect((await head.waitForExit()).code).toBe(0);
  return head.lines.stdout.filter((line) => line.startsWith("entries ")).map((line) => JSON.parse(line.slice("entries ".length)) as Round);
}

test("monitors and nodes run source until a bundle is built after ready, then the bundle; a source file changed since makes them run source again", async () => {
  const cache = mkdtempSync(join(tmpdir(), "mosaic-role-bundle-"));
  try {
    const [first, second] = await runRounds(2, cache);
    expect(first).toEqual({ monitor: ROLE_MAIN, node: ROLE_MAIN, echoed: 0 });
    const bundle = second!.monitor;
    expect(bundle.startsWith(`${cache}/`) && bundle.endsWith("/role-main.js")).toBe(true);
    expect(existsSync(`${bundle}.jsc`)).toBe(true); // Bun's bytecode, beside it
    expect(second).toEqual({ monitor: bundle, node: bundle, echoed: 1 });

    // Another process (a new program) takes the same bundle.
    expect(await runRounds(1, cache)).toEqual([{ monitor: bundle, node: bundle, echoed: 0 }]);

    // A write to one of its sources, even one that leaves its content and mtime as they were, changes its ctime.
    const source = resolve(import.meta.dir, "../../src/cluster/node.ts");
    const { atime, mtime } = statSync(source);
    utimesSync(source, atime, mtime);
    const [stale, rebuilt] = await runRounds(2, cache);
    expect(stale).toEqual({ monitor: ROLE_MAIN, node: ROLE_MAIN, echoed: 0 });
    expect(rebuilt!.monitor).not.toBe(bundle);
    expect(rebuilt).toEqual({ monitor: rebuilt!.monitor, node: rebuilt!.monitor, echoed: 1 });
    expect(rebuilt!.monitor.startsWith(`${cache}/`)).toBe(true);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test(`${ROLE_BUNDLE_ENV}=0: monitors and nodes always run source`, async () => {
  const rounds = await runRounds(2, "0");
  expect(rounds).toEqual([
    { monitor: ROLE_MAIN, node: ROLE_MAIN, echoed: 0 },
    { monitor: ROLE_MAIN, node: ROLE_MAIN, echoed: 1 },
  ]);
});
