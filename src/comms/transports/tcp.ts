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
import { listenLocal, localSocketAddress } from "./unix-socket.ts";

export interface TransportOptions {
  self: PeerInfo;
  secret: string;
  handler: ConnectionHandler;
  log: (message: string) => void;
  allocate?: PayloadAllocator;
  admit?: (bytes: number) => boolean;
  expectedPeer?: string;
}

/** What a dialler knows of the peer beside its address: the Unix socket it gave, and its machine when known. */
export interface LocalPeer {
  socket?: string;
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
  /** Its name, which peers are given to dial it (PeerInfo's `socket`). */
  readonly localName: string | undefined;
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
    const local = options.early ? options.early.local<Connection | undefined>() : listenLocal(self.port, handlers);
    this.local = local?.listener;
    this.localName = local?.name;
    if (local) self.socket = local.name;
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
 * `peer`: the Unix socket the peer gave and its machine: a peer not known to
 * be on another machine is dialled there first, and over TCP when that fails
 * (no such socket here, or whatever answers there does not complete the
 * handshake).
 */
export async function connectTcp(address: string, port: number, options: TransportOptions, peer?: LocalPeer): Promise<Connection> {
  const unix = peer && (peer.machine === undefined || peer.machine === MACHINE_ID) ? localSocketAddress(peer.socket) : undefined;
  if (unix) {
    try {
      return await dial({ unix }, `${address}:${port}`, options);
    } catch {} // TCP, as for any other peer (its own failure is the one reported)
  }
  return dial({ hostname: address, port }, `${address}:${port}`, options);
}

async function dial(target: { unix: string } | { hostname: string; port: number }, name: string, options: TransportOptions): Promise<Connection> {
  let connection: Connection | undefined;
  const socket = socketHandlers((socket) => {
    connection = new Connection({ ...options, socket, side: "client" });
    return connection;
  });
  try {
    if ("unix" in target) await Bun.connect<Connection | undefined>({ unix: target.unix, socket });
    else await Bun.connect<Connection | undefined>({ hostname: target.hostname, port: target.port, socket });
  } catch (error) {
    throw new ConnectionClosedError(`cannot connect to ${name}: ${(error as Error).message}`, { cause: error });
  }
  if (!connection) throw new ConnectionClosedError(`cannot connect to ${name}`);
  try {
    await connection.authenticated;
  } catch (error) {
    connection.close();
    throw error instanceof MosaicError ? error : new ConnectionClosedError(String(error));
  }
  return connection;
}
