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

  test("the cluster's head, proving the cluster secret, is alive", async () => {
    const head = mosaicServer("head", secret);
    try {
      expect(await clusterRuntimeAlive({ uid: "head", address: "127.0.0.1", port: head.port }, asker, secret, 10_000)).toBe(true);
    } finally {
      head.stop();
    }
  });

  // The head's port may be taken by another program once the head is gone (a restarted
  // program with the same fixed port, another cluster): its segments are then ours to remove.
  test("another cluster's head on the port (another secret) is not", async () => {
    const other = mosaicServer("head", createSecret());
    try {
      expect(await clusterRuntimeAlive({ uid: "head", address: "127.0.0.1", port: other.port }, asker, secret, 10_000)).toBe(false);
    } finally {
      other.stop();
    }
  });

  test("a runtime of the cluster that is not the one asked for is not", async () => {
    const node = mosaicServer("node:0", secret);
    try {
      expect(await clusterRuntimeAlive({ uid: "head", address: "127.0.0.1", port: node.port }, asker, secret, 10_000)).toBe(false);
    } finally {
      node.stop();
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
