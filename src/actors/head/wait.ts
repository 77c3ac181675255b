/**
 * `mosaic.wait(tasks, { numReturns, timeout })`, as Ray's `ray.wait`: the
 * tasks that have ended (done or failed) and those still pending, once
 * `numReturns` of them have ended or the timeout passed.
 */
import { InvalidArgumentError } from "../../errors.ts";
import { TaskProxy } from "./task-proxy.ts";
import { timerMs } from "./timeouts.ts";

export interface WaitOptions {
  /** How many tasks must have ended before it returns. Default: all of them. */
  numReturns?: number;
  /** Milliseconds after which it returns what has ended so far (it does not throw). Default: no limit. */
  timeout?: number;
}

export interface WaitResult<T extends TaskProxy<any>> {
  /** Tasks that ended (done or failed), in the order given. */
  ready: T[];
  /** Tasks not ended yet (pending or running), in the order given. */
  pending: T[];
}

/** Done or failed (not pending, not running). */
const ended = (task: TaskProxy<any>) => task.state === "done" || task.state === "failed";

function split<T extends TaskProxy<any>>(tasks: readonly T[]): WaitResult<T> {
  const ready: T[] = [];
  const pending: T[] = [];
  for (const task of tasks) (ended(task) ? ready : pending).push(task);
  return { ready, pending };
}

export function wait<T extends TaskProxy<any>>(tasks: readonly T[], options: WaitOptions = {}): Promise<WaitResult<T>> {
  if (!Array.isArray(tasks) || tasks.some((task: unknown) => !(task instanceof TaskProxy))) {
    return Promise.reject(new InvalidArgumentError("wait() takes an array of tasks (TaskProxy)"));
  }
  const { numReturns = tasks.length } = options;
  if (!Number.isInteger(numReturns) || numReturns < 0 || numReturns > tasks.length) {
    return Promise.reject(new InvalidArgumentError(`wait(): numReturns must be an integer from 0 to the number of tasks (${tasks.length}), got ${String(numReturns)}`));
  }
  let timeout: number | undefined;
  try {
    timeout = timerMs(options.timeout, "wait(): timeout");
  } catch (error) {
    return Promise.reject(error);
  }
  let count = tasks.filter(ended).length;
  if (count >= numReturns) return Promise.resolve(split(tasks));
  const { promise, resolve } = Promise.withResolvers<WaitResult<T>>();
  let timer: Timer | undefined;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    resolve(split(tasks));
  };
  const onEnd = () => {
    if (++count >= numReturns) finish();
  };
  for (const task of tasks) if (!ended(task)) task.then(onEnd, onEnd);
  if (timeout !== undefined) timer = setTimeout(finish, timeout);
  return promise;
}
