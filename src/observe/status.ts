/**
 * The whole cluster's view in one object (`runtime.status()`): a fresh
 * resource sample of the head and of every node and worker, and the head's
 * count of the tasks it submitted that have not ended.
 */
import type { RuntimeResources } from "./resources.ts";

export interface ClusterStatus {
  /** When the head asked (ms since the epoch); each sample has its own `time`. */
  time: number;
  /** The head's own process (it runs no tasks: its task counts are 0). */
  head: RuntimeResources;
  nodes: RuntimeResources[];
  workers: RuntimeResources[];
  /** Runtimes that did not answer in time (or died meanwhile): absent from the lists above. */
  unanswered: string[];
  /** Tasks submitted from this head and not ended: not started (or not known to have started), and running. */
  tasks: { pending: number; running: number };
  /** Tesserae made from this head and not released. */
  tesserae: number;
}

export interface ClusterStatusOptions {
  /** Milliseconds each runtime has to answer (default 5000). */
  timeout?: number;
}
