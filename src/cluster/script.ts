/**
 * Running a user's script under the CLI: as the head's program (`mosaic run`)
 * and, in every child, loaded so that its tessera classes exist there too.
 */
import { printableError } from "../errors.ts";
import { state } from "./state.ts";
import { startHead, startRole } from "./entrypoint.ts";
import type { InitOptions, RoleConfig } from "./options.ts";

const SCRIPT_KEY = Symbol.for("mosaic.script");

/** Starts a runtime, imports the script as the head's program, stops. Returns the exit code. */
export async function runScript(script: string, scriptArgs: string[], options: InitOptions): Promise<number> {
  (globalThis as Record<symbol, unknown>)[SCRIPT_KEY] = script;
  state.attached = true;
  const head = await startHead(options);
  const stopOnSignal = (signal: NodeJS.Signals) => {
    void head.stop().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  process.argv = [process.argv[0]!, script, ...scriptArgs];
  let code = 0;
  try {
    await import(script);
    await Promise.all(state.runs);
    code = typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    head.logger.error(`${script} failed: ${printableError(error)}`);
    code = 1;
  } finally {
    state.attached = false;
    await head.stop();
    state.runtime = undefined;
  }
  return code;
}

/**
 * Runs this process as a child role. A worker also loads the script, so that
 * the script's tessera classes exist here; its init()/run() calls attach.
 */
export async function runRole(config: RoleConfig): Promise<never> {
  const running = startRole(config);
  if (config.script && config.role === "worker") {
    (globalThis as Record<symbol, unknown>)[SCRIPT_KEY] = config.script;
    // The script sees itself as the program, not the runtime's role flags (its own arguments stay with the head).
    process.argv = [process.argv[0]!, config.script];
    import(config.script).catch((error) => {
      console.error(`cannot load ${config.script}: ${printableError(error)}`);
      process.exit(1);
    });
  }
  return running;
}
