/**
 * What a node that joins a dynamic head asks and is told (types only): the
 * head answers with the node's place in the tree, where its parent (the
 * monitor) and the head listen, the program its workers run, and the options
 * every runtime of the cluster shares.
 */
import type { ResolvedOptions } from "./options.ts";

export interface JoinRequest {
  /** The joining node's host name (named in the head's log and in errors about its runtimes). */
  host: string;
}

export interface JoinPlan {
  /** The node's index: it is `node:<index>`, its workers `worker:<index>:j`. */
  index: number;
  monitor: { uid: string; address: string; port: number };
  head: { address: string; port: number };
  /** The cluster id (names shared-memory segments; marks the cluster's processes). */
  cluster: string;
  /** The script the head runs under `mosaic run`, which workers load (absent: the program is the script). */
  script?: string;
  /** The command that starts the head's program again (the workers run it, at the same path on this host). */
  program: string[];
  options: ResolvedOptions;
}
