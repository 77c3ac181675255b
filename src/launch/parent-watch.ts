/**
 * How a runtime learns that the runtime that launched it is gone (even after
 * SIGKILL, which leaves it no time to say so), and how a parent asks a child
 * to stop so that the child can act on it even while it is stopped (SIGSTOP,
 * Ctrl-Z).
 */
import type { Subprocess } from "bun";
import { libc } from "../_util/libc.ts";

/** Set by the local launcher: the child watches its stdin, a pipe its parent never writes. */
export const WATCH_PARENT_ENV = "MOSAIC_WATCH_PARENT";

const PR_SET_PDEATHSIG = 1;
const SIGCONT = 18;

export interface ParentWatch {
  /**
   * A cheap backstop check, for the runtime to call on its own heartbeat
   * (a watch has no timer of its own: idle wake-ups cost CPU).
   */
  poll(): void;
}

/**
 * SIGTERM, then SIGCONT, as shells and systemd do: a stopped child
 * (SIGSTOP, Ctrl-Z) holds a SIGTERM pending until it runs again, and would
 * otherwise wait for its parent's SIGKILL (or, if the parent dies first,
 * forever) instead of ending by its own path (its children, its /dev/shm
 * segments). SIGCONT does nothing to a running process.
 */
export function askToStop(child: Pick<Subprocess, "kill">): void {
  child.kill("SIGTERM");
  child.kill("SIGCONT");
}

/**
 * Calls `onGone` (once) when the parent is gone. Undefined when this process
 * was not launched with a watch (started by hand, say): it then outlives
 * nobody's death but its own sockets'.
 */
export function watchParent(onGone: (reason: string) => void): ParentWatch | undefined {
  const how = process.env[WATCH_PARENT_ENV];
  // Not for this process's own children, which get a watch of their own from their launcher.
  delete process.env[WATCH_PARENT_ENV];
  if (how !== "1") return undefined;
  // A stopped process reads no pipe: the kernel continues it when its parent dies, however that dies, and it then
  // sees the EOF below. Set before the reading starts: a parent that died before this ran closed the pipe already,
  // and the first read sees that (the other end is only in the parent: Bun.spawn's "pipe", a socketpair, is not
  // inherited by its other children; checked in /proc). A process stopped before this line whose parent then dies
  // stays stopped: nothing of it runs to notice, and no one is left to continue it.
  continueWhenParentDies();
  let gone = false;
  const notify = (reason: string) => {
    if (gone) return;
    gone = true;
    onGone(reason);
  };
  // The pipe closes when the parent's process ends, however it ends.
  (async () => {
    try {
      for await (const _ of Bun.stdin.stream()) {
        // nothing is ever written; reading just waits for EOF
      }
    } catch {}
    notify("parent process closed its pipe");
  })();
  // Reparented: the parent is gone even if something else still holds our stdin open.
  const parentPid = process.ppid;
  return {
    poll() {
      if (process.ppid !== parentPid) notify("parent process is gone");
    },
  };
}

/**
 * `prctl(PR_SET_PDEATHSIG, SIGCONT)` through bun:ffi: the kernel sends this
 * process SIGCONT when its parent dies. SIGCONT rather than SIGKILL: continued,
 * a stopped runtime sees its pipe's EOF and ends by its own path, cleaning up
 * after itself; a running one is not disturbed. The kernel sends it when the
 * parent *thread* that spawned this process exits, not its whole process:
 * every runtime spawns its children from its main JS thread (Bun.spawn runs
 * synchronously on the calling thread: local.ts, remote-entry.ts, called from
 * the role's own event loop, never from a tessera thread), whose end is the
 * process's end. Were it ever another thread, the SIGCONT would only come
 * early, and harmlessly: never late. Returns whether it was set: not where
 * bun:ffi or libc is missing (not Linux); the pipe's EOF and the ppid
 * backstop still work there for a process that runs.
 */
export function continueWhenParentDies(): boolean {
  return libc()?.prctl(PR_SET_PDEATHSIG, SIGCONT) === 0;
}
