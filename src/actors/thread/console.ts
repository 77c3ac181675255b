/**
 * Console output of tessera methods travels with their completions, so the
 * head prints a method's lines before it learns that the method is done.
 */
import { format } from "node:util";
import { sendLog } from "./outbox.ts";

export function captureConsole(): void {
  const capture = (stream: "stdout" | "stderr") => (...args: unknown[]) => sendLog(stream, format(...args));
  console.log = console.info = console.debug = capture("stdout");
  console.warn = console.error = capture("stderr");
}
