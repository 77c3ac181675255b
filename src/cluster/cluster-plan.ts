/**
 * Cluster mode, decided once by the head before anything starts: which hosts
 * get a node (from `hosts`, a host file, or the job's allocation), the number
 * of nodes, and the address the head listens on. Local mode passes through
 * untouched and costs nothing.
 */
import { readFileSync } from "node:fs";
import { AllocationError, InvalidArgumentError } from "../errors.ts";
import { isLocalAddress, isWildcard, resolveHost, resolveHosts, routeAddress } from "../launch/addresses.ts";
import { detectAllocation, parsePbsNodeFile, uniqueHosts } from "../launch/allocation.ts";
import { envName, type InitOptions, type ResolvedOptions } from "./options.ts";

export interface ClusterPlan {
  options: ResolvedOptions;
  /** The host of each node, by index; "" for this machine (started as a local process). */
  nodeHosts: string[];
  /** What the head advertises when it listens on a wildcard address. */
  advertise: string;
}

type Environment = Record<string, string | undefined>;

/** `given`: the options as given in code or flags (to tell a chosen value from a default). */
export async function planCluster(given: InitOptions, options: ResolvedOptions, env: Environment = process.env): Promise<ClusterPlan> {
  const chosen = (name: keyof InitOptions) => given[name] !== undefined || (env[envName(name)] ?? "") !== "";
  if (options.launcher === "local") {
    if (options.hosts.length > 0 || options.hostfile) {
      throw new InvalidArgumentError(`hosts were given but the launcher is "local": use launcher "ssh" (--launcher ssh), or leave the launcher out`);
    }
    if (options.dynamic) return planDynamic(options, chosen("address"), chosen("numNodes"));
    return { options, nodeHosts: [], advertise: isWildcard(options.address) ? "127.0.0.1" : options.address };
  }
  if (options.dynamic) throw new InvalidArgumentError(`dynamic mode starts no nodes on other hosts (nodes join it): leave out the launcher "${options.launcher}" and its hosts`);
  const names = hostNames(options, env);
  const hosts = await resolveHosts(names);
  const remote = hosts.filter((host) => !isLocalAddress(host.address));
  // Under a scheduler a node on the head's host is still started by it (srun --overlap): it tracks every process.
  const onHeadHost = options.launcher === "slurm" ? (name: string) => name : () => "";
  const candidates = hosts.flatMap((host) => (remote.includes(host) ? [host.name] : options.reuseHead ? [onHeadHost(host.name)] : []));
  if (candidates.length === 0) {
    throw new AllocationError(`no host gets a node: ${names.join(", ")} ${names.length === 1 ? "is" : "are"} this machine, which runs the head; add hosts, or give it a node with reuseHead (--reuse-head)`);
  }
  let numNodes = candidates.length;
  if (chosen("numNodes")) {
    if (options.numNodes > candidates.length) {
      throw new InvalidArgumentError(`numNodes is ${options.numNodes} but only ${candidates.length} host(s) get a node (${candidates.map((c) => c || "this machine").join(", ")}): one node runs per host`);
    }
    numNodes = options.numNodes;
  }
  const nodeHosts = candidates.slice(0, numNodes);
  // The interface toward the first other host: every host of one cluster is on one network.
  const toward = remote[0]?.address;
  let address = options.address;
  let advertise = address;
  if (!chosen("address")) address = advertise = toward ? await routeAddress(toward) : "127.0.0.1";
  else if (isWildcard(address)) advertise = toward ? await routeAddress(toward) : "127.0.0.1";
  return { options: { ...options, numNodes, address }, nodeHosts, advertise };
}

/**
 * Dynamic mode: nodes dial the head, so it listens where they reach it: the
 * address given, else the one this host's name resolves to (loopback when
 * that is all it has: then only nodes of this machine can join). Local nodes
 * it starts itself (numNodes) are processes of this machine.
 */
async function planDynamic(options: ResolvedOptions, addressChosen: boolean, numNodesChosen: boolean): Promise<ClusterPlan> {
  let address = options.address;
  if (!addressChosen) {
    const { hostname } = await import("node:os");
    address = await resolveHost(hostname()).catch(() => "127.0.0.1");
    if (!isLocalAddress(address)) address = "127.0.0.1";
  }
  const advertise = isWildcard(address) ? await resolveHost((await import("node:os")).hostname()).catch(() => "127.0.0.1") : address;
  // Nodes join: it starts none of its own unless told to.
  return { options: { ...options, address, numNodes: numNodesChosen ? options.numNodes : 0 }, nodeHosts: [], advertise };
}

/** The host names, in order, each once: given, from the host file, or the job's. */
function hostNames(options: ResolvedOptions, env: Environment): string[] {
  if (options.hosts.length > 0) return uniqueHosts(options.hosts);
  if (options.hostfile) {
    let text: string;
    try {
      text = readFileSync(options.hostfile, "utf8");
    } catch (error) {
      throw new InvalidArgumentError(`hostfile ${options.hostfile} cannot be read: ${(error as Error).message}`, { cause: error });
    }
    return parsePbsNodeFile(text, `hostfile ${options.hostfile}`);
  }
  const allocation = detectAllocation(env);
  if (!allocation) {
    const how = options.launcher === "ssh" ? "give hosts (--hosts a,b or --hostfile FILE)" : `run inside a ${options.launcher.toUpperCase()} job, or give hosts`;
    throw new AllocationError(`the ${options.launcher} launcher has no hosts to start nodes on: ${how}`);
  }
  if (allocation.scheduler !== options.launcher && options.launcher !== "ssh") {
    throw new AllocationError(`the launcher is "${options.launcher}" but this runs in a ${allocation.scheduler.toUpperCase()} job (${allocation.jobId})`);
  }
  return allocation.hosts;
}
