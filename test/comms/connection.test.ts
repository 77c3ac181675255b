import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { Connection, type ConnectionHandler, WithPayloads } from "../../src/comms/connection.ts";
import { clusterId, removeSegments } from "../../src/comms/shared-memory/index.ts";
import { connectTcp, type LocalPeer, MAX_PENDING_HANDSHAKES, TcpServer } from "../../src/comms/transports/tcp.ts";
import { MACHINE_ID } from "../../src/comms/shared-memory/index.ts";
import { newLocalSocketName } from "../../src/comms/transports/unix-socket.ts";
import { HandshakeError, RemoteError, UnknownMethodError } from "../../src/errors.ts";

const secret = "s3cret-for-tests";
const servers: TcpServer[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
});
// The connections run in this process: large payloads were received into its /dev/shm pool, which a runtime
// removes when it stops (the test runner does not run exit handlers: remove it here, and check).
afterAll(() => {
  removeSegments();
  expect(readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${clusterId()}-${process.pid}-`))).toEqual([]);
});

function echoServer(logs: string[] = []): TcpServer {
  const handler: ConnectionHandler = {
    onRequest(_connection, method, args, payloads) {
      if (method === "echo") return args;
      if (method === "sum") return payloads.reduce((total, p) => total + p.reduce((a, b) => a + b, 0), 0);
      if (method === "mirror") return new WithPayloads(args, payloads);
      if (method === "slow") return Bun.sleep(5).then(() => "late");
      throw new UnknownMethodError(method, "server");
    },
    onCommand() {},
  };
  const server = new TcpServer("127.0.0.1", 0, {
    self: { uid: "server", address: "127.0.0.1", pid: process.pid },
    secret,
    handler,
    log: (line) => logs.push(line),
  });
  servers.push(server);
  return server;
}

const clientHandler: ConnectionHandler = {
  onRequest: (_c, method) => {
    throw new UnknownMethodError(method, "client");
  },
  onCommand() {},
};

function connect(port: number, withSecret = secret, peer?: LocalPeer): Promise<Connection> {
  return connectTcp("127.0.0.1", port, {
    self: { uid: "client", address: "127.0.0.1", port: 0, pid: process.pid },
    secret: withSecret,
    handler: clientHandler,
    log: () => {},
  }, peer);
}

describe("connection", () => {
  test("a request gets its reply and the peers know each other after the handshake", async () => {
    const server = echoServer();
    const client = await connect(server.port);
    expect(client.peer?.uid).toBe("server");
    expect(await client.request("echo", { a: [1, "two", null] })).toEqual({ a: [1, "two", null] });
    client.close();
  });

  test("many pipelined requests are answered in order, each with its own reply", async () => {
    const server = echoServer();
    const client = await connect(server.port);
    const replies = await Promise.all(Array.from({ length: 5000 }, (_, i) => client.request("echo", i)));
    expect(replies).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    client.close();
  });

  test("raw payloads larger than a socket chunk arrive whole, both ways", async () => {
    const server = echoServer();
    const client = await connect(server.port);
    const big = new Uint8Array(8 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
    const small = new Uint8Array([1, 2, 3]);
    const reply = await client.request<WithPayloads>("mirror", "tag", { payloads: [big, new Uint8Array(0), small] });
    expect(reply).toBeInstanceOf(WithPayloads);
    expect(reply.value).toBe("tag");
    expect(reply.payloads.map((p) => p.length)).toEqual([big.length, 0, 3]);
    expect(Buffer.compare(reply.payloads[0]!, big)).toBe(0);
    expect([...reply.payloads[2]!]).toEqual([1, 2, 3]);
    client.close();
  });

  test("an unknown method is answered with an error naming it and the connection keeps working", async () => {
    const logs: string[] = [];
    const server = echoServer(logs);
    const client = await connect(server.port);
    const failure = (await client.request("nope", []).catch((error) => error)) as RemoteError;
    expect(failure).toBeInstanceOf(RemoteError);
    expect(failure.remoteName).toBe("UnknownMethodError");
    expect(failure.message).toContain('"nope"');
    expect(await client.request("slow", null)).toBe("late");
    expect(logs.join("\n")).toContain("nope");
    client.close();
  });

  test("a client with the wrong secret is refused and logged", async () => {
    const logs: string[] = [];
    const server = echoServer(logs);
    const failure = await connect(server.port, "wrong").catch((error) => error);
    expect(failure).toBeInstanceOf(HandshakeError);
    expect(failure.message).toContain("refused the handshake");
    expect(logs.join("\n")).toContain("did not prove the cluster secret");
    const good = await connect(server.port);
    expect(await good.request("echo", 1)).toBe(1);
    good.close();
  });

  test("a server with another secret and a client cannot complete a handshake", async () => {
    const impostor = new TcpServer("127.0.0.1", 0, {
      self: { uid: "impostor", address: "127.0.0.1", pid: process.pid },
      secret: "other",
      handler: clientHandler,
      log: () => {},
    });
    servers.push(impostor);
    const failure = await connect(impostor.port).catch((error) => error);
    expect(failure).toBeInstanceOf(HandshakeError);
    expect(impostor.connections.size).toBe(0);
  });

  test("garbage bytes get the sender dropped while other clients keep being served", async () => {
    const logs: string[] = [];
    const server = echoServer(logs);
    const good = await connect(server.port);
    const closed = Promise.withResolvers<void>();
    const raw = await Bun.connect({
      hostname: "127.0.0.1",
      port: server.port,
      socket: { data() {}, close: () => closed.resolve() },
    });
    raw.write(new Uint8Array([0xff, 0xff, 0xff, 0x7f, 9, 1, 2, 3, 4, 5, 6]));
    await closed.promise;
    expect(logs.join("\n")).toMatch(/dropping unauthenticated peer.*(exceeds|unknown frame kind)/);
    expect(await good.request("echo", "still here")).toBe("still here");
    good.close();
  });

  test("a reply pending when the connection closes fails with a typed error", async () => {
    const server = echoServer();
    const client = await connect(server.port);
    const pending = client.request("slow", null);
    client.close();
    await expect(pending).rejects.toThrow(/closed/);
  });

  test("a listener holds at most MAX_PENDING_HANDSHAKES connections in their handshake: later ones are closed at once, and it keeps serving", async () => {
    const logs: string[] = [];
    const server = echoServer(logs);
    const total = MAX_PENDING_HANDSHAKES + 40;
    const closed: number[] = [];
    const refused = Promise.withResolvers<void>();
    const sockets = [];
    for (let i = 0; i < total; i++) {
      sockets.push(
        await Bun.connect({
          hostname: "127.0.0.1",
          port: server.port,
          socket: {
            data() {},
            close: () => {
              if (closed.push(i) === total - MAX_PENDING_HANDSHAKES) refused.resolve();
            },
          },
        }),
      );
    }
    // Nothing else connects here: the first ones wait for their handshake (seconds of grace), every later one is closed.
    await refused.promise;
    expect(closed.toSorted((a, b) => a - b)).toEqual(Array.from({ length: total - MAX_PENDING_HANDSHAKES }, (_, i) => MAX_PENDING_HANDSHAKES + i));
    expect(logs.filter((line) => line.startsWith("refusing connections"))).toHaveLength(1);
    const waiting = [...server.connections];
    expect(waiting).toHaveLength(MAX_PENDING_HANDSHAKES);
    for (const socket of sockets) socket.end();
    await Promise.all(waiting.map((connection) => connection.closed));
    // Once those are gone, a client with the secret gets in.
    const client = await connect(server.port);
    expect(await client.request("echo", "in")).toBe("in");
    client.close();
  });
});

describe("a peer of this machine over its Unix socket", () => {
  test("a server gives the name of its Unix socket in the handshake; a client given it links there, not over TCP", async () => {
    const server = echoServer();
    expect(server.localName).toMatch(new RegExp(`^mosaic-${process.pid}-${server.port}-[0-9a-f]{16}$`));
    const client = await connect(server.port, secret, { socket: server.localName, machine: MACHINE_ID });
    expect(client.peer).toMatchObject({ uid: "server", port: server.port, socket: server.localName });
    expect(await client.request("echo", { over: "unix" })).toEqual({ over: "unix" });
    // Accepted on the Unix socket: Bun gives such a socket no remote address, a TCP one 127.0.0.1.
    const accepted = [...server.connections].map((connection) => connection.remoteAddress);
    expect(accepted).toEqual([undefined]);
    const overTcp = await connect(server.port);
    expect(await overTcp.request("echo", 1)).toBe(1);
    expect([...server.connections].map((connection) => connection.remoteAddress ?? "unix").sort()).toEqual(["127.0.0.1", "unix"]);
    client.close();
    overTcp.close();
  });

  test("a name nobody listens on, one whose listener drops the link, or a peer on another machine: the client links over TCP", async () => {
    const server = echoServer();
    // Someone else's socket under a name the client was given: it accepts and closes at once.
    const squatter = newLocalSocketName(server.port);
    const impostor = Bun.listen({ unix: `\0${squatter}`, socket: { open: (socket) => void socket.end(), data() {} } });
    try {
      for (const peer of [
        { socket: newLocalSocketName(server.port), machine: MACHINE_ID },
        { socket: squatter, machine: MACHINE_ID },
        { socket: server.localName, machine: "another-machine" },
        { socket: "not a name this runtime gives", machine: MACHINE_ID },
      ]) {
        const client = await connect(server.port, secret, peer);
        expect(await client.request("echo", peer.socket)).toBe(peer.socket);
        expect([...server.connections].at(-1)!.remoteAddress).toBe("127.0.0.1");
        client.close();
      }
    } finally {
      impostor.stop(true);
    }
  });

  test("a client with the wrong secret is refused on the Unix socket as over TCP", async () => {
    const server = echoServer();
    await expect(connect(server.port, "wrong", { socket: server.localName, machine: MACHINE_ID })).rejects.toBeInstanceOf(HandshakeError);
  });
});
