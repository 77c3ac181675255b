/**
 * A stopped runtime (SIGSTOP, Ctrl-Z) still dies with its parent: a stopped
 * process reads no pipe and acts on no SIGTERM until it runs again. A parent
 * that stops a child sends SIGCONT after its SIGTERM (local.ts terminate), and
 * a parent that dies abruptly has the kernel continue its children
 * (PR_SET_PDEATHSIG, parent-watch.ts), which then see their pipe's EOF.
 * Real trees of head-fixture.ts; the test signals their processes by pid.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { TreeInfo } from "../fixtures/_tree.ts";
import { expectFilesGone, expectPortsClosedSoon, expectProcessesGone, expectTreeGone, readyTree, spawnFixture } from "../_helpers/processes.ts";

/** Long enough for a tree start and stop on a loaded 2-core machine. */
const TIMEOUT = 30_000;

function startTree(options: Record<string, unknown> = {}) {
  // No log files: nothing of these runs is left in the repository.
  return spawnFixture("head-fixture.ts", [], { env: { FIXTURE_OPTIONS: JSON.stringify({ numNodes: 1, numWorkers: 1, workspace: "", ...options }) } });
}

/** The tree of a head-fixture once its first ping went round (the head's links to its workers are up and idle). */
async function readyAndIdle(head: ReturnType<typeof startTree>): Promise<TreeInfo> {
  const tree = await readyTree(head);
  await head.waitForLine(/^pong 0 /);
  return tree;
}

function entry(tree: TreeInfo, uid: string) {
  const found = tree.runtimes.find((runtime) => runtime.uid === uid);
  if (!found) throw new Error(`no ${uid} in ${JSON.stringify(tree.runtimes)}`);
  return found;
}

/** The process's state letter in /proc (`T`: stopped). */
function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/**
 * SIGSTOPs `pid` and waits until the kernel shows it stopped: the test's
 * premise, checked. A process that is not our child gives no event for it.
 */
async function stop(pid: number): Promise<void> {
  process.kill(pid, "SIGSTOP");
  const deadline = performance.now() + 5000;
  while (stateOf(pid) !== "T") {
    if (performance.now() > deadline) throw new Error(`pid ${pid} is not stopped after SIGSTOP (state ${stateOf(pid)})`);
    await Bun.sleep(5);
  }
}

test("a stopped worker whose node is killed (SIGKILL) ends, and leaves nothing behind", async () => {
  await using head = startTree();
  const tree = await readyAndIdle(head);
  const worker = entry(tree, "worker:0:0");
  const node = entry(tree, "node:0");
  await stop(worker.pid);
  process.kill(node.pid, "SIGKILL");
  // Without its parent's death signal the worker would never run again to see its pipe close.
  await expectProcessesGone([node.pid, worker.pid]);
  await expectPortsClosedSoon([node.port, worker.port]);
  head.closeStdin();
  await head.waitForLine(/^stopped$/);
  expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
  await expectTreeGone(tree, { within: 0 });
  expectFilesGone(tree.cluster, [tree.headPid, ...tree.pids]);
}, TIMEOUT);

test("stop() ends a stopped worker through its own SIGTERM handling, not its node's SIGKILL", async () => {
  await using head = startTree({ logLevel: "debug" });
  const tree = await readyAndIdle(head);
  const worker = entry(tree, "worker:0:0");
  await stop(worker.pid);
  head.closeStdin();
  await head.waitForLine(/^stopped$/);
  // The worker's own stop path logs why it stops (a line it could not write while stopped, and that a SIGKILL
  // never lets it write), relayed up the tree while its node waits for it.
  expect(head.lines.stdout.filter((line) => /^WORKER:0:0\s+stopping: /.test(line))).toEqual([expect.stringMatching(/\sstopping: SIGTERM$/)]);
  expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
  await expectTreeGone(tree, { within: 0 });
  expectFilesGone(tree.cluster, [tree.headPid, ...tree.pids]);
}, TIMEOUT);

test("a tree stopped whole (Ctrl-Z) whose head is then killed (kill -9) ends: no process of it stays stopped", async () => {
  await using head = startTree();
  const tree = await readyAndIdle(head);
  for (const pid of [tree.headPid, ...tree.pids]) await stop(pid);
  head.kill("SIGKILL");
  expect(await head.waitForExit()).toEqual({ code: null, signal: "SIGKILL" });
  await expectTreeGone(tree);
  expectFilesGone(tree.cluster, tree.pids);
}, TIMEOUT);
