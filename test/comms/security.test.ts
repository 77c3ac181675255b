import { describe, expect, test } from "bun:test";
import type { ConnectionHandler } from "../../src/comms/connection.ts";
import { connectTcp } from "../../src/comms/transports/tcp.ts";
import { HandshakeError, UnknownMethodError } from "../../src/errors.ts";
import { expectTreeGone, pingThroughHead, readyTree, type SpawnedProcess, spawnFixture } from "../_helpers/processes.ts";

const intruderHandler: ConnectionHandler = {
  onRequest: (_connection, method) => {
    throw new UnknownMethodError(method, "intruder");
  },
  onCommand() {},
};

/** Closes the head fixture's stdin and checks that the tree stops cleanly. */
async function stopHead(head: SpawnedProcess, tree: Awaited<ReturnType<typeof readyTree>>): Promise<void> {
  head.closeStdin();
  expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
  await expectTreeGone(tree, { within: 0 });
}

describe("a runtime's port", () => {
  test("refuses a client with the wrong secret, on every runtime of the tree, and the runtime keeps serving", async () => {
    await using head = spawnFixture("head-fixture.ts");
    const tree = await readyTree(head);

    for (const target of tree.runtimes) {
      // The intruder even claims to be the head: the uid proves nothing without the secret.
      const failure = await connectTcp("127.0.0.1", target.port, {
        self: { uid: "head", address: "127.0.0.1", port: 0, pid: process.pid },
        secret: "made-up-secret",
        handler: intruderHandler,
        log: () => {},
      }).catch((error) => error);
      expect(failure).toBeInstanceOf(HandshakeError);
      expect(failure.message).toContain("refused the handshake");
    }
    // Each runtime logs the refusal; the head shows it with that runtime's prefix.
    for (const target of tree.runtimes) {
      const prefix = target.uid.toUpperCase();
      await head.waitForLine(new RegExp(`^${prefix}\\s+dropping unauthenticated peer.*did not prove the cluster secret`), { stream: "stderr" });
    }

    expect((await pingThroughHead(head)).toSorted()).toEqual(["worker:0:0", "worker:0:1"]);
    await stopHead(head, tree);
  });

  test("disconnects a client that sends garbage, and the runtime keeps serving", async () => {
    await using head = spawnFixture("head-fixture.ts");
    const tree = await readyTree(head);
    const garbage = [
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
      new Uint8Array([0xff, 0xff, 0xff, 0x7f, 9, 1, 2, 3]),
      // A well-formed frame whose body is not a message tuple.
      new Uint8Array([3, 0, 0, 0, 1, 0xa2, 0x68, 0x69]),
    ];

    for (const worker of tree.workers) {
      for (const bytes of garbage) {
        const closed = Promise.withResolvers<void>();
        const socket = await Bun.connect({
          hostname: "127.0.0.1",
          port: worker.port,
          socket: { data() {}, close: () => closed.resolve() },
        });
        socket.write(bytes);
        await closed.promise;
      }
    }
    await head.waitForLine(/^WORKER:0:0\s+dropping unauthenticated peer/, { stream: "stderr" });

    expect((await pingThroughHead(head)).toSorted()).toEqual(["worker:0:0", "worker:0:1"]);
    await stopHead(head, tree);
  });
});
