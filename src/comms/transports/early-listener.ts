/**
 * A listener bound before the code that serves its connections has loaded.
 * A parent runtime's children need its port to start; binding it first thing
 * lets them start while the parent still imports the rest of its role. What
 * arrives meanwhile (sockets accepted, bytes, closes) is kept in order and
 * replayed to the handlers that adopt the listener.
 */
import type { Socket, SocketHandler, TCPSocketListener, UnixSocketListener } from "bun";
import { AddressInUseError, RuntimeStateError } from "../../errors.ts";
import { listenLocal } from "./unix-socket.ts";

/** Binds a runtime's port; a port taken by another process fails with a typed error naming it. */
export function bindPort<T>(hostname: string, port: number, listen: () => T): T {
  try {
    return listen();
  } catch (error) {
    if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
    throw new AddressInUseError(`port ${port} on ${hostname} is in use: choose another (--port, the port option, MOSAIC_PORT) or 0 for any free one`, { cause: error });
  }
}

type Kept = ["open" | "drain", Socket<unknown>] | ["data", Socket<unknown>, Uint8Array] | ["close" | "error", Socket<unknown>, Error | undefined];

export class EarlyListener {
  readonly #listener: TCPSocketListener<unknown>;
  /** Its Unix socket (unix-socket.ts): what it accepts is kept and replayed in the same order. */
  readonly #local: { name: string; listener: UnixSocketListener<unknown> } | undefined;
  #kept: Kept[] | undefined = [];

  constructor(hostname: string, port = 0) {
    const keep = (event: Kept): void => void this.#kept?.push(event);
    const handlers: SocketHandler<unknown> = {
      // As the runtime's handlers (tcp.ts), which take these sockets over.
      binaryType: "uint8array",
      open: (socket) => keep(["open", socket]),
      // A copy: the bytes are read after this callback returns.
      data: (socket, chunk) => keep(["data", socket, chunk.slice()]),
      drain: (socket) => keep(["drain", socket]),
      close: (socket, error) => keep(["close", socket, error]),
      error: (socket, error) => keep(["error", socket, error]),
    };
    this.#listener = bindPort(hostname, port, () => Bun.listen<unknown>({ hostname, port, socket: handlers }));
    this.#local = listenLocal(this.#listener.port, handlers);
  }

  /** Its Unix socket (and that socket's name) once adopted; undefined where there is none. */
  local<T>(): { name: string; listener: UnixSocketListener<T> } | undefined {
    return this.#local as { name: string; listener: UnixSocketListener<T> } | undefined;
  }

  get port(): number {
    return this.#listener.port;
  }

  /** The name of its Unix socket, which children are given (undefined where there is none). */
  get localName(): string | undefined {
    return this.#local?.name;
  }

  /** Sockets accepted while it waits for its handlers. */
  get waiting(): number {
    return this.#kept?.filter(([kind]) => kind === "open").length ?? 0;
  }

  /** Whether handlers took it over already. */
  get adopted(): boolean {
    return this.#kept === undefined;
  }

  /**
   * Hands the listener, and the sockets it accepted so far, to `handlers`
   * (Bun's reload changes the handlers of open sockets too), then replays
   * what those sockets did meanwhile. Once.
   */
  adopt<T>(handlers: SocketHandler<T>): TCPSocketListener<T> {
    const kept = this.#kept;
    if (!kept) throw new RuntimeStateError("this early listener was adopted already");
    this.#kept = undefined;
    const listener = this.#listener as unknown as TCPSocketListener<T>;
    listener.reload({ socket: handlers });
    this.#local?.listener.reload({ socket: handlers as SocketHandler<unknown> });
    const replay = handlers as Record<string, ((socket: Socket<T>, arg?: unknown) => void) | undefined>;
    for (const [kind, socket, arg] of kept) replay[kind]?.(socket as Socket<T>, arg);
    return listener;
  }

  /** Closes it, when no runtime came to adopt it. */
  stop(): void {
    this.#kept = undefined;
    this.#listener.stop(true);
    this.#local?.listener.stop(true);
  }
}
