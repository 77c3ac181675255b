// A Worker thread that imports nothing: says it runs (runtime.bench.ts, first tessera baseline).
postMessage(1);
