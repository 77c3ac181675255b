/**
 * A launched process's output as lines: chunks split at newlines, a last line
 * without one kept too, the most recent stderr lines remembered to explain an
 * exit. Shared by every launcher so that all of them hand the sink the same.
 */
import { cutAt, cutMarker, MAX_ERROR_TEXT } from "../errors.ts";
import type { LineSink } from "./launcher.ts";

/**
 * Characters of one line of output relayed: 1 MiB, as for a tessera's console
 * lines (outbox.ts, MAX_LOG_TEXT). The rest of a longer line is counted, not
 * kept, and the line goes on with a marker saying how much was cut: a line of
 * hundreds of MiB would be joined chunk by chunk (quadratic) and then break
 * the frame limit of the link it is relayed on.
 */
const MAX_LINE = MAX_ERROR_TEXT;

/** The line being read, kept up to MAX_LINE characters. */
class LineBuffer {
  #text = "";
  #cut = 0;

  get empty(): boolean {
    return this.#text.length === 0 && this.#cut === 0;
  }

  add(piece: string): void {
    if (this.#cut === 0 && this.#text.length + piece.length <= MAX_LINE) {
      this.#text += piece;
      return;
    }
    const kept = this.#cut === 0 ? cutAt(piece, MAX_LINE - this.#text.length) : 0;
    this.#text += piece.slice(0, kept);
    this.#cut += piece.length - kept;
  }

  /** The lines `text` ends (the buffered one first); its last part stays buffered. */
  take(text: string): string[] {
    if (this.#cut === 0 && this.#text.length + text.length <= MAX_LINE) {
      // Every line of it fits: one split, as for any output of ordinary lines.
      const lines = (this.#text + text).split("\n");
      this.#text = lines.pop()!;
      return lines;
    }
    const lines: string[] = [];
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      lines.push(this.end(text.slice(start, end)));
      start = end + 1;
    }
    this.add(text.slice(start));
    return lines;
  }

  /** The line, ended by `piece`; the buffer starts the next one. */
  end(piece: string): string {
    this.add(piece);
    const line = this.#cut === 0 ? this.#text : `${this.#text}${cutMarker(this.#cut)}`;
    this.#text = "";
    this.#cut = 0;
    return line;
  }
}

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
    const line = new LineBuffer();
    const emit = (lines: string[]) => {
      const kept = filter ? filter(lines) : lines;
      if (kept.length > 0) this.#emit(name, kept);
    };
    for await (const chunk of stream) {
      const lines = line.take(decoder.decode(chunk, { stream: true }));
      if (lines.length > 0) emit(lines);
    }
    line.add(decoder.decode());
    if (!line.empty) emit([line.end("")]);
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
