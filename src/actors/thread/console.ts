/**
 * Console output of tessera methods travels with their completions, so the
 * head prints a method's lines before it learns that the method is done.
 */
import { setUserLogSink } from "../../logging/user-logger.ts";
import { sendLog } from "./outbox.ts";
import { threadData } from "./thread-data.ts";

export function captureConsole(): void {
  // mosaic.logger's lines travel as console lines do, with their level; the worker's level drops the rest here.
  setUserLogSink(sendLog, threadData?.logLevel ?? 3);
  // node:util when a method first writes (a new thread would spend ~0.7 ms loading it).
  let format: typeof import("node:util").format | undefined;
  const capture = (stream: "stdout" | "stderr") => (...args: unknown[]) => sendLog(stream, (format ??= (require("node:util") as typeof import("node:util")).format)(...args));
  console.log = console.info = console.debug = capture("stdout");
  console.warn = console.error = capture("stderr");
}
