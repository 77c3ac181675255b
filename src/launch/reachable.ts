/**
 * Whether a runtime still listens at its address, asked over TCP: it works
 * for a runtime on another machine, where this machine's /proc knows nothing.
 */
import type { Socket } from "bun";
import type { PeerInfo } from "../comms/protocol.ts";
import { connectTcp } from "../comms/transports/tcp.ts";

/**
 * Resolves false when the connection is refused or reset, or does not open
 * within `timeoutMs` (an unreachable host); true when the runtime speaks
 * (a Mosaic server sends its challenge first) or the connection stays open
 * until then: a head blocked in the user's code is accepted by its kernel
 * but answers only later, and it is alive.
 */
export async function runtimeReachable(address: string, port: number, timeoutMs: number): Promise<boolean> {
  const { promise, resolve } = Promise.withResolvers<boolean>();
  let opened = false;
  const timer = setTimeout(() => resolve(opened), timeoutMs);
  let socket: Socket | undefined;
  let settled = false;
  Bun.connect({
    hostname: address,
    port,
    socket: {
      open() {
        opened = true;
      },
      data() {
        resolve(true);
      },
      close() {
        resolve(false);
      },
      error() {
        resolve(false);
      },
      connectError() {
        resolve(false);
      },
    },
  }).then(
    (connected) => {
      socket = connected;
      if (settled) connected.end(); // an answer came first (the timeout): do not leave it open
    },
    () => resolve(false),
  );
  const reachable = await promise;
  settled = true;
  clearTimeout(timer);
  socket?.end();
  return reachable;
}

/**
 * Whether `target` of this cluster still runs: it must prove the cluster's
 * secret, not merely accept. Once a runtime is gone its port may belong to
 * another program (a restarted program on the same fixed port, another
 * cluster's head): taking that for the runtime would keep what it owned (its
 * cluster's /dev/shm segments) for ever. A connection that opens but brings
 * no answer within `timeoutMs` is alive, as for runtimeReachable.
 */
export async function clusterRuntimeAlive(
  target: { uid: string; address: string; port: number },
  self: PeerInfo,
  secret: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  // Refused, reset or never opened (the common answer, for a dead head): no handshake needed.
  if (!(await runtimeReachable(target.address, target.port, timeoutMs))) return false;
  const left = deadline - performance.now();
  if (left <= 0) return true; // it accepted and stayed silent: a program that blocks
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const timer = setTimeout(() => resolve(true), left);
  connectTcp(target.address, target.port, {
    self,
    secret,
    expectedPeer: target.uid,
    // Nothing is asked of it: it only has to prove the secret. The timer above decides a silent one.
    handler: { onRequest: () => null, onCommand: () => {} },
    log: () => {},
  }).then(
    (connection) => {
      connection.close();
      resolve(true);
    },
    // Another secret, another runtime answering, not a Mosaic runtime, or gone meanwhile.
    () => resolve(false),
  );
  const alive = await promise;
  clearTimeout(timer);
  return alive;
}
