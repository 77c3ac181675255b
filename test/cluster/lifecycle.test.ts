import { afterEach, describe, expect, test } from "bun:test";
import * as mosaic from "../../src/index.ts";
import { InvalidArgumentError, RuntimeStateError, tessera, TimeoutError } from "../../src/index.ts";
import { describeTree } from "../fixtures/_tree.ts";
import {
  childrenOf,
  expectTreeGone,
  listeningPorts,
  pingThroughHead,
  readyTree,
  spawnFixture,
} from "../_helpers/processes.ts";
import { headNodeOf } from "../../src/api/head-runtime.ts";
import { CHECKED_BUN_VERSIONS } from "../../src/cluster/children.ts";
import { readFileSync } from "node:fs";

// In this file the test process itself is the head for the API tests; its
// children run the mosaic CLI entry with --role (see src/launch/program.ts).
const options: mosaic.InitOptions = { numNodes: 1, numWorkers: 2, logLevel: "warning" };

afterEach(async () => {
  // A failed test must not leave its runtime to the next one.
  await mosaic.stop();
});

describe("life cycle in the calling process", () => {
  test("init starts a monitor, one node and two workers, and stop leaves no process or port behind", async () => {
    const signalListeners = () => [process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")];
    const listenersBefore = signalListeners();
    const runtime = await mosaic.init(options);
    const tree = describeTree(runtime);
    expect(tree.runtimes.map((r) => r.uid).toSorted()).toEqual(["head", "monitor", "node:0", "worker:0:0", "worker:0:1"]);
    expect(runtime.pids).toHaveLength(4);
    expect(new Set(runtime.pids).size).toBe(4);
    expect(childrenOf(process.pid)).toContain(runtime.pids[0]!);
    const listening = listeningPorts();
    expect(tree.ports.filter((port) => !listening.has(port))).toEqual([]);

    // Two stops at once both resolve when the tree is down.
    await Promise.all([mosaic.stop(), mosaic.stop()]);

    expect(runtime.state).toBe("stopped");
    // stop() resolves only once every process has exited: nothing to wait for.
    await expectTreeGone(tree, { within: 0 });
    expect(() => mosaic.runtime()).toThrow(RuntimeStateError);
    expect(signalListeners()).toEqual(listenersBefore);
  });

  test("every runtime of the tree answers a ping with its uid and reports its status", async () => {
    const runtime = await mosaic.init(options);
    const proxies = [runtime.monitor!, ...runtime.nodes, ...runtime.workers];
    expect(proxies.map((proxy) => proxy.uid).toSorted()).toEqual(["monitor", "node:0", "worker:0:0", "worker:0:1"]);
    expect(await Promise.all(proxies.map((proxy) => proxy.ping(10_000)))).toEqual(proxies.map((proxy) => proxy.uid));
    const statuses = await Promise.all(runtime.workers.map((worker) => worker.status(10_000)));
    expect(statuses.map(({ uid, pid }) => ({ uid, pid }))).toEqual(runtime.workers.map(({ uid, pid }) => ({ uid, pid })));
    for (const status of statuses) expect(status.memoryLimit).toBeGreaterThan(0);
    // Only the runtime's own methods answer: not what every object inherits.
    for (const method of ["valueOf", "constructor", "toString", "no-such-method"]) {
      const failure = (await headNodeOf(runtime).request("worker:0:0", method, null, 10_000).catch((error) => error)) as { remoteName?: string };
      expect({ method, name: failure?.remoteName }).toEqual({ method, name: "UnknownMethodError" });
    }
    await mosaic.stop();
  });

  test("nodes and workers are listed in index order, whatever order they connected in", async () => {
    // Documented in api/lifecycle.ts: runtime.workers.map((w) => w.uid) is ["worker:0:0", "worker:0:1"].
    const runtime = await mosaic.init({ ...options, numNodes: 2 });
    expect(runtime.nodes.map((node) => node.uid)).toEqual(["node:0", "node:1"]);
    expect(runtime.workers.map((worker) => worker.uid)).toEqual(["worker:0:0", "worker:0:1", "worker:1:0", "worker:1:1"]);
    expect(runtime.pids).toHaveLength(7);
    await mosaic.stop();
    await expectTreeGone(describeTree(runtime), { within: 0 });
  });

  test("stop called while init is still starting resolves once everything that started has exited", async () => {
    const starting = mosaic.init(options);
    await mosaic.stop();
    const runtime = await starting;
    expect(runtime.state).toBe("stopped");
    await expectTreeGone(describeTree(runtime), { within: 0 });
    expect(() => mosaic.runtime()).toThrow(RuntimeStateError);
  });

  test("run stops the runtime also when main throws, and rethrows the error", async () => {
    const failure = new Error("main failed");
    let tree: ReturnType<typeof describeTree> | undefined;
    const running = mosaic.run((runtime) => {
      tree = describeTree(runtime);
      throw failure;
    }, options);
    await expect(running).rejects.toBe(failure);
    expect(tree!.pids).toHaveLength(4);
    await expectTreeGone(tree!, { within: 0 });
    expect(() => mosaic.runtime()).toThrow(RuntimeStateError);
  });

  test("init called twice, also concurrently, returns the same runtime; after stop, init starts a new one", async () => {
    const [first, second] = await Promise.all([mosaic.init(options), mosaic.init(options)]);
    expect(second).toBe(first);
    expect(await mosaic.init()).toBe(first);
    expect(mosaic.runtime()).toBe(first);
    expect(first.pids).toHaveLength(4);
    await mosaic.stop();
    await expectTreeGone(describeTree(first), { within: 0 });

    const again = await mosaic.init(options);
    expect(again).not.toBe(first);
    expect((await Promise.all(again.workers.map((worker) => worker.ping(10_000)))).toSorted()).toEqual(["worker:0:0", "worker:0:1"]);
    await mosaic.stop();
    await expectTreeGone(describeTree(again), { within: 0 });
  });

  test("every child starts with JavaScriptCore's FTL threshold at 1,000,000 under the Bun versions it was checked with, and with the user's own value when the head's environment sets one", async () => {
    // Bun refuses to start with a JSC option its engine does not know: another Bun must be checked, then listed.
    expect(CHECKED_BUN_VERSIONS.some((version) => Bun.version.startsWith(version))).toBe(true);
    const option = "BUN_JSC_thresholdForFTLOptimizeAfterWarmUp";
    const ftlThresholds = (pids: number[]) => pids.map((pid) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((entry) => entry.startsWith(`${option}=`)));
    const given = process.env[option];
    try {
      delete process.env[option];
      expect(ftlThresholds((await mosaic.init(options)).pids)).toEqual(Array(4).fill(`${option}=1000000`));
      await mosaic.stop();
      process.env[option] = "200000";
      expect(ftlThresholds((await mosaic.init(options)).pids)).toEqual(Array(4).fill(`${option}=200000`));
    } finally {
      if (given === undefined) delete process.env[option];
      else process.env[option] = given;
    }
  });

  test("invalid options are rejected with InvalidArgumentError and start nothing", async () => {
    const children = childrenOf(process.pid);
    const invalid: unknown[] = [
      { numWorkers: 0 },
      { numNodes: 1.5 },
      { port: -1 },
      { logLevel: "loud" },
      { memoryFraction: 2 },
      { numWorkres: 2 },
    ];
    for (const bad of invalid) {
      await expect(mosaic.init(bad as mosaic.InitOptions)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(mosaic.run("main" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(mosaic.interactive("maybe" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => mosaic.runtime()).toThrow(RuntimeStateError);
    expect(childrenOf(process.pid)).toEqual(children);
  });

  // Regression: resolveOptions() (src/cluster/options.ts) once checked neither the port range, nor
  // the address, nor that the heartbeat timeout exceeds the interval (with
  // heartbeatTimeout <= heartbeatInterval every idle link is cut at the first beat
  // and the tree falls apart a second after start).
  test("options that cannot work are rejected with InvalidArgumentError too", async () => {
    const children = childrenOf(process.pid);
    const invalid: unknown[] = [
      { port: 70_000 },
      { address: 42 },
      { address: "" },
      { heartbeatInterval: 1000, heartbeatTimeout: 10 },
      { segmentIdleTime: -1 },
      { segmentIdleTime: 2 ** 31 }, // a timer that long fires at once in Bun
    ];
    for (const bad of invalid) {
      await expect(mosaic.init(bad as mosaic.InitOptions)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(childrenOf(process.pid)).toEqual(children);
  });
});

describe("a silent monitor", () => {
  test("is found out by the head's heartbeats: it is ended, its tree reported lost, and a new tessera fails at once instead of waiting for placement", async () => {
    const Probe = tessera(class Probe {});
    const runtime = await mosaic.init({ ...options, heartbeatInterval: 200, heartbeatTimeout: 1000 });
    const tree = describeTree(runtime);
    const monitor = runtime.pids[0]!;
    const lost = mosaic.events.next("runtime.lost", (event) => event.uid === "monitor", 20_000);
    process.kill(monitor, "SIGSTOP");
    expect((await lost).reason).toMatch(/monitor sent nothing for \d+ ms \(heartbeat timeout\)/);
    const failure = await Promise.resolve(Probe.remote()).then(() => null, (error) => error);
    expect(failure).toBeInstanceOf(mosaic.MosaicError);
    expect(failure).not.toBeInstanceOf(TimeoutError);
    await mosaic.stop();
    await expectTreeGone(tree);
  });
});

describe("life cycle of a head process", () => {
  test("SIGKILL of the head takes the whole tree down within a few seconds, leaving no process and no port", async () => {
    await using head = spawnFixture("head-fixture.ts");
    const tree = await readyTree(head);
    head.kill("SIGKILL");
    expect(await head.waitForExit()).toEqual({ code: null, signal: "SIGKILL" });
    await expectTreeGone(tree, { within: 5000 });
  });

  test.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const)("%s to the head stops the tree before the head exits with code %d", async (signal, code) => {
    await using head = spawnFixture("head-fixture.ts");
    const tree = await readyTree(head);
    await head.waitForLine(/^pong 0 /);
    head.kill(signal);
    expect(await head.waitForExit()).toEqual({ code, signal: null });
    // The head exits only after stop(): its children are gone already.
    await expectTreeGone(tree, { within: 0 });
    expect(head.lines.stderr.filter((line) => /died|killed|error/i.test(line))).toEqual([]);
  });

  test("a head whose program blocks longer than the heartbeat timeout finds its tree intact afterwards", async () => {
    // Heartbeats every 100 ms, a peer silent for 300 ms is dead: the head blocks for 1.5 s.
    await using head = spawnFixture("head-fixture.ts", [], {
      env: { FIXTURE_OPTIONS: JSON.stringify({ heartbeatInterval: 100, heartbeatTimeout: 300 }) },
    });
    const tree = await readyTree(head);
    await head.waitForLine(/^pong 0 /);
    head.send("block 1500");
    await head.waitForLine(/^unblocked$/);
    expect(await pingThroughHead(head)).toEqual(["worker:0:0", "worker:0:1"]);
    expect(head.lines.stderr.filter((line) => /died|lost|heartbeat/i.test(line))).toEqual([]);
    head.closeStdin();
    expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
    await expectTreeGone(tree, { within: 0 });
  });

  test("a worker killed with SIGKILL is reported by the head at once and the other worker keeps answering", async () => {
    // Heartbeats would notice only after a minute: the report must come from the process exit.
    await using head = spawnFixture("head-fixture.ts", [], {
      env: { FIXTURE_OPTIONS: JSON.stringify({ heartbeatInterval: 20_000, heartbeatTimeout: 60_000 }) },
    });
    const tree = await readyTree(head);
    // Let the fixture's first ping finish: it must not meet the dead worker.
    await head.waitForLine(/^pong 0 /);
    const victim = tree.workers.find((worker) => worker.uid === "worker:0:1")!;
    process.kill(victim.pid, "SIGKILL");

    const report = await head.waitForLine(/^HEAD\s+runtime died: worker:0:1\b/, { stream: "stderr" });
    expect(report).toContain(`(pid ${victim.pid}) was killed by SIGKILL`);
    expect(await pingThroughHead(head)).toEqual(["worker:0:0"]);

    head.closeStdin();
    expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
    await expectTreeGone(tree, { within: 0 });
  });

  test("a node killed with SIGKILL takes its workers down with it and the head reports it", async () => {
    await using head = spawnFixture("head-fixture.ts", [], {
      env: { FIXTURE_OPTIONS: JSON.stringify({ heartbeatInterval: 20_000, heartbeatTimeout: 60_000 }) },
    });
    const tree = await readyTree(head);
    await head.waitForLine(/^pong 0 /);
    const node = tree.runtimes.find((runtime) => runtime.uid === "node:0")!;
    process.kill(node.pid, "SIGKILL");

    await head.waitForLine(/^HEAD\s+runtime died: node:0 \(pid \d+\) was killed by SIGKILL/, { stream: "stderr" });
    // Workers notice that their parent is gone (their stdin pipe closes).
    await expectTreeGone({ pids: [node.pid, ...tree.workers.map((w) => w.pid)], ports: [node.port, ...tree.workers.map((w) => w.port)] });
    expect(await pingThroughHead(head)).toEqual([]);

    head.closeStdin();
    expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
    await expectTreeGone(tree, { within: 0 });
  });
});
