/**
 * Several hosts on this machine for cluster tests: network namespaces h0..hN-1
 * (netns.ts), a real sshd on each, and optionally munge with a real SLURM
 * (slurm.ts). A test file starts one set in beforeAll and stops it in
 * afterAll, which removes everything it made even when a test failed:
 *
 *   const hosts = clusterHostsForFile({ slurm: true });   // registers both hooks
 *   test.skipIf(!CLUSTER_HOSTS_AVAILABLE)("...", async () => { hosts().exec(1, ["hostname", "-I"]) });
 *
 * It needs root (namespaces, daemons on port 22); without it, or without the
 * Debian packages `.ci/run` installs, CLUSTER_HOSTS_AVAILABLE is false and
 * UNAVAILABLE_REASON says why, for the tests to skip.
 */
import { afterAll, beforeAll } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon } from "./daemon.ts";
import { type CommandResult, createNamespaces, mustRun, type Namespaces, removeNamespaces, runCommand } from "./netns.ts";
import { SGE_BINARIES, type Sge, startSge } from "./sge.ts";
import { startSlurm, type Slurm, SLURM_BINARIES } from "./slurm.ts";

export type { CommandResult } from "./netns.ts";
export type { Sge } from "./sge.ts";
export type { Slurm } from "./slurm.ts";

const SSH_BINARIES = ["/usr/sbin/ip", "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"];

function unavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "cluster tests need root (network namespaces, sshd); run them as root, as CI does";
  const missing = [...SSH_BINARIES, ...SLURM_BINARIES, ...SGE_BINARIES].filter((path) => !existsSync(path));
  if (missing.length > 0) return `cluster tests need ${missing.join(", ")} (.ci/run installs them)`;
  return undefined;
}

export const UNAVAILABLE_REASON = unavailableReason();
export const CLUSTER_HOSTS_AVAILABLE = UNAVAILABLE_REASON === undefined;

export interface ClusterHostsOptions {
  /** How many hosts (at least 3 for cluster tests). */
  count?: number;
  /** Start munge, slurmctld on h0 and a slurmd per host. */
  slurm?: boolean;
  /** Start a Grid Engine cell: sge_qmaster on h0 and an sge_execd per host, a parallel environment over all. */
  sge?: boolean;
}

export interface ClusterHosts {
  /** Host names as the ssh config and SLURM know them: h0, h1... */
  readonly names: string[];
  /** Each host's address, in the private subnet. */
  readonly addresses: string[];
  /** Each host's network namespace (`ip netns exec NAME`). */
  readonly namespaces: string[];
  /** This run's directory (keys, configs, logs); removed by stop(). */
  readonly dir: string;
  /** An ssh config naming every host (`ssh -F sshConfig h1 CMD`). */
  readonly sshConfig: string;
  /** The ssh command to reach the other hosts from `host` (the client runs inside that host's namespace). */
  sshCommand(host?: number): string[];
  /** `command` prefixed to run on `host`: `ip netns exec NS ...`. */
  on(host: number, command: string[]): string[];
  /** Runs `command` on `host` to completion (SIGKILLed after `timeout` ms). */
  exec(host: number, command: string[], options?: { timeout?: number; env?: Record<string, string> }): Promise<CommandResult>;
  /** The network namespace's identity (`net:[inode]`), as /proc/PID/ns/net shows it for a process on that host. */
  netnsId(host: number): Promise<string>;
  readonly slurm: Slurm | undefined;
  readonly sge: Sge | undefined;
  stop(): Promise<void>;
}

