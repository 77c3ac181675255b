import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

/**
 * Random SIGKILL and SIGSTOP of workers and a node while 10,000 calls run
 * (test/fixtures/chaos-fixture.ts). The seed is printed (`chaos seed N`);
 * CHAOS_SEED=N replays its plan of faults.
 */
const seed = process.env.CHAOS_SEED;
const start = () => ScenarioRun.start(["chaos"], "chaos-fixture.ts", { env: { SCENARIO_TIMEOUT_MS: "50000", ...(seed ? { CHAOS_SEED: seed } : {}) } });

describeScenarios("chaos", start, (run) => {
  test("under random kills and stops of workers and a node, every one of 10,000 calls settles: done with the value its arguments determine, or failed with the runtime's typed error", async () => {
    const result = await run.value("chaos");
    const byClass: Record<string, number> = {};
    for (const [lineage, n] of Object.entries(result.failures as Record<string, number>)) byClass[lineage.split("<")[0]!] = (byClass[lineage.split("<")[0]!] ?? 0) + n;
    const { seed, done, failed, lost, events, replaced, ledgersRestarted, seconds, headRssMiB } = result;
    const struckKinds = result.faults.filter((fault: { targets: string[] }) => fault.targets.length > 0).map((fault: { kind: string }) => fault.kind);
    console.log(`chaos seed ${seed}: ${JSON.stringify({ done, failed, lost, byClass, faults: struckKinds, events, replaced, ledgersRestarted, seconds, headRssMiB: [headRssMiB[0], headRssMiB.at(-1)] })}`);
    expect({ hung: result.hung, settled: result.settled }).toEqual({ hung: [], settled: 10_000 });
    expect({ wrong: result.wrong, untyped: result.untyped, doneOnFailedUpstream: result.doneOnFailedUpstream }).toEqual({ wrong: [], untyped: [], doneOnFailedUpstream: [] });
    expect(result.ledgerViolations).toEqual([]);
    // Not vacuous: faults happened, tesserae restarted and replayed calls, workers were respawned, and most calls were done.
    expect({ killed: struckKinds.some((kind: string) => kind.includes("kill")), stopped: struckKinds.some((kind: string) => kind.includes("stop")) }).toEqual({ killed: true, stopped: true });
    expect(result.events["tessera.restarting"]).toBeGreaterThan(0);
    expect(result.events.replayed).toBeGreaterThan(0);
    expect(result.events["runtime.joined"]).toBeGreaterThan(0);
    expect(ledgersRestarted).toBeGreaterThan(0);
    expect(result.done).toBeGreaterThan(result.calls / 2);
  });
});
