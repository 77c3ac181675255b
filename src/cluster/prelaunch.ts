/**
 * A parent runtime's first move: bind its listener and start its local
 * children before it imports its role's code (a monitor or node from
 * role-main.ts; the head, in local mode, before head.ts). Start-up is
 * generations of processes (head → monitor → node → workers), and each one
 * spent most of its time importing before it could start the next; now a
 * child's start overlaps its parent's imports. The role's runtime then takes
 * the listener (connections that came meanwhile are replayed to it) and the
 * children, as if it had started them itself (Runtime.spawnChild).
 */
import { SECRET_ENV } from "../comms/handshake.ts";
import { EarlyListener } from "../comms/transports/early-listener.ts";
import { chooseAddress } from "../launch/addresses.ts";
import type { LaunchedRuntime, Launcher, LineSink } from "../launch/launcher.ts";
import { childSpec, firstLocalChildren, monitorConfig } from "./children.ts";
import { coordinatorLauncher, programLauncher } from "./coordinator.ts";
import type { ResolvedOptions, RoleConfig } from "./options.ts";

/** A child started before its parent's runtime existed: its output waits here until the runtime takes it. */
export interface HeldChild {
  child: LaunchedRuntime;
  /** Sends the lines held so far, and every later one, to `sink`. */
  release(sink: LineSink): void;
}

export interface Prelaunched {
  /** Where the runtime listens and the address it advertises (as chooseAddress decided). */
  listen: string;
  advertise: string;
  listener: EarlyListener;
  /** By uid; the runtime takes each as it would have started it. */
  children: Map<string, HeldChild>;
}

/**
 * Binds and launches for `config`'s role; undefined when it cannot (no
 * secret, an address that does not resolve): the role's own start then does
 * it all and reports what failed.
 */
export async function prelaunch(config: RoleConfig): Promise<Prelaunched | undefined> {
  const secret = process.env[SECRET_ENV];
  if (!secret) return undefined;
  let place: { listen: string; advertise: string };
  try {
    place = await chooseAddress(config.options.address, config.parentAddress);
  } catch {
    return undefined;
  }
  const listener = new EarlyListener(place.listen);
  const configs = firstLocalChildren(config, { address: place.advertise, port: listener.port, socket: listener.localName });
  // Local children inherit this process's environment (the cluster's id among it).
  const launcher = configs.length === 0 ? undefined : config.role === "monitor" ? coordinatorLauncher() : programLauncher();
  return { ...place, listener, children: launchHeld(launcher, configs, secret, {}) };
}

/**
 * The head's part, in local mode (entrypoint.ts): its listener and the
 * monitor, started before head.ts loads (in a fresh program, the longest step
 * before the monitor could start). Not with the dashboard, which starts first
 * so that its page shows the runtimes as they join, nor in dynamic or cluster
 * mode.
 */
export function prelaunchMonitor(options: ResolvedOptions, advertise: string, secret: string, env: Record<string, string>): Prelaunched | undefined {
  if (options.launcher !== "local" || options.dynamic || options.dashboard !== false) return undefined;
  const listener = new EarlyListener(options.address, options.port);
  const configs = [monitorConfig(options, { address: advertise, port: listener.port, socket: listener.localName })];
  try {
    return { listen: options.address, advertise, listener, children: launchHeld(coordinatorLauncher(), configs, secret, env) };
  } catch (error) {
    listener.stop(); // a bound port would keep the program alive after init() failed
    throw error;
  }
}

/** Ends what a runtime did not take (it failed to start before it could). */
export function dropPrelaunched(prelaunched: Prelaunched | undefined): void {
  if (!prelaunched) return;
  for (const { child } of prelaunched.children.values()) child.kill("its parent failed to start");
  prelaunched.children.clear();
  if (!prelaunched.listener.adopted) prelaunched.listener.stop();
}

function launchHeld(launcher: Launcher | undefined, configs: RoleConfig[], secret: string, env: Record<string, string>): Map<string, HeldChild> {
  const children = new Map<string, HeldChild>();
  for (const config of configs) {
    const output = holdOutput();
    const child = launcher!.launch(childSpec(config, secret, output.sink, undefined, env));
    children.set(child.uid, { child, release: output.release });
  }
  return children;
}

function holdOutput(): { sink: LineSink; release: (sink: LineSink) => void } {
  let held: Parameters<LineSink>[] | undefined = [];
  let target: LineSink | undefined;
  return {
    sink: (uid, stream, lines) => (target ? target(uid, stream, lines) : held!.push([uid, stream, lines])),
    release(sink) {
      target = sink;
      for (const line of held ?? []) sink(...line);
      held = undefined;
    },
  };
}
