/**
 * What the head shows while the runtime starts: which nodes have joined, with
 * how many workers. On a terminal it is one line that updates in place (on
 * stderr, so stdout stays the program's); otherwise, and in the log files,
 * one plain line per node. Colour only on a terminal, and never with NO_COLOR.
 */
import type { ConsolaReporter } from "consola/core";

export interface ProgressOutput {
  /** Whether the output is a terminal: one line updated in place instead of a line per event. */
  isTTY: boolean;
  /** Whether colour codes may be used (a terminal, NO_COLOR unset). */
  colour: boolean;
  /** Writes raw text (the updating line). */
  write(text: string): void;
  /** Prints a plain line through the head's logger. */
  line(text: string): void;
}

/** The process's stderr as a ProgressOutput, through `line` for the plain lines. */
export function terminalOutput(line: (text: string) => void, env: Record<string, string | undefined> = process.env): ProgressOutput {
  const isTTY = process.stderr.isTTY === true;
  return { isTTY, colour: isTTY && !env.NO_COLOR, write: (text) => void process.stderr.write(text), line };
}

const ERASE = "\r\x1b[2K";
const green = (text: string) => `\x1b[32m${text}\x1b[39m`;

export class StartProgress {
  readonly #output: ProgressOutput;
  readonly #nodes: number;
  readonly #workersPerNode: number;
  readonly #started = performance.now();
  #joined: { node: string; host: string | undefined; workers: number }[] = [];
  #drawn = false;
  #over = false;

  constructor(output: ProgressOutput, nodes: number, workersPerNode: number) {
    this.#output = output;
    this.#nodes = nodes;
    this.#workersPerNode = workersPerNode;
    if (output.isTTY) this.#draw();
  }

  /**
   * A reporter to put before the head's own: a log line printed while the
   * progress line is drawn erases it first and redraws it after.
   */
  reporter(): ConsolaReporter {
    return {
      log: () => {
        if (!this.#drawn) return;
        this.#erase();
        queueMicrotask(() => this.#draw());
      },
    };
  }

  #counts(): string {
    const workers = this.#joined.reduce((sum, one) => sum + one.workers, 0);
    return `${this.#joined.length} of ${this.#nodes} node${this.#nodes === 1 ? "" : "s"}, ${workers} of ${this.#nodes * this.#workersPerNode} workers up`;
  }

  nodeJoined(node: string, host: string | undefined, workers: number): void {
    if (this.#over) return;
    this.#joined.push({ node, host, workers });
    if (this.#output.isTTY) this.#draw();
    else this.#output.line(`${node}${host ? ` on ${host}` : ""} joined with ${workers} worker${workers === 1 ? "" : "s"}: ${this.#counts()}`);
  }

  /** The runtime is up (or failed to start: `ok` false). */
  finish(ok: boolean): void {
    if (this.#over) return;
    this.#over = true;
    this.#erase();
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(2);
    const workers = this.#joined.reduce((sum, one) => sum + one.workers, 0);
    if (ok) this.#output.line(`started in ${seconds} s: ${this.#joined.length} node${this.#joined.length === 1 ? "" : "s"}, ${workers} worker${workers === 1 ? "" : "s"}`);
  }

  #draw(): void {
    if (this.#over || !this.#output.isTTY) return;
    const hosts = [...new Set(this.#joined.map((one) => one.host).filter(Boolean))];
    const text = `starting: ${this.#counts()}${hosts.length ? ` (hosts ${hosts.join(", ")})` : ""}`;
    this.#output.write(`${ERASE}${this.#output.colour ? green(text) : text}`);
    this.#drawn = true;
  }

  #erase(): void {
    if (!this.#drawn) return;
    this.#output.write(ERASE);
    this.#drawn = false;
  }
}
