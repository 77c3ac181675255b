/**
 * Unix sockets beside TCP listeners, for peers of the same machine and network
 * namespace: a listener on Linux also listens on a socket of the abstract
 * namespace (no file: it goes with its process) named after its process and
 * TCP port, and a runtime that knows a peer's pid and machine dials that name
 * first (tcp.ts). The same bytes and handshake, without the kernel's TCP work:
 * a 32-byte ping-pong between two Bun processes here took ~14 us against
 * ~16.7 over TCP loopback unpinned, ~14.5 against ~19 on one CPU.
 * `MOSAIC_UNIX_SOCKETS=0` turns them off (every link takes TCP).
 */
import type { SocketHandler, UnixSocketListener } from "bun";

export const unixSocketsOn = process.platform === "linux" && process.env.MOSAIC_UNIX_SOCKETS !== "0";

/** The abstract socket of the listener of process `pid` on TCP port `port` (the leading NUL: no file; unique while both live). */
export function localSocketName(pid: number, port: number): string {
  return `\0mosaic-${pid}-${port}`;
}

/** This process's Unix socket beside its TCP port `port`; undefined where there is none (off, or the name is taken). */
export function listenLocal<T>(port: number, handlers: SocketHandler<T>): UnixSocketListener<T> | undefined {
  if (!unixSocketsOn) return undefined;
  try {
    return Bun.listen<T>({ unix: localSocketName(process.pid, port), socket: handlers });
  } catch {
    return undefined; // peers of this machine then dial the TCP port, as any other
  }
}
