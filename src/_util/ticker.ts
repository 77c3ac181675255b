/**
 * One timer for a process's periodic work (heartbeats, resource samples): each
 * timer wakes the process, and two timers of close periods wake it twice,
 * milliseconds apart. The ticker runs at the shortest period and runs each task
 * whose period is a multiple of it on the tick where it is due, so those share
 * their wake-ups; a task of another period (3 s beside 2 s) keeps a timer of
 * its own rather than drift to the ticks. A tick makes no garbage of its own.
 */
interface Task {
  interval: number;
  run: () => void;
  last: number;
  /** Its own timer, when its period is not a multiple of the shared one. */
  own: Timer | undefined;
}

export class Ticker {
  #tasks: Task[] = [];
  #timer: Timer | undefined;
  #period = 0;

  /** Runs `run` about every `interval` ms until the returned function is called. */
  every(interval: number, run: () => void): () => void {
    const task: Task = { interval, run, last: performance.now(), own: undefined };
    this.#tasks.push(task);
    this.#schedule();
    return () => {
      const at = this.#tasks.indexOf(task);
      if (at < 0) return;
      this.#tasks.splice(at, 1);
      clearInterval(task.own);
      this.#schedule();
    };
  }

  /** Ends every task. */
  stop(): void {
    for (const task of this.#tasks) clearInterval(task.own);
    this.#tasks = [];
    this.#schedule();
  }

  #schedule(): void {
    let period = Infinity;
    for (const task of this.#tasks) period = Math.min(period, task.interval);
    for (const task of this.#tasks) {
      const ratio = task.interval / period;
      const shared = Math.abs(ratio - Math.round(ratio)) < 0.01;
      if (shared && task.own) {
        clearInterval(task.own);
        task.own = undefined;
        task.last = performance.now();
      } else if (!shared && !task.own) {
        task.own = setInterval(task.run, task.interval);
      }
    }
    if (period === Infinity) period = 0;
    if (period === this.#period) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#period = period;
    if (period > 0) this.#timer = setInterval(this.#tick, period);
  }

  readonly #tick = () => {
    const now = performance.now();
    // Due within half a tick: a task of twice the period runs every second tick, whatever the timers' jitter.
    const slack = this.#period / 2;
    // Indexed: no iterator object per tick. A task may stop itself (or another) while it runs.
    const tasks = this.#tasks;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      if (task.own || now - task.last < task.interval - slack) continue;
      task.last = now;
      task.run();
    }
  };
}
