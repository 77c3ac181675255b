/**
 * The raw Bun TCP baselines' plumbing, shared by the benchmarks and their
 * peer fixtures (bench/_fixtures): a partial-write-safe socket writer,
 * connecting and listening with one, the sequential ping client, and the two
 * ends of a fixture process that prints its port on stdout and lives until
 * its stdin closes (`spawnPeer()` / `stopPeers()` in the benchmark,
 * `serveUntilParentGone()` in the fixture).
 */
import type { Socket, Subprocess, TCPSocketListener } from "bun";
import { join } from "node:path";

/** Where raw peers listen and are dialled: loopback, or a test host's address (BENCH_HOST, cluster.bench.ts). */
export const HOST = process.env.BENCH_HOST ?? "127.0.0.1";

// ---------------------------------------------------------------- writing

/** What the writer needs from a Bun socket. */
export interface WritableSocket {
  write(data: Uint8Array): number;
}

/**
 * Bun's socket.write() takes only what the kernel accepts (its return value)
 * and keeps nothing: queue the unsent tail and resume on `drain`.
 */
export class SocketWriter {
  #socket: WritableSocket;
  #queue: Uint8Array[] = [];

  constructor(socket: WritableSocket) {
    this.#socket = socket;
  }

  get pending(): boolean {
    return this.#queue.length > 0;
  }

  write(bytes: Uint8Array): void {
    if (this.#queue.length > 0) {
      this.#queue.push(bytes);
      return;
    }
    const written = this.#socket.write(bytes);
    if (written < 0) throw new Error("socket closed");
    if (written < bytes.length) this.#queue.push(bytes.subarray(written));
  }

  /** Call from the socket's `drain` handler. */
  onDrain(): void {
    while (this.#queue.length > 0) {
      const chunk = this.#queue[0]!;
      const written = this.#socket.write(chunk);
      if (written < 0) throw new Error("socket closed");
      if (written < chunk.length) {
        this.#queue[0] = chunk.subarray(written);
        return;
      }
      this.#queue.shift();
    }
  }
}

// ---------------------------------------------------------------- sockets

/**
 * Connects to `hostname`:`port` (HOST by default), or to the Unix socket `unix` when given; `onData` gets
 * every chunk, and the writer resumes on `drain`.
 */
export async function connectWithWriter(port: number, onData: (chunk: Uint8Array) => void, hostname = HOST, unix?: string): Promise<{ socket: Socket<undefined>; writer: SocketWriter }> {
  let writer: SocketWriter | undefined;
  const handlers = {
    data(_socket: Socket<undefined>, chunk: Uint8Array) {
      onData(chunk);
    },
    drain() {
      writer?.onDrain();
    },
  };
  const socket = unix === undefined ? await Bun.connect<undefined>({ hostname, port, socket: handlers }) : await Bun.connect<undefined>({ unix, socket: handlers });
  writer = new SocketWriter(socket);
  return { socket, writer };
}

/**
 * Listens on 127.0.0.1, port 0; every connection's data is `state(writer)`
 * for a writer of its own, resumed on `drain`.
 */
export function listenWithWriter<State extends { writer: SocketWriter }>(
  state: (writer: SocketWriter) => State,
  onData: (socket: Socket<State>, chunk: Uint8Array) => void,
): TCPSocketListener<State> {
  return Bun.listen<State>({
    hostname: HOST,
    port: 0,
    socket: {
      open(socket) {
        socket.data = state(new SocketWriter(socket));
      },
      data: onData,
      drain(socket) {
        socket.data.writer.onDrain();
      },
    },
  });
}

// ---------------------------------------------------------------- ping

/** Size of one ping (and of its echo). */
export const PING_BYTES = 32;
export const PING_BASELINE_KIND = `raw Bun TCP ping-pong, ${PING_BYTES} B, to a child Bun process`;
export const UNIX_PING_KIND = `raw Bun Unix-socket ping-pong, ${PING_BYTES} B, to the same child Bun process (abstract name)`;

