/**
 * A daemon a test started (sshd, munged, slurmctld...), run in the foreground
 * as this process's child so that it is stopped by its own pid, never by name.
 */
import type { Subprocess } from "bun";

export class Daemon {
  readonly name: string;
  readonly process: Subprocess<"ignore", "pipe", "pipe">;
  readonly output: string[] = [];
  #waiters: { pattern: RegExp; resolve: () => void }[] = [];

  constructor(name: string, command: string[], env: Record<string, string> = {}) {
    this.name = name;
    this.process = Bun.spawn(command, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    void this.#collect(this.process.stdout);
    void this.#collect(this.process.stderr);
  }

  get pid(): number {
    return this.process.pid;
  }

  /** Resolves when the daemon has printed a line matching `pattern`; fails if it exits first or after `timeout`. */
  async printed(pattern: RegExp, timeout = 15_000): Promise<void> {
    if (this.output.some((line) => pattern.test(line))) return;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ pattern, resolve });
    const timer = setTimeout(() => reject(new Error(`${this.name} printed no line matching ${pattern} within ${timeout} ms:\n${this.output.join("\n")}`)), timeout);
    this.process.exited.then((code) => reject(new Error(`${this.name} exited (${code}) before printing ${pattern}:\n${this.output.join("\n")}`)));
    try {
      await promise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL if it has not ended within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.process.kill("SIGKILL"), graceMs);
    await this.process.exited;
    clearTimeout(timer);
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        this.output.push(line);
        for (const waiter of this.#waiters) if (waiter.pattern.test(line)) waiter.resolve();
      }
    }
  }
}
