/**
 * A bare Bun process for the idle-memory baseline: imports nothing, says it
 * runs, and sleeps until its parent ends it (SIGTERM) or is gone. console.log,
 * not process.stdout.write, and no stdin stream: Node's stream classes behind
 * process.stdout would add ~7 MiB to what a bare process holds.
 */
const parent = process.ppid;
console.log("up");
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000);
