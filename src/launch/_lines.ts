/**
 * A launched process's output as lines: chunks split at newlines, a last line
 * without one kept too, the most recent stderr lines remembered to explain an
 * exit. Shared by every launcher so that all of them hand the sink the same.
 */
import type { LineSink } from "./launcher.ts";

/** Lines of stderr kept to explain a child that dies during start-up. */
const STDERR_TAIL = 20;

export class LineOutput {
  readonly stderrTail: string[] = [];
  readonly #uid: string;
  readonly #sink: LineSink;

  constructor(uid: string, sink: LineSink) {
    this.#uid = uid;
    this.#sink = sink;
  }

  /**
   * Reads `stream` to its end; `filter` may take lines out of stderr (a
   * launcher's own in-band messages) before they reach the sink.
   */
  async pump(stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr", filter?: (lines: string[]) => string[]): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    const emit = (lines: string[]) => {
      const kept = filter ? filter(lines) : lines;
      if (kept.length > 0) this.#emit(name, kept);
    };
    for await (const chunk of stream) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
      partial = lines.pop()!;
      if (lines.length > 0) emit(lines);
    }
    partial += decoder.decode();
    if (partial.length > 0) emit([partial]);
  }

  /** "; last stderr lines: ..." for describeExit(), or "" when there were none. */
  describeTail(): string {
    return this.stderrTail.length > 0 ? `; last stderr lines:\n  ${this.stderrTail.join("\n  ")}` : "";
  }

  #emit(name: "stdout" | "stderr", lines: string[]): void {
    if (name === "stderr") {
      this.stderrTail.push(...lines);
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - STDERR_TAIL));
    }
    this.#sink(this.#uid, name, lines);
  }
}

/** The words of how a launched runtime ended, for describeExit(). */
export function describeHow(exit: { code: number | null; signal: string | null }, killedBecause: string | undefined): string {
  if (killedBecause) return `was killed by its parent: ${killedBecause}`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
