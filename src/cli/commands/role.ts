/**
 * `mosaic --role monitor|node|worker ...`: run one runtime of the tree. Parents
 * start their children this way, and cluster launchers on other machines will.
 */
import { defineCommand } from "citty";
import { roleArgsDefinition, roleConfigFromFlags } from "../../cluster/options.ts";
import { runRole } from "../../cluster/script.ts";
import { rejectUnknownFlags } from "../_flags.ts";

export const roleCommand = defineCommand({
  meta: { name: "mosaic", description: "Run one runtime of a Mosaic tree (started by its parent)" },
  args: roleArgsDefinition,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, roleArgsDefinition);
    await runRole(roleConfigFromFlags(args as Record<string, string | undefined>));
  },
});
