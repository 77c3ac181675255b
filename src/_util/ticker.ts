/**
 * One timer for a process's periodic work (heartbeats, resource samples): each
 * timer wakes the process, and two timers of close periods wake it twice,
 * milliseconds apart. The ticker runs at the shortest period and runs each task
 * on the tick where it is due, so tasks whose periods divide each other share
 * their wake-ups. A tick makes no garbage of its own.
 */
interface Task {
  interval: number;
  run: () => void;
  last: number;
}

export class Ticker {
  #tasks: Task[] = [];
  #timer: Timer | undefined;
  #period = 0;

  /** Runs `run` about every `interval` ms until the returned function is called. */
  every(interval: number, run: () => void): () => void {
    const task: Task = { interval, run, last: performance.now() };
    this.#tasks.push(task);
    this.#schedule();
    return () => {
      const at = this.#tasks.indexOf(task);
      if (at < 0) return;
      this.#tasks.splice(at, 1);
      this.#schedule();
    };
  }

  /** Ends every task. */
  stop(): void {
    this.#tasks = [];
    this.#schedule();
  }

  #schedule(): void {
    let period = Infinity;
    for (let i = 0; i < this.#tasks.length; i++) period = Math.min(period, this.#tasks[i]!.interval);
    if (period === this.#period) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#period = period === Infinity ? 0 : period;
    if (this.#period > 0) this.#timer = setInterval(this.#tick, this.#period);
  }

  readonly #tick = () => {
    const now = performance.now();
    // Due within half a tick: a task of twice the period runs every second tick, not every third.
    const slack = this.#period / 2;
    // Indexed: no iterator object per tick. A task may stop itself (or another) while it runs.
    const tasks = this.#tasks;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      if (now - task.last < task.interval - slack) continue;
      task.last = now;
      task.run();
    }
  };
}
