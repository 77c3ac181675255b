/**
 * A raw Bun TCP echo server: the baseline peer for the ping benchmark.
 * Listens on 127.0.0.1, port 0, prints its port on stdout, echoes every byte
 * back (partial-write-safe), and exits when its stdin closes (the parent is
 * gone) or on SIGTERM.
 */
import type { Socket } from "bun";
import { HOST, serveUntilParentGone } from "../_raw.ts";

interface EchoState {
  queue: Uint8Array[];
}

function flush(socket: Socket<EchoState>): void {
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

const listener = Bun.listen<EchoState>({
  hostname: HOST,
  port: 0,
  socket: {
    open(socket) {
      socket.data = { queue: [] };
    },
    data(socket, chunk) {
      // Chunks are fresh for every callback, so they can be queued as they are.
      socket.data.queue.push(chunk);
      if (socket.data.queue.length === 1) flush(socket);
    },
    drain(socket) {
      flush(socket);
    },
  },
});

await serveUntilParentGone(listener);
