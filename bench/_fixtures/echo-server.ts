/**
 * A raw Bun TCP echo server: the baseline peer for the ping benchmark.
 * Listens on 127.0.0.1, port 0, prints its port on stdout, echoes every byte
 * back (partial-write-safe), and exits when its stdin closes (the parent is
 * gone) or on SIGTERM. On Linux it also echoes on a Unix socket (echoUnixName).
 */
import { echoUnixName, listenEcho, serveUntilParentGone } from "../_raw.ts";

// Beside it, the same echo on a Unix socket (the transport of runtimes of one machine): a second baseline.
const unix = process.platform === "linux" ? listenEcho(undefined, echoUnixName(process.pid)) : undefined;
process.on("exit", () => unix?.stop(true));
await serveUntilParentGone(listenEcho());
