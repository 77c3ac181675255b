/**
 * A worker runtime: the process where tesserae live and tasks run.
 */
import type { RuntimeLogger } from "../logging/logger.ts";
import { ChildRole } from "./child-role.ts";
import type { RoleConfig } from "./options.ts";
import type { NetworkSnapshot } from "./runtime.ts";

export class WorkerRuntime extends ChildRole {
  constructor(config: RoleConfig, secret: string, logger: RuntimeLogger) {
    super(config, `node:${config.indices[0]}`, secret, logger);
    this.commands.network = (network: NetworkSnapshot) => {
      this.network = network;
    };
  }

  protected async startRole(): Promise<void> {
    // Ready as soon as the node has our connection: it reports us to the monitor.
  }
}
