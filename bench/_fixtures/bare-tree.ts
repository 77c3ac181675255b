/**
 * The floor of a runtime's start on this machine: the same tree of Bun
 * processes as `mosaic.init({ numWorkers: 2 })` makes (head → monitor → node →
 * 2 workers), each importing nothing but doing what the tree's start must do:
 * listen on loopback, start its children (passing its port), connect to its
 * parent, and say "ready" up the tree once every child has said it. The bench
 * (runtime.bench.ts) is the head: it listens, starts the monitor with
 * `bare-tree.ts monitor <port>` and times until the monitor's "ready".
 *
 * A process ends when its parent's connection closes (or its parent is gone),
 * taking its children with it, as the runtime's do.
 */
import type { Socket, Subprocess } from "bun";

const [role, parentPortText] = process.argv.slice(2);
const parentPort = Number(parentPortText);
const CHILDREN: Record<string, string[]> = { monitor: ["node"], node: ["worker", "worker"], worker: [] };
const kinds = CHILDREN[role ?? ""];
if (!kinds || !Number.isInteger(parentPort)) throw new Error(`usage: bare-tree.ts monitor|node|worker <parent port>, got ${process.argv.slice(2).join(" ")}`);

const spawned: Subprocess[] = [];
let parent: Socket | undefined;
let waiting = kinds.length;
let told = false;

function end(): never {
  for (const child of spawned) child.kill();
  process.exit(0);
}

function tellParent(): void {
  if (told || waiting > 0 || !parent) return;
  told = true;
  parent.write("ready\n");
}

const server = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(_socket, data) {
      // Each child says "ready" once, on a connection of its own.
      for (const line of data.toString().split("\n")) if (line === "ready") waiting--;
      tellParent();
    },
  },
});
for (const kind of kinds) {
  spawned.push(Bun.spawn([process.execPath, import.meta.path, kind, String(server.port)], { stdin: "pipe", stdout: "inherit", stderr: "inherit" }));
}
parent = await Bun.connect({
  hostname: "127.0.0.1",
  port: parentPort,
  socket: { data() {}, close: end, error: end },
});
tellParent();
// The parent gone without closing (SIGKILL): its pid changes.
const parentPid = process.ppid;
setInterval(() => process.ppid !== parentPid && end(), 500);
