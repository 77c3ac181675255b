/**
 * `bun remote-main.ts PROGRAM ARGS...`: the launch entry as a program of its
 * own (the remote command of ssh, srun and qrsh launches).
 */
import { runRemoteEntry } from "./remote-entry.ts";

// Exits at once: the session's stdin may stay open after the runtime ended, and reading it keeps the loop alive.
process.exit(await runRemoteEntry(process.argv.slice(2)));
