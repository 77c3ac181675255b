/**
 * Unix sockets beside TCP listeners, for peers of the same machine and network
 * namespace: a listener on Linux also listens on a socket of the abstract
 * namespace (no file: it goes with its process), `mosaic-<pid>-<port>-<random>`,
 * which it gives with its address (its PeerInfo's `socket`, a child's
 * `--parent-socket`); a runtime dialling a peer that gave one, and is not on
 * another machine, dials it first (tcp.ts) and TCP if that fails. The random
 * part keeps others from taking the name first (abstract names have no
 * permissions). The same bytes and handshake, without the kernel's TCP work:
 * a 32-byte ping-pong between two Bun processes here took ~14 us against ~16.7
 * over TCP loopback unpinned, ~14.5 against ~19 on one CPU.
 * `MOSAIC_UNIX_SOCKETS=0` turns them off (every link takes TCP).
 */
import type { SocketHandler, UnixSocketListener } from "bun";

export const unixSocketsOn = process.platform === "linux" && process.env.MOSAIC_UNIX_SOCKETS !== "0";

const NAME = /^mosaic-\d+-\d+-[0-9a-f]{16}$/;

/** A new name for this process's socket beside its TCP port `port`. */
export function newLocalSocketName(port: number): string {
  const random = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
  return `mosaic-${process.pid}-${port}-${random}`;
}

/** The address Bun listens on or dials for `name` (the leading NUL: the abstract namespace); undefined for a name this never gives. */
export function localSocketAddress(name: string | undefined): string | undefined {
  return unixSocketsOn && name !== undefined && NAME.test(name) ? `\0${name}` : undefined;
}

/** Listens on a new socket beside TCP port `port`: its name and listener, undefined where there is none (off, or it failed). */
export function listenLocal<T>(port: number, handlers: SocketHandler<T>): { name: string; listener: UnixSocketListener<T> } | undefined {
  if (!unixSocketsOn) return undefined;
  const name = newLocalSocketName(port);
  try {
    return { name, listener: Bun.listen<T>({ unix: localSocketAddress(name)!, socket: handlers }) };
  } catch {
    return undefined; // peers of this machine then dial the TCP port, as any other
  }
}
