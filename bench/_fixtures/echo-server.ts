/**
 * A raw Bun TCP echo server: the baseline peer for the ping benchmark.
 * Listens on 127.0.0.1, port 0, prints its port on stdout, echoes every byte
 * back (partial-write-safe), and exits when its stdin closes (the parent is
 * gone) or on SIGTERM.
 */
import { listenEcho, serveUntilParentGone } from "../_raw.ts";

await serveUntilParentGone(listenEcho());
