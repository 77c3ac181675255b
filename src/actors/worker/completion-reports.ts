/**
 * Completions go back to each caller in one `completed` and one `failed`
 * command per tick (calls the head sent straight to a tessera thread are
 * reported by that thread instead).
 */
import type { Connection } from "../../comms/connection.ts";
import { errorBatches, type ErrorDescription } from "../../errors.ts";
import { KeyedBatcher } from "../../_util/tick-batcher.ts";

/** Completions per command during a burst: the caller starts on them while this side still works. */
const REPORT_SLICE = 1024;

export class CompletionReports {
  readonly #batches: KeyedBatcher<Connection, number | [number, ErrorDescription]>;

  /** `beforeSend`: runs before each batch leaves (events that precede these completions go first). */
  constructor(beforeSend: () => void) {
    this.#batches = new KeyedBatcher((owner, items) => {
      beforeSend();
      const done: number[] = [];
      const failed: [number, ErrorDescription][] = [];
      for (const item of items) typeof item === "number" ? done.push(item) : failed.push(item);
      if (done.length > 0) owner.command("completed", done);
      if (failed.length > 0) for (const slice of errorBatches(failed)) owner.command("failed", slice);
    }, { limit: REPORT_SLICE });
  }

  /** Sends what is pending now (before events that came after these completions). */
  flush(): void {
    this.#batches.flush();
  }

  add(owner: Connection, task: number, error: ErrorDescription | undefined): void {
    this.#batches.add(owner, error ? [task, error] : task);
  }
}
