/**
 * The data-transfer benchmark (data.bench.ts) with shared memory off
 * (MOSAIC_SHARED_MEMORY=0): every payload goes over the sockets, as between
 * nodes on different machines, and the targets are against the raw Bun TCP
 * bulk transfer of the same run (ratio >= 0.7). Its metrics carry a `tcp_`
 * prefix. A process of its own, so that the environment reaches the runtime's
 * children and no pool of the shared-memory run is still warm.
 */
import { join } from "node:path";

const child = Bun.spawn([process.execPath, join(import.meta.dir, "data.bench.ts")], {
  env: { ...process.env, MOSAIC_SHARED_MEMORY: "0" },
  stdin: "ignore",
  stdout: "inherit",
  stderr: "inherit",
});
// Killed with us: the runtime's children notice their parent's pipe closing and exit too.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill("SIGKILL"));
process.exitCode = await child.exited;
