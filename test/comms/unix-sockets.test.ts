import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

interface Runtime {
  uid: string;
  pid: number;
  port: number;
  sockets: { tcpEstablished: number; tcpListening: number; unix: number; unixListening: string[] };
}

interface Links {
  results: { plain: number; dependent: number; fetched: number };
  runtimes: Runtime[];
}

const RESULTS = { plain: 2, dependent: 12, fetched: 2 * (1 << 18) };
const FIXTURE = "unix-sockets-fixture.ts";

describeScenarios("runtimes of one machine link over Unix sockets", () => ScenarioRun.start(["links"], FIXTURE), (run) => {
  test("calls, dependencies and fetches between the head and workers arrive, and no TCP connection carries them", async () => {
    const { results, runtimes } = await run.value<Links>("links");
    expect(results).toEqual(RESULTS);
    for (const { uid, pid, port, sockets } of runtimes) {
      // Each listens on its TCP port (for other machines) and on the Unix socket beside it.
      expect({ uid, listening: sockets.tcpListening, names: sockets.unixListening.map((name) => name.replace(/-[0-9a-f]{16}$/, "-<random>")) }).toEqual({ uid, listening: 1, names: [`@mosaic-${pid}-${port}-<random>`] });
      // The head's links to workers and to their tessera threads, the workers' to each other and to their node: none over TCP.
      expect({ uid, established: sockets.tcpEstablished }).toEqual({ uid, established: 0 });
    }
  });
});

describeScenarios("with MOSAIC_UNIX_SOCKETS=0 every link takes TCP", () => ScenarioRun.start(["links"], FIXTURE, { env: { MOSAIC_UNIX_SOCKETS: "0" } }), (run) => {
  test("no runtime listens on a Unix socket, and the same calls arrive over TCP", async () => {
    const { results, runtimes } = await run.value<Links>("links");
    expect(results).toEqual(RESULTS);
    for (const { uid, sockets } of runtimes) expect({ uid, names: sockets.unixListening }).toEqual({ uid, names: [] });
    const head = runtimes[0]!;
    // Its monitor, its two workers and their tessera threads.
    expect(head.sockets.tcpEstablished).toBeGreaterThanOrEqual(5);
  });
});

describeScenarios("a peer without a Unix socket is dialled over TCP", () => ScenarioRun.start(["links"], FIXTURE, { env: { CHILDREN_UNIX_SOCKETS: "0" } }), (run) => {
  test("the head listens on one, its children do not; the head's dials to them fall back to TCP and the calls arrive", async () => {
    const { results, runtimes } = await run.value<Links>("links");
    expect(results).toEqual(RESULTS);
    const [head, ...workers] = runtimes;
    expect(head!.sockets.unixListening.map((name) => name.replace(/-[0-9a-f]{16}$/, ""))).toEqual([`@mosaic-${head!.pid}-${head!.port}`]);
    for (const { uid, sockets } of workers) expect({ uid, names: sockets.unixListening, tcp: sockets.tcpEstablished > 0 }).toEqual({ uid, names: [], tcp: true });
    expect(head!.sockets.tcpEstablished).toBeGreaterThanOrEqual(4);
  });
});
