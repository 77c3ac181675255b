/**
 * The child side of a launch: how a runtime learns that the runtime that
 * launched it is gone (even after SIGKILL, which leaves it no time to say so).
 */

/** Set by the local launcher: the child watches its stdin, a pipe its parent never writes. */
export const WATCH_PARENT_ENV = "MOSAIC_WATCH_PARENT";

export interface ParentWatch {
  /**
   * A cheap backstop check, for the runtime to call on its own heartbeat
   * (a watch has no timer of its own: idle wake-ups cost CPU).
   */
  poll(): void;
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
