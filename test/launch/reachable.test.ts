import { describe, expect, test } from "bun:test";
import { createSecret } from "../../src/comms/handshake.ts";
import { TcpServer } from "../../src/comms/transports/tcp.ts";
import { clusterRuntimeAlive, runtimeReachable } from "../../src/launch/reachable.ts";

/** A listener on loopback; `greet`: it speaks first, as a Mosaic server does (its handshake challenge). */
function listen(greet: boolean) {
  return Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        if (greet) socket.write("challenge");
      },
      data() {},
    },
  });
}

describe("runtimeReachable", () => {
  test("a runtime that answers is reachable", async () => {
    const server = listen(true);
    try {
      expect(await runtimeReachable("127.0.0.1", server.port, 10_000)).toBe(true);
    } finally {
      server.stop(true);
    }
  });

  test("a port nobody listens on any more is not", async () => {
    const server = listen(true);
    const port = server.port;
    server.stop(true);
    expect(await runtimeReachable("127.0.0.1", port, 10_000)).toBe(false);
  });

  test("a runtime that accepts but does not answer in time (its program blocks) counts as reachable", async () => {
    const server = listen(false);
    try {
      expect(await runtimeReachable("127.0.0.1", server.port, 200)).toBe(true);
    } finally {
      server.stop(true);
    }
  });
});

/** A Mosaic server (the real handshake) of the cluster whose secret is `secret`. */
function mosaicServer(uid: string, secret: string) {
  return new TcpServer("127.0.0.1", 0, {
    self: { uid, address: "127.0.0.1", pid: process.pid, machine: "test" },
    secret,
    handler: { onRequest: () => null, onCommand: () => {} },
    log: () => {},
  });
}

describe("clusterRuntimeAlive", () => {
  const secret = createSecret();
  const asker = { uid: "worker:0:0", address: "127.0.0.1", port: 0, pid: process.pid, machine: "test" };

  // The head's port may be taken by another program once the head is gone (a restarted program with the same
  // fixed port, another cluster): its segments are then ours to remove. Only the head proving our secret is alive.
  test.each([
    ["the cluster's head, proving the cluster secret, is alive", "head", secret, true],
    ["another cluster's head on the port (another secret) is not", "head", createSecret(), false],
    ["a runtime of the cluster that is not the one asked for is not", "node:0", secret, false],
  ] as const)("%s", async (_name, uid, serverSecret, alive) => {
    const server = mosaicServer(uid, serverSecret);
    try {
      expect(await clusterRuntimeAlive({ uid: "head", address: "127.0.0.1", port: server.port }, asker, secret, 10_000)).toBe(alive);
    } finally {
      server.stop();
    }
  });

  test("a program that speaks something else on the port is not", async () => {
    const server = listen(true);
    try {
      expect(await clusterRuntimeAlive({ uid: "head", address: "127.0.0.1", port: server.port }, asker, secret, 10_000)).toBe(false);
    } finally {
      server.stop(true);
    }
  });

  test("a port nobody listens on any more is not", async () => {
    const head = mosaicServer("head", secret);
    const port = head.port;
    head.stop();
    expect(await clusterRuntimeAlive({ uid: "head", address: "127.0.0.1", port }, asker, secret, 10_000)).toBe(false);
  });

  test("a head that accepts but does not answer in time (its program blocks) is alive", async () => {
    const server = listen(false);
    try {
      expect(await clusterRuntimeAlive({ uid: "head", address: "127.0.0.1", port: server.port }, asker, secret, 200)).toBe(true);
    } finally {
      server.stop(true);
    }
  });
});
