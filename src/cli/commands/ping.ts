/**
 * `mosaic ping [-n N] [-w N]`: start a local runtime, ping every worker, print
 * the round trips, stop. Checks that a machine (or a compiled binary) can run
 * a whole tree without any script.
 */
import { defineCommand } from "citty";
import { startHead } from "../../cluster/entrypoint.ts";
import { rejectUnknownFlags, runOptionsFromArgs } from "../_flags.ts";

const pingArgs = {
  nnodes: { type: "string", alias: "n", description: "Number of nodes", default: "1" },
  nworkers: { type: "string", alias: "w", description: "Workers per node", default: "2" },
  "log-level": { type: "string", description: "error, warning, info, perf or debug", default: "info" },
} as const;

export const pingCommand = defineCommand({
  meta: { name: "ping", description: "Start a local runtime, ping every worker and stop" },
  args: pingArgs,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, pingArgs);
    const started = performance.now();
    const head = await startHead(runOptionsFromArgs(args));
    const ready = performance.now();
    try {
      for (const worker of head.workers) {
        const before = performance.now();
        const reply = await worker.ping(5000);
        head.logger.info(`ping ${reply}: ${((performance.now() - before) * 1000).toFixed(0)} us`);
      }
    } finally {
      await head.stop();
    }
    head.logger.info(`${head.numWorkers} workers ready in ${(ready - started).toFixed(0)} ms, stopped in ${(performance.now() - ready).toFixed(0)} ms`);
  },
});
