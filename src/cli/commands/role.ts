/**
 * `mosaic --role monitor|node|worker ...`: run one runtime of the tree. Parents
 * start their children this way, and cluster launchers on other machines will.
 */
import { defineCommand } from "citty";
import { roleConfigFromFlags } from "../../cluster/options.ts";
import { runRole } from "../../cluster/script.ts";
import { rejectUnknownFlags, roleArgs } from "../_flags.ts";

export const roleCommand = defineCommand({
  meta: { name: "mosaic", description: "Run one runtime of a Mosaic tree (started by its parent)" },
  args: roleArgs,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, roleArgs);
    await runRole(roleConfigFromFlags(args));
  },
});
