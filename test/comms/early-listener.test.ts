import { afterEach, expect, test } from "bun:test";
import type { Socket } from "bun";
import { type Connection, type ConnectionHandler } from "../../src/comms/connection.ts";
import { EarlyListener } from "../../src/comms/transports/early-listener.ts";
import { connectTcp, TcpServer } from "../../src/comms/transports/tcp.ts";
import { RuntimeStateError, UnknownMethodError } from "../../src/errors.ts";
import { MACHINE_ID } from "../../src/comms/shared-memory/index.ts";

const secret = "s3cret-for-tests";
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const close of cleanup.splice(0)) close();
});

/** Until the listener has accepted `count` sockets (it tells nobody: it only keeps them). */
async function accepted(early: EarlyListener, count: number): Promise<void> {
  while (early.waiting < count) await Bun.sleep(1);
}

test("sockets accepted before the handlers are adopted get their open, bytes and close replayed in order; later bytes go straight to the handlers", async () => {
  const early = new EarlyListener("127.0.0.1");
  cleanup.push(() => early.stop());
  const closed = Promise.withResolvers<void>();
  const first = await Bun.connect({ hostname: "127.0.0.1", port: early.port, socket: { data() {} } });
  first.write("one ");
  first.write("two");
  const second = await Bun.connect({ hostname: "127.0.0.1", port: early.port, socket: { data() {} } });
  second.write("gone");
  second.end();
  await accepted(early, 2);
  const seen: string[] = [];
  const names = new Map<Socket<unknown>, string>();
  const more = Promise.withResolvers<void>();
  const listener = early.adopt<unknown>({
    open: (socket) => void names.set(socket, `socket ${names.size + 1}`),
    data: (socket, chunk) => {
      // Plain Uint8Arrays, kept or live (the runtime's handlers ask Bun for them).
      const text = new TextDecoder().decode(chunk);
      seen.push(`${names.get(socket)}: ${text}`);
      if (text.includes("three")) more.resolve();
    },
    close: (socket) => {
      seen.push(`${names.get(socket)} closed`);
      closed.resolve();
    },
  });
  expect(listener.port).toBe(early.port);
  expect(early.adopted).toBe(true);
  await closed.promise;
  first.write(" three");
  await more.promise;
  first.end();
  // Bytes may have come in one chunk or several: what each socket sent, in order.
  const of = (name: string) => seen.filter((line) => line.startsWith(`${name}:`)).map((line) => line.slice(name.length + 2)).join("");
  expect({ first: of("socket 1"), second: of("socket 2"), secondClosed: seen.includes("socket 2 closed") }).toEqual({ first: "one two three", second: "gone", secondClosed: true });
  expect(() => early.adopt({ data() {} })).toThrow(RuntimeStateError);
});

test("a TcpServer that adopts an early listener completes the handshake of a peer that dialled before it existed, advertising the early port", async () => {
  const early = new EarlyListener("127.0.0.1");
  const handler: ConnectionHandler = {
    onRequest(_connection, method, args) {
      if (method === "echo") return args;
      throw new UnknownMethodError(method, "server");
    },
    onCommand() {},
  };
  const dialling = connectTcp("127.0.0.1", early.port, {
    self: { uid: "client", address: "127.0.0.1", port: 0, pid: process.pid },
    secret,
    handler: { onRequest: () => null, onCommand() {} },
    log: () => {},
  });
  await accepted(early, 1);
  const server = new TcpServer("127.0.0.1", 0, { self: { uid: "server", address: "127.0.0.1", pid: process.pid }, secret, handler, log: () => {}, early });
  cleanup.push(() => server.stop());
  const connection: Connection = await dialling;
  cleanup.push(() => connection.close());
  expect({ port: server.port, peer: connection.peer?.uid, peerPort: connection.peer?.port, echo: await connection.request("echo", [1, "two"]) }).toEqual({
    port: early.port,
    peer: "server",
    peerPort: early.port,
    echo: [1, "two"],
  });
});

test("its Unix socket is adopted with it: a peer of this machine that dialled it before the TcpServer existed completes its handshake there", async () => {
  const early = new EarlyListener("127.0.0.1");
  expect(early.localName).toMatch(new RegExp(`^mosaic-${process.pid}-${early.port}-[0-9a-f]{16}$`));
  const handler: ConnectionHandler = {
    onRequest: (_connection, method, args) => (method === "echo" ? args : null),
    onCommand() {},
  };
  const dialling = connectTcp(
    "127.0.0.1",
    early.port,
    { self: { uid: "client", address: "127.0.0.1", port: 0, pid: process.pid }, secret, handler: { onRequest: () => null, onCommand() {} }, log: () => {} },
    { socket: early.localName, machine: MACHINE_ID },
  );
  await accepted(early, 1);
  const server = new TcpServer("127.0.0.1", 0, { self: { uid: "server", address: "127.0.0.1", pid: process.pid }, secret, handler, log: () => {}, early });
  cleanup.push(() => server.stop());
  const connection: Connection = await dialling;
  cleanup.push(() => connection.close());
  expect({ local: server.localName, socket: connection.peer?.socket, echo: await connection.request("echo", "over unix") }).toEqual({ local: early.localName, socket: early.localName, echo: "over unix" });
  // Accepted on the Unix socket (no remote address there).
  expect([...server.connections].map((accepted) => accepted.remoteAddress)).toEqual([undefined]);
});
