/**
 * Whether a runtime still listens at its address, asked over TCP: it works
 * for a runtime on another machine, where this machine's /proc knows nothing.
 */
import type { Socket } from "bun";

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
