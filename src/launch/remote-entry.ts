/**
 * The launch entry: the first program a remote launch runs on the other host
 * (remote-protocol.ts says what travels). It reads the preamble, starts the
 * runtime with that environment and a stdin pipe of its own, relays control
 * lines as signals, closes the runtime's stdin when the session's ends, and
 * reports the runtime's exit on stderr before it exits itself.
 */
import { existsSync } from "node:fs";
import { SECRET_ENV } from "../comms/handshake.ts";
import type { ChildExit } from "./launcher.ts";
import { askToStop, WATCH_PARENT_ENV } from "./parent-watch.ts";
import { decodePreamble, exitLine, type LaunchPreamble } from "./remote-protocol.ts";

/** Runs `command` as the launched runtime; resolves with the exit code the entry itself should end with. */
export async function runRemoteEntry(command: string[]): Promise<number> {
  const reader = lineReader(Bun.stdin.stream());
  const first = await reader.next();
  if (first.done) return 0; // the launching side went away before saying anything: nothing to run
  let preamble: LaunchPreamble;
  try {
    preamble = decodePreamble(first.value);
  } catch (error) {
    process.stderr.write(`mosaic launch entry: ${(error as Error).message}\n`);
    return 2;
  }
  if (command.length === 0) {
    process.stderr.write("mosaic launch entry: no program to run\n");
    return 2;
  }
  const runtime = Bun.spawn(command, {
    cwd: preamble.cwd && existsSync(preamble.cwd) ? preamble.cwd : undefined,
    stdin: "pipe",
    stdout: "inherit",
    stderr: "pipe",
    env: { ...process.env, ...preamble.env, [SECRET_ENV]: preamble.secret, [WATCH_PARENT_ENV]: "1" },
  });
  // srun forwards the signals it gets to its task, which is this entry: they are for the runtime.
  // SIGTERM is followed by SIGCONT (askToStop): a stopped runtime acts on it at once, as it would on its launcher's own terminate().
  for (const signal of ["SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const) process.on(signal, () => runtime.kill(signal));
  process.on("SIGTERM", () => askToStop(runtime));
  const stderrDone = relay(runtime.stderr);
  void (async () => {
    for (;;) {
      const line = await reader.next();
      if (line.done) break;
      if (line.value === "term") askToStop(runtime);
      else if (line.value === "kill") runtime.kill("SIGKILL");
    }
    // The launching side is gone: the runtime's parent watch sees EOF (continued, if it was stopped), and gets a
    // grace to end its own children.
    runtime.stdin.end();
    runtime.kill("SIGCONT");
    setTimeout(() => runtime.kill("SIGKILL"), preamble.orphanGraceMs).unref();
  })();
  await runtime.exited;
  const endedWithNewline = await stderrDone;
  const exit: ChildExit = { code: runtime.signalCode ? null : runtime.exitCode, signal: runtime.signalCode?.toString() ?? null };
  // Written after the runtime's last stderr byte (same pipe, in order); the callback says it left.
  await new Promise<void>((resolve) => process.stderr.write(`${endedWithNewline ? "" : "\n"}${exitLine(preamble.nonce, exit)}\n`, () => resolve()));
  return 0;
}

/** Copies the runtime's stderr to ours; resolves whether it ended at a line's end (or was empty). */
async function relay(stream: ReadableStream<Uint8Array>): Promise<boolean> {
  let last = 10;
  for await (const chunk of stream) {
    if (chunk.length === 0) continue;
    last = chunk[chunk.length - 1]!;
    process.stderr.write(chunk);
  }
  return last === 10;
}

/** Lines of a stream, read as they come. */
async function* lineReader(stream: ReadableStream<Uint8Array>): AsyncGenerator<string, void> {
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of stream) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop()!;
    yield* lines;
  }
}
