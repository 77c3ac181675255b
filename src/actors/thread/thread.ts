/**
 * A tessera thread: one of the threads of a worker process, where tesserae
 * live and their methods run (executor.ts). The worker's main thread keeps
 * the sockets, so a method that blocks here (a tight loop, Bun.sleepSync)
 * freezes nothing else.
 *
 * The thread runs the user's program too (to declare its classes); the
 * program's init()/run() call hands the thread over to this loop.
 */
import { parentPort } from "node:worker_threads";
import { captureConsole } from "./console.ts";
import { onOps } from "./executor.ts";
import { dialHead } from "./head-link.ts";
import { report } from "./outbox.ts";
import { Report } from "./protocol.ts";

let started = false;

/** Hands this thread over to the tessera loop. Never settles. */
export function startThread(): Promise<never> {
  if (!started) {
    started = true;
    captureConsole();
    parentPort!.on("message", onOps);
    // Ready once the head's link is up (or known to be unavailable): calls never race it.
    void dialHead().then(() => report([Report.Ready]));
  }
  return new Promise<never>(() => {});
}
