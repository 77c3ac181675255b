/**
 * Roles and uids: the names runtimes go by on the wire and in messages. One
 * neutral module, so that every layer agrees on their format without
 * importing the layer that starts the processes.
 *
 *   head, monitor          one each
 *   node:<i>               one per host
 *   worker:<i>:<j>         worker j of node i
 *   worker:<i>:<j>/thread:<k>   a worker's tessera thread, on its own link to the head
 */

/** "thread" is one of a worker's threads that tesserae run on. */
export const ROLES = ["head", "monitor", "node", "worker", "thread"] as const;
export type Role = (typeof ROLES)[number];

/** `head`, `monitor`, `node:0`, `worker:0:1`. */
export function uidOf(role: Role, indices: readonly number[]): string {
  return role === "head" || role === "monitor" ? role : `${role}:${indices.join(":")}`;
}

export function isWorkerUid(uid: string): boolean {
  return uid.startsWith("worker:");
}

/** Whether the worker `worker` belongs to `runtime`: itself, its node, or the monitor (which holds every node). */
export function isWorkerUnder(worker: string, runtime: string): boolean {
  if (runtime === "monitor" || runtime === worker) return true;
  return runtime.startsWith("node:") && worker.startsWith(`worker:${runtime.slice(5)}:`);
}

/** The uid a tessera thread uses on its own link to the head: `worker:0:1/thread:2`. */
export function threadUid(worker: string, thread: number): string {
  return `${worker}/thread:${thread}`;
}

export function isThreadUid(uid: string): boolean {
  return uid.includes("/thread:");
}

/** The worker a tessera thread's uid belongs to (`worker:0:1/thread:2` → `worker:0:1`). */
export function workerOfThread(uid: string): string {
  return uid.slice(0, uid.indexOf("/"));
}
