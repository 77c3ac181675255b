/**
 * Test hosts as network namespaces (../../../shared/CLUSTER-NOTES.md): one
 * namespace per host, each with a veth into a bridge that lives in a namespace
 * of its own, and a private /24 that exists only inside them. Nothing is
 * routed to or from the machine's own network. Names carry this process's pid,
 * so test runs on one machine (other engineers', CI's) never meet, and a run
 * that was SIGKILLed is swept by the next one.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { isAlive } from "../processes.ts";

const PREFIX = "mosaic-";
/** The hosts' subnet: private, and only ever configured inside this run's namespaces. */
export const SUBNET = "10.77.0";

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killing it (SIGKILL) if it runs past `timeout` ms. */
export async function runCommand(command: string[], options: { timeout?: number; env?: Record<string, string>; stdin?: string } = {}): Promise<CommandResult> {
  const child = Bun.spawn(command, {
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...options.env },
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  return { code: child.signalCode ? null : code, stdout, stderr };
}

/** Like runCommand, failing with its output when it does not exit 0. */
export async function mustRun(command: string[], options: Parameters<typeof runCommand>[1] = {}): Promise<string> {
  const result = await runCommand(command, options);
  if (result.code !== 0) throw new Error(`$ ${command.join(" ")} failed (${result.code ?? "killed"}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** The namespaces of one run: `names[i]` is host i's, `bridge` the bridge's. */
export interface Namespaces {
  names: string[];
  bridge: string;
  addresses: string[];
}

function namespacesOfPid(pid: number): string[] {
  return listNamespaces().filter((name) => name.startsWith(`${PREFIX}${pid}-`));
}

function listNamespaces(): string[] {
  return existsSync("/run/netns") ? readdirSync("/run/netns") : [];
}

/** Processes in a namespace (a daemon's own children: job steps, sessions). */
async function pidsIn(namespace: string): Promise<number[]> {
  const out = await runCommand(["ip", "netns", "pids", namespace], { timeout: 5000 });
  return out.stdout.split("\n").filter(Boolean).map(Number);
}

/** Kills what is left in the namespaces, then deletes them and their /etc/netns files. */
export async function removeNamespaces(names: string[]): Promise<void> {
  for (const name of names) {
    for (const pid of await pidsIn(name)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
  for (const name of names) {
    await runCommand(["ip", "netns", "del", name], { timeout: 5000 });
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
  try {
    rmdirSync("/etc/netns"); // only when no other run holds one
  } catch {}
}

/** Namespaces left by runs whose process is gone (SIGKILLed before its afterAll). */
async function sweepStale(): Promise<void> {
  const stale = listNamespaces().filter((name) => {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    return match !== null && !isAlive(Number(match[1]));
  });
  if (stale.length > 0) await removeNamespaces(stale);
}

/**
 * Creates `count` hosts h0..h(count-1) at SUBNET.10+i, reachable from each
 * other only. Each sees the others by name through its own /etc/hosts
 * (`ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts).
 */
export async function createNamespaces(count: number, hostNames: string[]): Promise<Namespaces> {
  await sweepStale();
  const bridge = `${PREFIX}${process.pid}-br`;
  const names = hostNames.map((_, i) => `${PREFIX}${process.pid}-h${i}`);
  const addresses = hostNames.map((_, i) => `${SUBNET}.${10 + i}`);
  const created = { names, bridge, addresses };
  try {
    await mustRun(["ip", "netns", "add", bridge]);
    await mustRun(["ip", "-n", bridge, "link", "add", "br0", "type", "bridge"]);
    await mustRun(["ip", "-n", bridge, "link", "set", "br0", "up"]);
    const hostsFile = ["127.0.0.1 localhost", ...hostNames.map((name, i) => `${addresses[i]} ${name}`), ""].join("\n");
    for (let i = 0; i < count; i++) {
      const ns = names[i]!;
      await mustRun(["ip", "netns", "add", ns]);
      // Both ends made inside namespaces: no interface name is ever taken in the machine's own.
      await mustRun(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", `v${i}`, "netns", bridge]);
      await mustRun(["ip", "-n", bridge, "link", "set", `v${i}`, "master", "br0", "up"]);
      await mustRun(["ip", "-n", ns, "addr", "add", `${addresses[i]}/24`, "dev", "eth0"]);
      await mustRun(["ip", "-n", ns, "link", "set", "eth0", "up"]);
      await mustRun(["ip", "-n", ns, "link", "set", "lo", "up"]);
      mkdirSync(`/etc/netns/${ns}`, { recursive: true });
      writeFileSync(`/etc/netns/${ns}/hosts`, hostsFile);
    }
  } catch (error) {
    await removeNamespaces([...names, bridge].filter((name) => listNamespaces().includes(name)));
    throw error;
  }
  return created;
}

/** This run's namespaces, for a last-resort cleanup. */
export function ownNamespaces(): string[] {
  return namespacesOfPid(process.pid);
}
