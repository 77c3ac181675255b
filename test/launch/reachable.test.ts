import { describe, expect, test } from "bun:test";
import { runtimeReachable } from "../../src/launch/reachable.ts";

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
