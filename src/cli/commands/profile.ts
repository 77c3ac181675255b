/**
 * `mosaic profile out.json`: prints the summary of a profile written by
 * `mosaic run --profile out.json` (or `init({ profile })`): per method count,
 * total, mean, p50/p99 time and bytes moved, and the busiest workers.
 */
import { defineCommand } from "citty";
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "../../errors.ts";
import { formatSummary, summarizeTrace } from "../../observe/profile-summary.ts";
import { rejectUnknownFlags } from "../_flags.ts";

const profileArgs = {
  file: { type: "positional", description: "A trace written with --profile", required: true },
  workers: { type: "string", description: "How many of the busiest workers to list", default: "5" },
} as const;

export const profileCommand = defineCommand({
  meta: { name: "profile", description: "Summarise a profile written with --profile" },
  args: profileArgs,
  run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, profileArgs);
    let text: string;
    try {
      text = readFileSync(args.file, "utf8");
    } catch (error) {
      throw new InvalidArgumentError(`cannot read ${args.file}: ${(error as Error).message}`);
    }
    let trace: unknown;
    try {
      trace = JSON.parse(text);
    } catch {
      throw new InvalidArgumentError(`${args.file} is not JSON: write a profile with mosaic run --profile ${args.file} script.ts`);
    }
    const busiest = Number(args.workers);
    if (!Number.isInteger(busiest) || busiest < 1) throw new InvalidArgumentError(`--workers must be an integer >= 1, got ${args.workers}`);
    process.stdout.write(formatSummary(summarizeTrace(trace), busiest));
  },
});
