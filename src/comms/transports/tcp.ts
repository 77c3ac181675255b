/**
 * TCP transport: Bun.listen / Bun.connect wired to Connection objects, and
 * beside each listener a Unix socket for peers of this machine (unix-socket.ts).
 */
import type { Socket, SocketHandler, TCPSocketListener, TCPSocketListenOptions, UnixSocketListener } from "bun";
import { ConnectionClosedError, MosaicError } from "../../errors.ts";
import { Connection, type ConnectionHandler } from "../connection.ts";
import type { PayloadAllocator } from "../framing.ts";
import type { PeerInfo } from "../protocol.ts";
import { MACHINE_ID } from "../shared-memory/files.ts";
import { bindPort, type EarlyListener } from "./early-listener.ts";
import { listenLocal, localSocketName, unixSocketsOn } from "./unix-socket.ts";

export interface TransportOptions {
  self: PeerInfo;
  secret: string;
  handler: ConnectionHandler;
  log: (message: string) => void;
  allocate?: PayloadAllocator;
  admit?: (bytes: number) => boolean;
  expectedPeer?: string;
}

/** What a dialler knows of the peer's process: with it, a peer on this machine is dialled on its Unix socket. */
export interface LocalPeer {
  pid: number;
  machine?: string;
}

type ConnSocket = Socket<Connection | undefined>;

/**
 * Connections a listener holds that have not proved the secret yet: past it,
 * new ones are closed at once (each would hold memory for the handshake's
 * grace, and nobody who knows the secret needs that many at a time).
 */
export const MAX_PENDING_HANDSHAKES = 64;

function socketHandlers(
  makeConnection: (socket: ConnSocket) => Connection | undefined,
): SocketHandler<Connection | undefined> {
  return {
    // Plain Uint8Array chunks: the subarray() of a Buffer (a frame's body read in place, a dependency value
    // in it) makes a Buffer through Symbol.species, on every message.
    binaryType: "uint8array",
    open(socket) {
      socket.data = makeConnection(socket);
    },
    data(socket, chunk) {
      socket.data?.onData(chunk);
    },
    drain(socket) {
      socket.data?.onDrain();
    },
    close(socket, error) {
      socket.data?.close(
        new ConnectionClosedError(`connection to ${socket.data.peer?.uid ?? "peer"} closed${error ? `: ${error.message}` : ""}`),
      );
    },
    error(socket, error) {
      socket.data?.close(new ConnectionClosedError(`socket error: ${error.message}`, { cause: error }));
    },
    connectError(socket, error) {
      socket.data?.close(new ConnectionClosedError(`connect failed: ${error.message}`, { cause: error }));
    },
  };
}

function listenOrAdopt<T>(early: EarlyListener | undefined, options: TCPSocketListenOptions<T>): TCPSocketListener<T> {
  return early ? early.adopt(options.socket) : bindPort(options.hostname, options.port, () => Bun.listen<T>(options));
}

export class TcpServer {
  readonly listener: TCPSocketListener<Connection | undefined>;
  /** The same listener's Unix socket, for peers of this machine (undefined where there is none). */
  readonly local: UnixSocketListener<Connection | undefined> | undefined;
  readonly connections = new Set<Connection>();
  /** Accepted connections still in their handshake (see MAX_PENDING_HANDSHAKES). */
  #pending = 0;
  #refused = 0;

  /** `early`: a listener bound before this code loaded (a parent runtime that starts its children first), taken over. */
  constructor(hostname: string, port: number, options: Omit<TransportOptions, "self"> & { self: Omit<PeerInfo, "port">; early?: EarlyListener }) {
    const self: PeerInfo = { ...options.self, port: 0 };
    const handlers = socketHandlers((socket) => {
        if (this.#pending >= MAX_PENDING_HANDSHAKES) {
          if (this.#refused++ % 1000 === 0) options.log(`refusing connections: ${this.#pending} are still in their handshake (${this.#refused} refused so far)`);
          socket.terminate();
          return undefined;
        }
        this.#pending++;
        const connection = new Connection({ ...options, self, socket, side: "server" });
        let pending = true;
        const settled = () => {
          if (pending) this.#pending--;
          pending = false;
        };
        connection.authenticated.then(settled, settled);
        this.connections.add(connection);
        connection.closed.then(() => {
          settled();
          this.connections.delete(connection);
        });
        return connection;
      });
    this.listener = listenOrAdopt<Connection | undefined>(options.early, { hostname, port, socket: handlers });
    self.port = this.listener.port;
    // An early listener bound its Unix socket with its port (adopted with it, above).
    this.local = options.early ? options.early.local<Connection | undefined>() : listenLocal(self.port, handlers);
  }

  get port(): number {
    return this.listener.port;
  }

  stop(): void {
    for (const connection of this.connections) connection.close();
    this.listener.stop(true);
    this.local?.stop(true);
  }
}

/**
 * Connects and completes the handshake; rejects with a typed error otherwise.
 * `peer`: the process listening there, when known: one of this machine is
 * dialled on its Unix socket first (see localSocketName).
 */
export async function connectTcp(address: string, port: number, options: TransportOptions, peer?: LocalPeer): Promise<Connection> {
  let connection: Connection | undefined;
  const handlers = socketHandlers((socket) => {
    connection = new Connection({ ...options, socket, side: "client" });
    return connection;
  });
  let local = false;
  if (unixSocketsOn && peer && peer.machine === MACHINE_ID && peer.pid > 0) {
    try {
      await Bun.connect<Connection | undefined>({ unix: localSocketName(peer.pid, port), socket: handlers });
      local = true;
    } catch {
      connection = undefined; // no such socket: TCP
    }
  }
  if (!local) {
    try {
      await Bun.connect<Connection | undefined>({ hostname: address, port, socket: handlers });
    } catch (error) {
      throw new ConnectionClosedError(`cannot connect to ${address}:${port}: ${(error as Error).message}`, { cause: error });
    }
  }
  if (!connection) throw new ConnectionClosedError(`cannot connect to ${address}:${port}`);
  try {
    await connection.authenticated;
  } catch (error) {
    throw error instanceof MosaicError ? error : new ConnectionClosedError(String(error));
  }
  return connection;
}
