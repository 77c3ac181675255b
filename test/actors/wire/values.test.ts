import { expect, setDefaultTimeout, test } from "bun:test";
import { ACTOR_TEST_TIMEOUT, describeScenarios, ScenarioRun } from "../../_helpers/scenarios.ts";

setDefaultTimeout(ACTOR_TEST_TIMEOUT);

describeScenarios("values on the wire", () => ScenarioRun.start(["roundTrip", "sharedOnWorker", "workerToWorker", "unsendable", "sharedMemory", "mappedAhead", "resentWhileMapping", "movedArgument", "repeatedFetch", "repeatedSmallFetch", "keptMedium", "keptChanged"], "data-fixture.ts"), (run) => {
  test("every supported kind of value reaches a worker and comes back as the same kind with the same content", async () => {
    const { sent, there, back } = await run.value("roundTrip");
    expect(there).toEqual(sent);
    expect(back).toEqual(sent);
    // Spot checks that the description really looks at types.
    expect(sent.map[0]).toBe("Map");
    expect(sent.large.f32.slice(0, 2)).toEqual(["Float32Array", 4096]);
    expect(sent.slice.slice(0, 2)).toEqual(["Float32Array", 2000]);
    expect(sent.large.bi64[2]).toEqual(["-5", "-4", "-3"]);
  });

  test("arrays of 1 KiB or more that arrive for a tessera over the socket are in SharedArrayBuffer-backed memory on the worker; from 256 KiB they come through /dev/shm, mapped", async () => {
    expect(await run.value("sharedOnWorker")).toEqual({ throughWorker: { large: true, small: false, mapped: false }, straightToThread: { large: true, small: false, mapped: false } });
  });

  test("an array result goes from one worker to a tessera on another as an argument", async () => {
    const { sum, element } = await run.value("workerToWorker");
    expect(sum).toBe(2 * (1 << 20) / 4096);
    expect(element.slice(0, 4)).toEqual(["Float32Array", 1 << 20, ["2", "2", "2"], "2"]);
  });

  test("values that cannot travel fail before anything is sent, naming the path; a cycle travels", async () => {
    const { fn, map, cycle, socket, stillWorks } = await run.value("unsendable");
    expect(fn).toMatchObject({ class: "InvalidArgumentError", message: expect.stringContaining("args[0].list[1].callback is a function") });
    expect(map).toMatchObject({ message: expect.stringContaining('args[0].get("k").f is a symbol') });
    expect(cycle).toBe(true);
    expect(socket).toMatchObject({ message: expect.stringContaining("args[0].server is an instance of") });
    expect(stillWorks).toBe("ok");
  });

  test("large payloads between the head and a worker on the same machine move through pooled /dev/shm segments, reused (their receivers' mappings too), then removed when idle, and their mappings let go of", async () => {
    const { sum, back, second, mapped, written, afterFirst, afterSecond, kept } = await run.value("sharedMemory");
    expect(sum).toBe((4 * 2 ** 20) / 4096);
    expect(back).toEqual([2 ** 20, 5, 5]);
    expect(second).toEqual({ sum, back });
    // The worker's tessera thread mapped the 16 MiB argument and wrote the 4 MiB result once, into a segment that
    // its main thread mapped and passed on to the head by name; the 4 KB argument took the socket.
    expect({ mapped, written }).toEqual({ mapped: 2, written: 1 });
    // One pooled segment each way, handed back and used again by the second round (the scenario then waits for their removal).
    expect(afterFirst).toHaveLength(2);
    expect(afterFirst.every((name: string) => name.includes("-pool-"))).toBe(true);
    expect(afterSecond).toEqual(afterFirst);
    // The second round's payloads came in the segments the receivers still mapped: the worker's thread took the
    // 16 MiB argument, the head the 4 MiB result, through the mappings of the first round.
    expect(kept).toEqual({ head: 1, worker: 1 });
  });

  test("a tessera thread maps a large argument's segment while the head copies into it (told ahead), keeps that mapping for the segment's next arguments, and sees what was copied each time, not what its method wrote into the last one", async () => {
    const { mismatches, small, headSegments, mappedAhead, taken, kept } = await run.value("mappedAhead");
    expect(mismatches).toEqual([0, 0, 0, 0]);
    expect(small).toBe(2 ** 18 / 4096);
    // One segment of the head's, used four times: mapped ahead the first time and taken by its call, then
    // the same mapping each time (the 1 MiB one is not announced, nor kept).
    expect({ headSegments, mappedAhead, taken, kept }).toEqual({ headSegments: 1, mappedAhead: 1, taken: 1, kept: 3 });
  });

  test("a large argument sent again unchanged while its new segment is still being mapped in at the head shares that segment, and a changed one sent right after takes another: each call sees what was sent, whatever the methods write", async () => {
    expect(await run.value("resentWhileMapping")).toEqual({ mismatches: [0, 0, 0], headSegments: 2, unchangedHere: true });
  });

  test("a large argument whose memory a method moves elsewhere (ArrayBuffer.prototype.transfer) keeps what came in it while the next arguments of its size arrive, and its segment goes back once the memory is let go of", async () => {
    const { movedBytes, next, movedMismatches, lentWhileMoved } = await run.value("movedArgument");
    // Its segment stays lent while the moved memory lives (the scenario then waits for it to come back once let go of).
    expect({ movedBytes, next, movedMismatches, lentWhileMoved }).toEqual({ movedBytes: 16 * 2 ** 20, next: [0, 0], movedMismatches: 0, lentWhileMoved: 1 });
  });

  test("a large result fetched again and again without release() reuses the worker's segments instead of taking one per fetch", async () => {
    const { intact, segments } = await run.value("repeatedFetch");
    expect(intact).toBe(true);
    // Each fetch stages the result once more on the worker: into a segment handed back by an earlier fetch
    // (whose task proxy the head collected and released), so the worker's pool stays at a few segments (one per
    // fetch, 8, before: a proxy was released only with the 63 proxies made after it).
    expect(Math.max(...segments)).toBeLessThanOrEqual(5);
    expect(segments.length).toBe(8);
  });

  test("a 1 MiB argument passed call after call and a 1 MiB result fetched again and again are mapped through kept mappings from their segment's second payload, once the one before was collected", async () => {
    const { sums, intact, workerKept, headKept } = await run.value("keptMedium");
    expect({ sums, intact }).toEqual({ sums: [2 ** 18 / 4096], intact: true });
    // Of 40 each: 30-31 and 9-10 here (a kept mapping is taken again once its last payload was collected). Before,
    // only payloads of 4 MiB or more were: none of these.
    expect(workerKept).toBeGreaterThanOrEqual(15);
    expect(headKept).toBeGreaterThanOrEqual(4);
  });

  test("a 512 KiB argument changed before each call goes through mappings the thread kept from earlier payloads, although a dozen or more of the head's segments go round", async () => {
    const { sums, calls, kept, segments } = await run.value("keptChanged");
    expect(sums).toEqual([2 ** 17 / 4096]);
    // A segment's first payload is mapped afresh, the next ones through the mapping kept from it while the thread
    // keeps enough of them: 269-271 of 300 with 19-20 segments here; 236-239 with 15-16 when 8 were kept.
    expect({ calls, kept, enough: kept >= calls - 3 * segments }).toEqual({ calls: 300, kept, enough: true });
  });

  test("a 64 KiB result fetched 800 times unchanged, every task kept, is held once by its worker, and each value is the result as it was when its call ended", async () => {
    const { intact, grownMiB, changedFirst, earlierFirst, held } = await run.value("repeatedSmallFetch");
    expect({ intact, changedFirst, earlierFirst, held }).toEqual({ intact: true, changedFirst: 2, earlierFirst: 1, held: 801 });
    // A copy per fetch held on the worker would be 50 MiB (before: ~26 MiB for 400 fetches; now 3-6 MiB for 400).
    expect(grownMiB).toBeLessThan(15);
  });
});

describeScenarios("a pool warmed after start", () => ScenarioRun.start(["warmPool"], "data-fixture.ts", { env: { MOSAIC_WARM_POOL: String(16 * 2 ** 20) } }), (run) => {
  test("with warmPool the head prepares a segment in idle time after start, and its first argument of that size goes through it (no fresh segment), into the mapping the thread made of it ahead", async () => {
    const { warmed, sum, afterFirstTransfer, same, argumentInWarmMapping } = await run.value("warmPool");
    expect({ warmed, sum, segments: afterFirstTransfer.length, same, argumentInWarmMapping }).toEqual({ warmed: 1, sum: (4 * 2 ** 20) / 4096, segments: 1, same: true, argumentInWarmMapping: 1 });
  });

  test("with warmPool a tessera thread prepares one once started, and its first result of that size goes through it, into the mapping the head made of it ahead", async () => {
    const { thread } = await run.value("warmPool");
    expect(thread).toEqual({ warmed: 1, back: [4 * 2 ** 20, 3], afterFirstResult: 1, same: true, resultInWarmMapping: 1 });
  });
});
