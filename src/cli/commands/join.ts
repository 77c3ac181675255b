/**
 * `mosaic --role node --join HOST:PORT [-nw W] [-nth T] [--secret-file F]
 * [script.ts]`: a node started by hand (or by Kubernetes, a cloud
 * template...) that joins a head started with `mosaic run --dynamic`.
 */
import { type ArgsDef, defineCommand, parseArgs } from "citty";
import { integer, oneOf, readText } from "../../cluster/options/kinds.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { LOG_LEVELS } from "../../logging/logger.ts";
import { rejectUnknownFlags, splitAtScript } from "../_flags.ts";

export const joinArgs = {
  role: { type: "string", description: "node (a joining runtime is a node)", required: true },
  join: { type: "string", description: "Where the head listens: HOST:PORT (its log says)", required: true, valueHint: "HOST:PORT" },
  nworkers: { type: "string", alias: "w", description: "Workers of this node (default: this machine's cores; -nw as mrun)" },
  nthreads: { type: "string", description: "Threads per worker (default: the head's; -nth as mrun)" },
  "secret-file": { type: "string", description: "File with the cluster secret, mode 600 (default: MOSAIC_SECRET)" },
  "log-level": { type: "string", description: "error, warning, info, perf or debug (default: the head's)" },
} as const satisfies ArgsDef;

export const joinCommand = defineCommand({
  meta: { name: "mosaic --role node --join", description: "Join a head started with mosaic run --dynamic, as one node with its workers" },
  args: joinArgs,
  async run({ rawArgs }) {
    const { flags, script, scriptArgs } = splitAtScript(rawArgs);
    rejectUnknownFlags(flags, joinArgs);
    if (scriptArgs.length > 0) throw new InvalidArgumentError(`a joining node takes one script, got more: ${scriptArgs.join(" ")}`);
    const args = parseArgs(flags, joinArgs) as Record<string, string | undefined>;
    if (args.role !== "node") throw new InvalidArgumentError(`--join is for a node: use --role node (got --role ${args.role})`);
    const text = (name: string) => (typeof args[name] === "string" ? args[name] : undefined);
    // Loaded only here: every worker runs this CLI's entry too.
    const { joinCluster } = await import("../../cluster/join.ts");
    await joinCluster({
      join: text("join") ?? "",
      numWorkers: text("nworkers") === undefined ? undefined : readText(integer({ min: 1 }), text("nworkers")!, "--nworkers"),
      numThreads: text("nthreads") === undefined ? undefined : readText(integer({ min: 1 }), text("nthreads")!, "--nthreads"),
      logLevel: text("log-level") === undefined ? undefined : readText(oneOf(LOG_LEVELS, "log level"), text("log-level")!, "--log-level"),
      secretFile: text("secret-file"),
      script,
    });
  },
});
