/**
 * The piscina peer's task (bench/usage.bench.ts): one exported function, run
 * on piscina's worker threads in the benchmark's own process. `noop` returns
 * 1; `add` returns x + 1; `sum` reads every 4096th element of the array it was handed (moved, with
 * a transfer list); `get` returns an array of `n` elements that the thread
 * keeps (made at its first `get` there), copied by structured clone as a
 * result that its thread keeps must be.
 */
let kept: Float32Array | undefined;

export default function task(input: { op: "noop" } | { op: "add"; x: number } | { op: "sum"; values: Float32Array } | { op: "get"; n: number }): unknown {
  switch (input.op) {
    case "noop":
      return 1;
    case "add":
      return input.x + 1;
    case "sum": {
      const values = input.values;
      let total = 0;
      for (let i = 0; i < values.length; i += 4096) total += values[i]!;
      return total + values[values.length - 1]!;
    }
    case "get":
      if (kept?.length !== input.n) kept = new Float32Array(input.n).fill(1);
      return kept;
  }
}