/** The abstract Unix socket an echo peer (echo-server.ts) of process `pid` listens on too. */
export function echoUnixName(pid: number): string {
  return `\0mosaic-bench-echo-${pid}`;
}

/**
 * Sequential PING_BYTES ping-pong with an echo peer (echo-server.ts): `ping()` resolves when the echo is back.
 * `unix`: over that Unix socket instead of TCP.
 */
export async function connectPing(port: number, unix?: string): Promise<{ socket: Socket<undefined>; ping: () => Promise<void> }> {
  const message = new Uint8Array(PING_BYTES).fill(0x2a);
  let received = 0;
  let waiting: (() => void) | undefined;
  const { socket, writer } = await connectWithWriter(port, (chunk) => {
    received += chunk.length;
    if (received >= PING_BYTES && waiting) {
      received -= PING_BYTES;
      const wake = waiting;
      waiting = undefined;
      wake();
    }
  }, HOST, unix);
  return {
    socket,
    ping() {
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting = resolve;
      writer.write(message);
      return promise;
    },
  };
}

interface EchoState {
  queue: Uint8Array[];
}

function flushEcho(socket: Socket<EchoState>): void {
  const queue = socket.data.queue;
  while (queue.length > 0) {
    const chunk = queue[0]!;
    const written = socket.write(chunk);
    if (written < 0) {
      queue.length = 0;
      return;
    }
    if (written < chunk.length) {
      queue[0] = chunk.subarray(written);
      return;
    }
    queue.shift();
  }
}

/** A raw echo listener on `hostname`, port 0 (or on the Unix socket `unix`): every byte goes back (partial-write-safe). */
export function listenEcho(hostname = HOST, unix?: string): { port: number; stop(closeActiveConnections?: boolean): void } {
  const socket = {
    open(socket: Socket<EchoState>) {
      socket.data = { queue: [] };
    },
    data(socket: Socket<EchoState>, chunk: Uint8Array) {
      // Chunks are fresh for every callback, so they can be queued as they are.
      socket.data.queue.push(chunk);
      if (socket.data.queue.length === 1) flushEcho(socket);
    },
    drain(socket: Socket<EchoState>) {
      flushEcho(socket);
    },
  };
  if (unix !== undefined) {
    const listener = Bun.listen<EchoState>({ unix, socket });
    return { port: 0, stop: (close) => listener.stop(close) };
  }
  return Bun.listen<EchoState>({ hostname, port: 0, socket });
}

// ---------------------------------------------------------------- peer processes

/** The first line of a stream, trimmed ("" if it ends first). */
async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text.split("\n")[0]!.trim();
}

export interface Peer {
  process: Subprocess<"pipe", "pipe", "inherit">;
  port: number;
}

/**
 * Starts bench/_fixtures/`fixture` (with `args`), which prints its port on
 * stdout and lives until its stdin closes. The process goes into `children`
 * before anything can fail, so that `stopPeers(children)` ends it whatever
 * happens.
 */
export async function spawnPeer(children: Subprocess[], fixture: string, ...args: string[]): Promise<Peer> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "_fixtures", fixture), ...args], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(child);
  const port = Number(await readLine(child.stdout));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${fixture} did not report its port`);
  return { process: child, port };
}

/** Sends SIGTERM to every child still running, and waits for each to exit. */
export async function stopPeers(children: readonly Subprocess[]): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, "SIGTERM");
      await child.exited;
    }
  }
}

/**
 * The rest of a fixture's life once it listens: exits on SIGTERM, prints the
 * port on stdout (for `spawnPeer()`), and serves until its stdin closes (the
 * parent is gone).
 */
export async function serveUntilParentGone(listener: { port: number; stop(closeActiveConnections?: boolean): void }): Promise<never> {
  process.on("SIGTERM", () => {
    listener.stop(true);
    process.exit(0);
  });
  process.stdout.write(`${listener.port}\n`);
  for await (const _ of Bun.stdin.stream()) {
    // nothing is sent on stdin; reading just waits for the parent's end to close
  }
  listener.stop(true);
  process.exit(0);
}
