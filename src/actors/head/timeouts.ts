/**
 * Timeouts a program gives (barrier, wait, asyncFor): Infinity means none,
 * and a finite one must fit a timer (Bun fires a timer of 2^31 ms or more at
 * once, so it would expire immediately).
 */
import { InvalidArgumentError } from "../../errors.ts";

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The timer's milliseconds, or undefined for none; bad input is an InvalidArgumentError naming `what`. */
export function timerMs(timeout: unknown, what: string): number | undefined {
  if (timeout === undefined || timeout === Number.POSITIVE_INFINITY) return undefined;
  if (typeof timeout !== "number" || !(timeout >= 0) || timeout > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`${what} must be from 0 to ${MAX_TIMER_MS} ms (or Infinity: none), got ${String(timeout)}`);
  }
  return timeout;
}
