/**
 * A bare Bun process for the idle-memory baseline: imports nothing, says it
 * runs, and sleeps until its parent ends it (SIGTERM) or is gone. No stdin
 * stream: reading one loads Bun's stream code, ~8 MiB more than a bare process.
 */
const parent = process.ppid;
process.stdout.write("up\n");
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000);