/** Starts `count` hosts with an sshd each (and SLURM if asked). On failure, whatever was made is removed. */
export async function startClusterHosts(options: ClusterHostsOptions = {}): Promise<ClusterHosts> {
  if (UNAVAILABLE_REASON) throw new Error(UNAVAILABLE_REASON);
  const count = options.count ?? 3;
  const names = Array.from({ length: count }, (_, i) => `h${i}`);
  const dir = mkdtempSync(join(tmpdir(), "mosaic-hosts-"));
  const daemons: Daemon[] = [];
  let namespaces: Namespaces | undefined;
  let slurm: Slurm | undefined;
  let sge: Sge | undefined;
  const stop = async () => {
    await sge?.stop();
    await slurm?.stop();
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    if (namespaces) await removeNamespaces([...namespaces.names, namespaces.bridge]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    namespaces = await createNamespaces(count, names);
    const ns = namespaces;
    const on = (host: number, command: string[]) => ["ip", "netns", "exec", ns.names[host]!, ...command];
    const sshConfig = await startSshd(dir, names, ns, on, daemons);
    if (options.slurm) slurm = await startSlurm(dir, names, ns.addresses, on);
    if (options.sge) sge = await startSge(dir, names, on);
    return {
      names,
      addresses: ns.addresses,
      namespaces: ns.names,
      dir,
      sshConfig,
      sshCommand: (host = 0) => on(host, ["ssh", "-F", sshConfig]),
      on,
      exec: (host, command, execOptions) => runCommand(on(host, command), execOptions),
      netnsId: async (host) => (await mustRun(on(host, ["readlink", "/proc/self/ns/net"]))).trim(),
      slurm,
      sge,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An sshd per host, all trusting one key made for this run; returns the client's config file. */
async function startSshd(dir: string, names: string[], ns: Namespaces, on: (host: number, command: string[]) => string[], daemons: Daemon[]): Promise<string> {
  // sshd refuses to start without its privilege separation directory (made by the package's init script).
  await mustRun(["mkdir", "-p", "/run/sshd"]);
  const key = join(dir, "id_ed25519");
  const hostKey = join(dir, "host_ed25519");
  await Promise.all([mustRun(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]), mustRun(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey])]);
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, await Bun.file(`${key}.pub`).text(), { mode: 0o600 });
  const started = names.map((name, i) => {
    const daemon = new Daemon(
      `sshd on ${name}`,
      on(i, [
        "/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null",
        "-o", `ListenAddress=${ns.addresses[i]}`, "-o", `HostKey=${hostKey}`, "-o", `AuthorizedKeysFile=${authorized}`,
        "-o", `PidFile=${join(dir, `sshd-${name}.pid`)}`, "-o", "UsePAM=no", "-o", "StrictModes=no",
        "-o", "PasswordAuthentication=no", "-o", "PermitRootLogin=prohibit-password", "-o", "LogLevel=INFO",
      ]),
    );
    daemons.push(daemon);
    return daemon.printed(/Server listening on/);
  });
  await Promise.all(started);
  const config = join(dir, "ssh_config");
  const entries = names.map((name, i) =>
    [`Host ${name}`, `  HostName ${ns.addresses[i]}`, "  User root", `  IdentityFile ${key}`, "  IdentitiesOnly yes", "  StrictHostKeyChecking no",
      "  UserKnownHostsFile /dev/null", "  LogLevel ERROR", "  BatchMode yes", "  ConnectTimeout 10"].join("\n"),
  );
  writeFileSync(config, `${entries.join("\n")}\n`);
  return config;
}

/**
 * One set of hosts for the whole test file: started in beforeAll, stopped in
 * afterAll (also after failures). Returns an accessor; without root it starts
 * nothing and the accessor throws (tests skip with CLUSTER_HOSTS_AVAILABLE).
 */
export function clusterHostsForFile(options: ClusterHostsOptions = {}): () => ClusterHosts {
  let hosts: ClusterHosts | undefined;
  beforeAll(async () => {
    if (CLUSTER_HOSTS_AVAILABLE) hosts = await startClusterHosts(options);
  }, 60_000);
  afterAll(async () => {
    await hosts?.stop();
    hosts = undefined;
  }, 60_000);
  return () => {
    if (!hosts) throw new Error(UNAVAILABLE_REASON ?? "cluster hosts are not started (outside the test file's beforeAll/afterAll)");
    return hosts;
  };
}
