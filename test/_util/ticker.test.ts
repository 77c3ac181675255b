/**
 * The process's one timer: tasks of periods that divide each other run in the
 * same wake-up, and a stopped task never runs again.
 */
import { describe, expect, test } from "bun:test";
import { Ticker } from "../../src/_util/ticker.ts";

describe("Ticker", () => {
  test("a task of twice the period runs only in ticks where the shorter one runs too, and stops when told", async () => {
    const ticker = new Ticker();
    const { promise, resolve } = Promise.withResolvers<void>();
    let inTick = false;
    let short = 0;
    const long: boolean[] = [];
    let stopLong: () => void = () => {};
    const stopShort = ticker.every(5, () => {
      inTick = true;
      // Cleared after the timer's callback returns: a task that saw it set ran in this same wake-up.
      queueMicrotask(() => (inTick = false));
      if (++short === 20) stopLong();
      if (short === 30) resolve();
    });
    stopLong = ticker.every(10, () => long.push(inTick));
    await promise;
    stopShort();
    const runs = long.length;
    expect({ sameWakeUp: long.every(Boolean), ranSometimes: runs > 0, atMostEveryOtherTick: runs <= 10 }).toEqual({
      sameWakeUp: true,
      ranSometimes: true,
      atMostEveryOtherTick: true,
    });
    // Nothing runs once every task stopped (and stopping the stopped again is harmless).
    stopLong();
    ticker.stop();
    expect(long.length).toBe(runs);
  });

  test("a task whose period is not a multiple of the shorter one keeps a timer of its own", async () => {
    const ticker = new Ticker();
    const { promise, resolve } = Promise.withResolvers<void>();
    let inTick = false;
    const other: boolean[] = [];
    ticker.every(4, () => {
      inTick = true;
      queueMicrotask(() => (inTick = false));
    });
    // 6 ms beside 4 ms: on the shared ticks it would run every 4 or 8 ms, not every 6.
    ticker.every(6, () => {
      other.push(inTick);
      if (other.length === 5) resolve();
    });
    await promise;
    ticker.stop();
    expect(other).toEqual([false, false, false, false, false]);
  });

  test("a task added with a shorter period speeds the timer up for it alone", async () => {
    const ticker = new Ticker();
    let slow = 0;
    let fast = 0;
    ticker.every(60_000, () => slow++);
    const { promise, resolve } = Promise.withResolvers<void>();
    ticker.every(2, () => {
      if (++fast === 5) resolve();
    });
    await promise;
    ticker.stop();
    expect({ fast, slow }).toEqual({ fast: 5, slow: 0 });
  });
});
