/**
 * Dynamic mode on this machine: a head started with `mosaic run --dynamic`
 * and nodes started by hand with `mosaic --role node --join HOST:PORT`, as a
 * user (or Kubernetes) would: the secret checked at the handshake, a made
 * secret written to a file only its owner reads, nodes joining and leaving
 * while the program runs, and nothing left after the head stops.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync, chmodSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { expectProcessesGone, FIXTURES, type SpawnedProcess, spawnMosaic } from "../_helpers/processes.ts";

const SECRET = "dynamic-test-secret";

function results(process: SpawnedProcess): Record<string, any> {
  return Object.fromEntries(
    process.lines.stdout.filter((line) => line.startsWith("result ")).map((line) => JSON.parse(line.slice(7))).map(({ label, value }) => [label, value]),
  );
}

function events(process: SpawnedProcess): { type: string; uid: string }[] {
  return process.lines.stdout.filter((line) => line.startsWith("event ")).map((line) => JSON.parse(line.slice(6)));
}

/** Starts the fixture's head in dynamic mode; resolves with it and the HOST:PORT its log tells nodes to join. */
async function startHead(args: string[], env: Record<string, string | undefined> = { MOSAIC_SECRET: SECRET }, cwd?: string) {
  const head = spawnMosaic(["run", "--dynamic", "--port", "0", "--workspace", "", ...args.filter((a) => !a.startsWith("fixture:")), `${FIXTURES}/dynamic-fixture.ts`, ...args.filter((a) => a.startsWith("fixture:")).map((a) => a.slice(8))], { env, cwd });
  const line = await head.waitForLine(/nodes join with: mosaic --role node --join \S+/, { stream: "stdout" });
  const address = /--join (\S+)/.exec(line)![1]!;
  await head.waitForLine(/^result \{"label":"waiting"/);
  return { head, address, line };
}

function startNode(address: string, args: string[] = [], env: Record<string, string | undefined> = { MOSAIC_SECRET: SECRET }): SpawnedProcess {
  return spawnMosaic(["--role", "node", "--join", address, "-nw", "2", ...args], { env });
}

describe("dynamic mode: nodes join the head", () => {
  test("a node started by hand joins, its workers run the program's calls, the head is told of each, and the node exits with the head", async () => {
    const { head, address } = await startHead(["fixture:--workers", "fixture:2"]);
    await using _head = head;
    await using node = startNode(address);
    expect(await head.waitForExit(60_000)).toEqual({ code: 0, signal: null });
    expect(await node.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    const got = results(head);
    expect(got.workers.map((w: { uid: string }) => w.uid)).toEqual(["worker:0:0", "worker:0:1"]);
    expect(got.nodes.map((n: { uid: string }) => n.uid)).toEqual(["node:0"]);
    expect(events(head).filter((e) => e.type === "runtime.joined").map((e) => e.uid)).toEqual(expect.arrayContaining(["node:0", "worker:0:0", "worker:0:1"]));
    // The node's own lines reach the head's log, as every runtime's do.
    expect(head.lines.stdout.some((line) => /^NODE:0 +joined .* as node:0 with 2 workers/.test(line))).toBe(true);
    await expectProcessesGone([node.pid, got.nodes[0].pid, ...got.workers.map((w: { pid: number }) => w.pid)]);
  }, 90_000);

  test("a node with another secret is refused at the handshake, exits non-zero saying so, and the head goes on serving", async () => {
    const { head, address } = await startHead(["fixture:--workers", "fixture:1"]);
    await using _head = head;
    await using wrong = startNode(address, [], { MOSAIC_SECRET: "another-secret" });
    expect(await wrong.waitForExit(20_000)).toEqual({ code: 2, signal: null });
    expect(wrong.lines.stderr.join("\n")).toMatch(/^mosaic: the head at 127\.0\.0\.1:\d+ refused this node: it did not accept its secret/);
    await head.waitForLine(/did not prove the cluster secret/, { stream: "stderr" });
    // Another runtime of the cluster on that port is not the head: said as it is, not blamed on the secret.
    const monitorPort = /^MONITOR +Listening at [\d.]+:(\d+)/.exec(await head.waitForLine(/^MONITOR +Listening at/))![1]!;
    await using misdialled = startNode(`127.0.0.1:${monitorPort}`);
    expect(await misdialled.waitForExit(20_000)).toEqual({ code: 2, signal: null });
    expect(misdialled.lines.stderr.join("\n")).toMatch(/^mosaic: the head at 127\.0\.0\.1:\d+ refused this node: dialled head but monitor answered$/);
    await using right = startNode(address, ["-nw", "1"]);
    expect(await head.waitForExit(60_000)).toEqual({ code: 0, signal: null });
    expect(results(head).workers.length).toBe(1);
    expect(await right.waitForExit(10_000)).toEqual({ code: 0, signal: null });
  }, 90_000);

  test("a head given no secret makes one, writes it to a file only its owner reads and names it; a node reads it with --secret-file, one readable by others is refused", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "mosaic-dynamic-"));
    try {
      const head = spawnMosaic(["run", "--dynamic", "--port", "0", "--workspace", workspace, `${FIXTURES}/dynamic-fixture.ts`, "--workers", "1"], { env: { MOSAIC_SECRET: undefined } });
      await using _head = head;
      const named = await head.waitForLine(/the cluster secret is in \S+/);
      const file = /is in (\S+)/.exec(named)![1]!;
      expect(file.startsWith(workspace)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const address = /--join (\S+)/.exec(await head.waitForLine(/nodes join with/))![1]!;
      // The secret is named by its file, never printed.
      expect(head.lines.stdout.join("\n")).toContain(`--secret-file ${file}`);

      chmodSync(file, 0o644);
      await using open = startNode(address, ["--secret-file", file], { MOSAIC_SECRET: undefined });
      expect(await open.waitForExit(20_000)).toEqual({ code: 2, signal: null });
      expect(open.lines.stderr.join("\n")).toContain(`secret file ${file} can be read by others (mode 644): make it readable by its owner only (chmod 600 ${file})`);
      chmodSync(file, 0o600);

      await using node = startNode(address, ["-nw", "1", "--secret-file", file], { MOSAIC_SECRET: undefined });
      expect(await head.waitForExit(60_000)).toEqual({ code: 0, signal: null });
      expect(results(head).workers.map((w: { uid: string }) => w.uid)).toEqual(["worker:0:0"]);
      expect(await node.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(workspace, { recursive: true, force: true });
    }
  }, 90_000);

  test("a node that leaves while its call runs fails that call with a typed error naming its host; a node joining later takes its place", async () => {
    const { head, address } = await startHead(["fixture:--workers", "fixture:2", "fixture:--leave"]);
    await using _head = head;
    await using first = startNode(address);
    await head.waitForLine(/^result \{"label":"long running"/);
    first.kill("SIGTERM");
    expect(await first.waitForExit(20_000)).toEqual({ code: 0, signal: null });
    const left = JSON.parse((await head.waitForLine(/^result \{"label":"left"/)).slice(7)).value;
    expect({ name: left.name, code: left.code }).toEqual({ name: "WorkerDiedError", code: "WORKER_DIED" });
    // Whichever the head hears first, the thread's link closing or the node's leave: both name the host.
    expect(left.message).toContain(`host ${hostname()}`);
    await using second = startNode(address);
    expect(await head.waitForExit(60_000)).toEqual({ code: 0, signal: null });
    const got = results(head);
    expect(got.rejoined.uid).toBe("worker:1:0");
    expect(events(head).filter((e) => e.type === "runtime.lost").map((e) => e.uid)).toEqual(expect.arrayContaining(["node:0", "worker:0:0", "worker:0:1"]));
    expect(await second.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    await expectProcessesGone([first.pid, second.pid, got.rejoined.pid, ...got.workers.map((w: { pid: number }) => w.pid)]);
  }, 90_000);

  test("waitForWorkers with a timeout that passes rejects with TimeoutError saying how many joined", async () => {
    const { head } = await startHead(["fixture:--workers", "fixture:3", "fixture:--wait-timeout", "fixture:300"]);
    await using _head = head;
    expect(await head.waitForExit(30_000)).toEqual({ code: 0, signal: null });
    expect(results(head)["wait failed"]).toEqual({ name: "TimeoutError", code: "TIMEOUT", message: "0 of 3 workers joined within 300 ms" });
  }, 60_000);

  test("bad --join input is named before anything starts", async () => {
    await using bad = spawnMosaic(["--role", "node", "--join", "nohost"], { env: { MOSAIC_SECRET: SECRET } });
    expect(await bad.waitForExit()).toEqual({ code: 2, signal: null });
    expect(bad.lines.stderr).toEqual(['mosaic: --join needs the head\'s HOST:PORT (e.g. head.example.org:7000), got "nohost"']);
    await using secretless = spawnMosaic(["--role", "node", "--join", "127.0.0.1:1"], { env: { MOSAIC_SECRET: undefined } });
    expect(await secretless.waitForExit()).toEqual({ code: 2, signal: null });
    expect(secretless.lines.stderr[0]).toMatch(/^mosaic: a node that joins needs the cluster secret: set MOSAIC_SECRET, or give --secret-file FILE/);
    await using nobody = spawnMosaic(["--role", "node", "--join", "127.0.0.1:1"], { env: { MOSAIC_SECRET: SECRET } });
    expect(await nobody.waitForExit()).toEqual({ code: 2, signal: null });
    expect(nobody.lines.stderr[0]).toMatch(/^mosaic: no head answers at 127\.0\.0\.1:1/);
  }, 30_000);
});
