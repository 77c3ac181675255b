/**
 * A node that joins a dynamic head by itself (`mosaic --role node --join
 * HOST:PORT`), started by hand, by Kubernetes, on a cloud machine: it proves
 * the cluster secret to the head, is told its place (join-plan.ts), and from
 * then on is a node like any other, under the monitor, with workers of its
 * own. It leaves when the head stops, when its link goes silent, or on
 * Ctrl-C / SIGTERM (its tasks then fail on the head, which goes on).
 */
import { hostname } from "node:os";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Connection, ConnectionHandler } from "../comms/connection.ts";
import { CLUSTER_ENV, MACHINE_ID } from "../comms/shared-memory/index.ts";
import { connectTcp } from "../comms/transports/tcp.ts";
import { HandshakeError, InvalidArgumentError } from "../errors.ts";
import { resolveHost } from "../launch/addresses.ts";
import { PROGRAM_KEY, programCommand } from "../launch/program.ts";
import { bareReporter, createLogger, type LogLevel, prefixedReporter } from "../logging/logger.ts";
import type { JoinPlan, JoinRequest } from "./join-plan.ts";
import type { RoleConfig } from "./options.ts";
import { givenSecret } from "./secret.ts";
import { state } from "./state.ts";

export interface JoinOptions {
  /** Where the head listens: "HOST:PORT" (IPv6 as "[ADDRESS]:PORT"). */
  join: string;
  /** Workers of this node (default: this machine's cores). */
  numWorkers?: number;
  /** Threads per worker (default: the head's). */
  numThreads?: number;
  logLevel?: LogLevel;
  /** The program the workers load (default: the head's, at the same path on this host). */
  script?: string;
  /** File with the cluster secret (default: MOSAIC_SECRET). */
  secretFile?: string;
}

/** "HOST:PORT" as a host and a port, or InvalidArgumentError saying what is wrong. */
export function parseJoinAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new InvalidArgumentError(`--join needs the head's HOST:PORT (e.g. head.example.org:7000), got "${text}"`);
  }
  return { host: match[1] ?? match[2]!, port };
}

/** Nothing is served on the link that asks to join: it asks one question and closes. */
const ASKING: ConnectionHandler = {
  onRequest(_connection, method) {
    throw new InvalidArgumentError(`a joining node answers no requests (asked "${method}")`);
  },
  onCommand() {},
};

/** Proves the secret to the head and asks for this node's place. */
async function askToJoin(address: string, port: number, secret: string, request: JoinRequest): Promise<JoinPlan> {
  const self = { uid: `join/${hostname()}/${process.pid}`, address: "0.0.0.0", port: 0, pid: process.pid, machine: MACHINE_ID };
  let connection: Connection;
  try {
    connection = await connectTcp(address, port, { self, secret, handler: ASKING, log: () => {}, expectedPeer: "head" });
  } catch (error) {
    const message = (error as Error).message;
    if (/cannot connect/.test(message)) throw new HandshakeError(`no head answers at ${address}:${port}: ${message}`, { cause: error });
    // Either side may find the other's proof wrong; anything else (another protocol version, another runtime on that port) is said as it is.
    if (/did not prove the cluster secret/.test(message)) {
      throw new HandshakeError(
        `the head at ${address}:${port} refused this node: it did not accept its secret (the node must have the head's: MOSAIC_SECRET or --secret-file) — ${message}`,
        { cause: error },
      );
    }
    throw new HandshakeError(`the head at ${address}:${port} refused this node: ${message}`, { cause: error });
  }
  try {
    return await connection.request<JoinPlan>("join", request, { timeout: 60_000 });
  } finally {
    connection.close();
  }
}

/** Joins the head named by `options.join` and runs as its node until the head stops or this node is ended. */
export async function joinCluster(options: JoinOptions): Promise<never> {
  const { host, port } = parseJoinAddress(options.join);
  const secret = givenSecret(options.secretFile ?? "");
  if (!secret) {
    throw new InvalidArgumentError("a node that joins needs the cluster secret: set MOSAIC_SECRET, or give --secret-file FILE (the head's log names the file it wrote)");
  }
  let script = options.script && resolve(options.script);
  if (script && !existsSync(script)) throw new InvalidArgumentError(`the script ${options.script} does not exist (${script})`);
  const address = await resolveHost(host);
  const plan = await askToJoin(address, port, secret, { host: hostname() });

  // Its workers run the program given here (with this CLI), or the head's, at the same path on this host.
  process.env[CLUSTER_ENV] = plan.cluster;
  if (!script) {
    script = plan.script;
    (globalThis as Record<symbol, unknown>)[PROGRAM_KEY] = plan.program;
  } else {
    (globalThis as Record<symbol, unknown>)[PROGRAM_KEY] = programCommand();
  }
  const numWorkers = options.numWorkers ?? Math.max(1, navigator.hardwareConcurrency);
  const config: RoleConfig = {
    role: "node",
    indices: [plan.index],
    parentAddress: plan.monitor.address,
    parentPort: plan.monitor.port,
    head: plan.head,
    script,
    joined: true,
    options: { ...plan.options, numWorkers, numThreads: options.numThreads ?? plan.options.numThreads, logLevel: options.logLevel ?? plan.options.logLevel },
  };
  const uid = `node:${plan.index}`;
  // Its own lines show on its terminal, prefixed, and reach the head like every runtime's.
  const logger = createLogger(uid, config.options.logLevel, prefixedReporter());
  const { NodeRuntime } = await import("./node.ts");
  const runtime = new NodeRuntime(config, secret, logger);
  logger.consola.addReporter(bareReporter((stream, text) => runtime.relayLines(uid, stream, [text.replace(/\n$/, "")])));
  state.role = "node";
  state.runtime = runtime;
  try {
    await runtime.start();
  } catch (error) {
    logger.error(`failed to join: ${(error as Error).message}`);
    return runtime.exit("join failed", 1);
  }
  logger.info(`joined ${plan.head.address}:${plan.head.port} as ${uid} with ${numWorkers} workers`);
  await runtime.stopped;
  return runtime.exit("stopped");
}
